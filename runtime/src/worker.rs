//! Workers: `flowgen run` on several processes or machines sharing one state store split the
//! work by leases on work items (see [`crate::state::leases`]).
//!
//! A work item is one shard of one source entity. A worker registers every item of its
//! flows, announces itself, and in each pass takes its share of the items (the items divided
//! by the live workers, rounded up), gives back what it holds beyond that, and runs the
//! engine over each item it holds ([`Engine::sync_item`]) in the engine's entity order,
//! rebalancing between items so that a worker that starts late gets work within one item's
//! run. A background task renews the leases and the announcement every third of the lease
//! TTL. A worker that dies stops renewing: once its leases expire the others take its items
//! over, and its open create intents are reconciled by the new holders. A worker stopping
//! gracefully finishes its page, commits it, gives its leases back and retires.
//!
//! Each pass with items is recorded as a run; its report holds the worker, the items with
//! the time each was worked on, and the merged counts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::{Engine, EngineError, ItemScope, RunReport, Stop};
use crate::state::leases::{Lease, LeaseError, WorkItem};
use crate::state::{Leases, StateError};

/// The most shards per entity a state may have (PostgreSQL stores shards as `INTEGER`; more
/// than this many items per entity would only cost reads).
pub const MAX_SHARDS: u32 = 1024;

/// How a worker splits and paces its work.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerConfig {
    /// Shards per entity; every worker of one state must use the same count.
    pub shards: u32,
    /// How long a lease lasts without a heartbeat (heartbeats come every third of it).
    pub lease_ttl: Duration,
    /// The pause between passes.
    pub poll_interval: Duration,
    /// Stop after this many passes (`None`: until stopped).
    pub max_passes: Option<u64>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            shards: 8,
            lease_ttl: Duration::from_secs(30),
            poll_interval: Duration::from_secs(30),
            max_passes: None,
        }
    }
}

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "the state holds {found} shards of {entity}, this worker was started with {configured}: \
         all workers of one state must agree (set `run.shards: {found}` in flowgen.yaml, or \
         pass --shards {found})"
    )]
    ShardsDiffer {
        entity: String,
        found: u32,
        configured: u32,
    },
    #[error("shards: {0} is out of range (1 to {MAX_SHARDS})")]
    Shards(u32),
    #[error("lease TTL: {0:?} is too short (at least 1 s: heartbeats come every third of it)")]
    LeaseTtl(Duration),
}

/// What a worker did with one item in one pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRun {
    /// `System/Entity shard N`.
    pub item: String,
    pub token: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub read: u64,
    pub writes: u64,
    pub still_deferred: usize,
    /// Why the run over the item stopped early (its last page was not committed).
    pub error: Option<String>,
}

/// What one pass of a worker did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassReport {
    pub worker: String,
    pub pass: u64,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Live workers at the start of the pass (this one included).
    pub workers: usize,
    pub items: Vec<ItemRun>,
    /// The item runs' counts added up.
    pub report: RunReport,
    /// Failures of the pass itself (the lease table unreachable, …); it goes on next pass.
    pub errors: Vec<String>,
}

impl PassReport {
    /// The report as recorded in the run history: the counts with the worker's details.
    pub fn to_json(&self) -> serde_json::Value {
        let mut json = serde_json::to_value(&self.report).unwrap_or_default();
        if let Some(object) = json.as_object_mut() {
            object.insert("worker".into(), self.worker.clone().into());
            object.insert("pass".into(), self.pass.into());
            object.insert("workers".into(), self.workers.into());
            object.insert(
                "items".into(),
                serde_json::to_value(&self.items).unwrap_or_default(),
            );
            object.insert(
                "errors".into(),
                serde_json::to_value(&self.errors).unwrap_or_default(),
            );
        }
        json
    }
}

/// One worker over an engine and the leases of its state store.
#[derive(Debug)]
pub struct Worker {
    engine: Arc<Engine>,
    leases: Arc<dyn Leases>,
    holder: String,
    config: WorkerConfig,
    /// Every item of the engine's flows, in the engine's entity order, then by shard.
    items: Vec<WorkItem>,
    held: Arc<Mutex<Vec<Lease>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn add_reports(total: &mut RunReport, report: &RunReport) {
    for (name, c) in &report.flows {
        let t = total.flows.entry(name.clone()).or_default();
        t.read += c.read;
        t.created += c.created;
        t.updated += c.updated;
        t.linked += c.linked;
        t.unchanged += c.unchanged;
        t.skipped += c.skipped;
        t.deferred += c.deferred;
        t.dead_lettered += c.dead_lettered;
        t.conflicts += c.conflicts;
        t.writes += c.writes;
    }
    total.still_deferred += report.still_deferred;
    total.read_errors.extend(report.read_errors.iter().cloned());
    total.reconciled_intents += report.reconciled_intents;
}

fn same_lease(a: &Lease, b: &Lease) -> bool {
    a.item == b.item && a.token == b.token
}

impl Worker {
    /// A worker named `holder` (see [`crate::state::leases::worker_id`]).
    pub fn new(
        engine: Arc<Engine>,
        leases: Arc<dyn Leases>,
        holder: impl Into<String>,
        config: WorkerConfig,
    ) -> Result<Worker, WorkerError> {
        if config.shards == 0 || config.shards > MAX_SHARDS {
            return Err(WorkerError::Shards(config.shards));
        }
        if config.lease_ttl < Duration::from_secs(1) {
            return Err(WorkerError::LeaseTtl(config.lease_ttl));
        }
        let topology = engine.topology();
        // An order may name an entity twice (read again later); it is one work item each
        // shard all the same, or the workers' shares would count items that do not exist.
        let mut seen = HashSet::new();
        let items = topology
            .order
            .iter()
            .filter(|e| seen.insert(**e) && topology.from_entity(**e).next().is_some())
            .flat_map(|e| (0..config.shards).map(|shard| WorkItem::new(e.system, e.entity, shard)))
            .collect();
        Ok(Worker {
            engine,
            leases,
            holder: holder.into(),
            config,
            items,
            held: Arc::new(Mutex::new(Vec::new())),
        })
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Every work item of this worker's flows.
    pub fn items(&self) -> &[WorkItem] {
        &self.items
    }

    /// The leases held now.
    pub fn held(&self) -> Vec<Lease> {
        lock(&self.held).clone()
    }

    /// Runs passes until `stop` is requested (or `max_passes`), calling `on_pass` after each
    /// pass that worked on items; then gives the leases back. Returns the passes made.
    pub async fn run(
        &self,
        stop: Arc<Stop>,
        mut on_pass: impl FnMut(&PassReport),
    ) -> Result<u64, WorkerError> {
        self.register().await?;
        self.leases
            .announce(&self.holder, self.config.lease_ttl)
            .await?;
        let heartbeat = tokio::spawn(heartbeats(
            Arc::clone(&self.leases),
            self.holder.clone(),
            Arc::clone(&self.held),
            self.config.lease_ttl,
        ));
        let mut passes = 0;
        while !stop.is_requested() {
            passes += 1;
            let report = self.pass(passes, &stop).await;
            if !report.items.is_empty() {
                self.record(&report).await;
                on_pass(&report);
            }
            if self.config.max_passes.is_some_and(|max| passes >= max) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = stop.requested() => {}
            }
        }
        heartbeat.abort();
        // Given back at once, the items go to the other workers without waiting for expiry.
        let held = std::mem::take(&mut *lock(&self.held));
        let released = self.leases.release(&held).await;
        let retired = self.leases.retire(&self.holder).await;
        released?;
        retired?;
        Ok(passes)
    }

    /// Registers the items, refusing a shard count that differs from the state's.
    async fn register(&self) -> Result<(), WorkerError> {
        let mut known: HashMap<(String, String), u32> = HashMap::new();
        for state in self.leases.items().await? {
            let count = known
                .entry((state.item.system.clone(), state.item.entity.clone()))
                .or_default();
            *count = (*count).max(state.item.shard + 1);
        }
        for item in &self.items {
            if let Some(found) = known.get(&(item.system.clone(), item.entity.clone()))
                && *found != self.config.shards
            {
                return Err(WorkerError::ShardsDiffer {
                    entity: format!("{}/{}", item.system, item.entity),
                    found: *found,
                    configured: self.config.shards,
                });
            }
        }
        self.leases.register(&self.items).await?;
        Ok(())
    }

    /// Takes this worker's share of the items, or gives back what it holds beyond it.
    async fn rebalance(&self) -> Result<usize, StateError> {
        let workers = self.leases.workers().await?.len().max(1);
        let share = self.items.len().div_ceil(workers);
        let held = self.held();
        if held.len() > share {
            let mut sorted = held;
            sorted.sort_by(|a, b| (a.item.shard, &a.item).cmp(&(b.item.shard, &b.item)));
            let surplus = sorted.split_off(share);
            lock(&self.held).retain(|l| !surplus.iter().any(|s| same_lease(s, l)));
            self.leases.release(&surplus).await?;
        } else if held.len() < share {
            let got = self
                .leases
                .acquire(&self.holder, share - held.len(), self.config.lease_ttl)
                .await?;
            lock(&self.held).extend(got);
        }
        Ok(workers)
    }

    /// The position of an item in the engine's order.
    fn rank(&self, item: &WorkItem) -> usize {
        self.items
            .iter()
            .position(|i| i == item)
            .unwrap_or(usize::MAX)
    }

    async fn pass(&self, pass: u64, stop: &Arc<Stop>) -> PassReport {
        let started_at = Utc::now();
        let mut report = PassReport {
            worker: self.holder.clone(),
            pass,
            started_at,
            finished_at: started_at,
            workers: 1,
            items: Vec::new(),
            report: RunReport::default(),
            errors: Vec::new(),
        };
        match self.rebalance().await {
            Ok(workers) => report.workers = workers,
            Err(e) => report.errors.push(format!("taking work items: {e}")),
        }
        let live: HashSet<String> = match self.leases.workers().await {
            Ok(workers) => workers.into_iter().collect(),
            Err(e) => {
                report.errors.push(format!("listing workers: {e}"));
                // Unknown: treat every other worker as alive (their intents wait).
                return finish(report);
            }
        };
        let mut order = self.held();
        order.sort_by_key(|l| (self.rank(&l.item), l.item.shard));
        for planned in order {
            if stop.is_requested() {
                break;
            }
            // Lost to a heartbeat or given back by a rebalance since the pass began.
            let Some(lease) = self.held().into_iter().find(|l| same_lease(l, &planned)) else {
                continue;
            };
            let scope = ItemScope {
                holder: self.holder.clone(),
                leases: Arc::clone(&self.leases),
                lease: lease.clone(),
                shards: self.config.shards,
                live_workers: live.clone(),
                stop: Arc::clone(stop),
            };
            let item_started = Utc::now();
            let result = self.engine.sync_item(&scope).await;
            let mut run = ItemRun {
                item: lease.item.to_string(),
                token: lease.token,
                started_at: item_started,
                finished_at: Utc::now(),
                read: 0,
                writes: 0,
                still_deferred: 0,
                error: None,
            };
            match result {
                Ok(item_report) => {
                    let total = item_report.total();
                    run.read = total.read;
                    run.writes = total.writes;
                    run.still_deferred = item_report.still_deferred;
                    add_reports(&mut report.report, &item_report);
                }
                Err(EngineError::Lease(LeaseError::Lost { item })) => {
                    lock(&self.held).retain(|l| !same_lease(l, &lease));
                    tracing::warn!(worker = %self.holder, %item, "lease lost; the item's last page was not committed");
                    run.error = Some(format!("lease on {item} lost"));
                }
                Err(e) => {
                    tracing::warn!(worker = %self.holder, item = %lease.item, error = %e, "item run failed");
                    run.error = Some(e.to_string());
                }
            }
            report.items.push(run);
            if let Err(e) = self.rebalance().await {
                report.errors.push(format!("taking work items: {e}"));
            }
        }
        finish(report)
    }

    async fn record(&self, report: &PassReport) {
        let store = self.engine.store();
        let failed = !report.errors.is_empty() || report.items.iter().any(|i| i.error.is_some());
        let recorded = async {
            let id = store.start_run(report.started_at).await?;
            store
                .finish_run(
                    id,
                    report.finished_at,
                    if failed { "failed" } else { "ok" },
                    &report.to_json(),
                )
                .await
        };
        if let Err(e) = recorded.await {
            tracing::warn!(worker = %self.holder, error = %e, "cannot record the pass");
        }
    }
}

fn finish(mut report: PassReport) -> PassReport {
    report.finished_at = Utc::now();
    report
}

/// Renews the announcement and the leases every third of the TTL; drops lost leases.
async fn heartbeats(
    leases: Arc<dyn Leases>,
    holder: String,
    held: Arc<Mutex<Vec<Lease>>>,
    ttl: Duration,
) {
    loop {
        tokio::time::sleep(ttl / 3).await;
        if let Err(e) = leases.announce(&holder, ttl).await {
            tracing::warn!(worker = %holder, error = %e, "cannot renew the announcement");
        }
        let snapshot = lock(&held).clone();
        if snapshot.is_empty() {
            continue;
        }
        match leases.heartbeat(&snapshot, ttl).await {
            Ok(renewed) => {
                let mut current = lock(&held);
                current.retain(|l| {
                    let checked = snapshot.iter().any(|s| same_lease(s, l));
                    let kept = renewed.iter().any(|r| same_lease(r, l));
                    if checked && !kept {
                        tracing::warn!(worker = %holder, item = %l.item, "lease lost");
                    }
                    !checked || kept
                });
                for lease in current.iter_mut() {
                    if let Some(r) = renewed.iter().find(|r| same_lease(r, lease)) {
                        lease.expires_at = r.expires_at;
                    }
                }
            }
            Err(e) => tracing::warn!(worker = %holder, error = %e, "cannot renew leases"),
        }
    }
}
