//! The sync engine (DESIGN.md §5): reads the changes of every entity since its cursor, in
//! dependency order, and for each record and each direction out of its entity finds the
//! link, translates references through links (creating `when_connected` records first),
//! maps, matches before creating, writes only what changed, resolves conflicts, defers what
//! waits for a reference, and dead-letters permanent failures.
//!
//! A flow X→Y and its inverse share one link per pair of records; an undocumented inverse
//! still syncs edits back (through `inverse_json`) but never creates.

pub mod conflict;
pub mod hashing;
pub mod order;
pub mod plan;
pub mod retry;
pub mod scope;
mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use crate::connector::{Connector, ConnectorError};
use crate::flow::{EntityKey, Prefer, Registry};
use crate::state::leases::LeaseError;
use crate::state::{StateError, StateStore};

pub use order::{Direction, Pair, Topology};
pub use plan::Plan;
pub use retry::RetryPolicy;
pub use scope::{ItemScope, Stop};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Records per page read from a connector and committed per transaction.
    pub page_size: usize,
    /// `prefer` per flow name (default: newest).
    pub prefer: HashMap<String, Prefer>,
    pub retry: RetryPolicy,
    /// The order entities are read in, instead of the dependency order.
    pub entity_order: Option<Vec<EntityKey>>,
    /// How many times deferred records are retried within one run.
    pub deferral_rounds: usize,
    /// How many times a run reads again the entities it wrote to (see the engine's
    /// `settle`); 0 leaves records created late in the order for the next run.
    pub settle_rounds: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            page_size: 500,
            prefer: HashMap::new(),
            retry: RetryPolicy::default(),
            entity_order: None,
            deferral_rounds: 10,
            settle_rounds: 5,
        }
    }
}

/// A failure that stops a run (record-level failures are dead-lettered instead).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] StateError),
    /// The process was interrupted mid-request (crash injection, shutdown).
    #[error("run aborted: {0}")]
    Aborted(ConnectorError),
    #[error("no dead letter with id {0}")]
    NoSuchDeadLetter(i64),
    /// A worker's lease was lost mid-run (see [`ItemScope`]): the page was not committed.
    #[error(transparent)]
    Lease(#[from] LeaseError),
}

/// What one direction did in a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FlowCounts {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    /// Linked to an existing record by a match rule.
    pub linked: u64,
    pub unchanged: u64,
    /// Not applicable (condition), or unlinked and not to be created.
    pub skipped: u64,
    pub deferred: u64,
    pub dead_lettered: u64,
    pub conflicts: u64,
    /// Requests that changed a system (creates and updates).
    pub writes: u64,
}

impl FlowCounts {
    fn add(&mut self, other: &FlowCounts) {
        self.read += other.read;
        self.created += other.created;
        self.updated += other.updated;
        self.linked += other.linked;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.deferred += other.deferred;
        self.dead_lettered += other.dead_lettered;
        self.conflicts += other.conflicts;
        self.writes += other.writes;
    }
}

/// What a run did, per direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunReport {
    pub run_id: Option<i64>,
    pub flows: BTreeMap<String, FlowCounts>,
    /// Records still waiting for a reference at the end of the run.
    pub still_deferred: usize,
    /// Entities whose changes could not be read (the run went on without them).
    pub read_errors: Vec<String>,
    /// Open create intents reconciled at the start of the run.
    pub reconciled_intents: u64,
}

impl RunReport {
    pub fn total(&self) -> FlowCounts {
        let mut total = FlowCounts::default();
        for counts in self.flows.values() {
            total.add(counts);
        }
        total
    }

    pub fn flow(&self, name: &str) -> FlowCounts {
        self.flows.get(name).copied().unwrap_or_default()
    }
}

/// The engine over a registry, connectors per system, and a state store.
pub struct Engine {
    registry: Registry,
    topology: Topology,
    connectors: HashMap<String, Arc<dyn Connector>>,
    store: Arc<dyn StateStore>,
    options: EngineOptions,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.registry)
            .field("systems", &self.connectors.keys().collect::<Vec<_>>())
            .field("store", &self.store)
            .finish()
    }
}

impl Engine {
    /// An engine over the flows whose two systems have a connector (others are left out).
    pub fn new(
        registry: Registry,
        connectors: HashMap<String, Arc<dyn Connector>>,
        store: Arc<dyn StateStore>,
        options: EngineOptions,
    ) -> Engine {
        let topology = Topology::new(
            &registry,
            |system| connectors.contains_key(system),
            &options.prefer,
            options.entity_order.as_deref(),
        );
        Engine {
            registry,
            topology,
            connectors,
            store,
            options,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// One synchronization run: reconcile open create intents, read every entity's changes
    /// since its cursor, retry deferred records until no progress, and record the run.
    pub async fn sync_once(&self) -> Result<RunReport, EngineError> {
        let run_id = self.store.start_run(Utc::now()).await?;
        let mut ctx = sync::RunCtx::new(self, false).await?;
        let outcome = ctx.run().await;
        let mut report = ctx.into_report();
        report.run_id = Some(run_id);
        let (status, result) = match outcome {
            Ok(()) => ("ok", Ok(())),
            Err(e) => ("failed", Err(e)),
        };
        let json = serde_json::to_value(&report).unwrap_or_default();
        // A crashed run leaves its record `running`, as a real crash would; record others.
        if !matches!(result, Err(EngineError::Aborted(_))) {
            self.store
                .finish_run(run_id, Utc::now(), status, &json)
                .await?;
        }
        result.map(|()| report)
    }

    /// One run over one work item under its lease (see [`ItemScope`]): the records of one
    /// shard of one entity. Workers ([`crate::worker`]) call it and record their runs.
    pub async fn sync_item(&self, scope: &ItemScope) -> Result<RunReport, EngineError> {
        let mut ctx = sync::RunCtx::new(self, false).await?.with_scope(scope);
        ctx.run().await?;
        Ok(ctx.into_report())
    }

    /// What a run would do now, writing nothing.
    pub async fn plan(&self) -> Result<Plan, EngineError> {
        let mut ctx = sync::RunCtx::new(self, true).await?;
        ctx.run().await?;
        Ok(ctx.into_plan())
    }

    /// Re-runs dead letters (all, or the ones with these ids): each record is read again
    /// and synchronized; the ones that succeed leave the dead letters.
    pub async fn retry_dead_letters(&self, ids: Option<&[i64]>) -> Result<RunReport, EngineError> {
        let mut letters = self.store.dead_letters().await?;
        if let Some(ids) = ids {
            for id in ids {
                if !letters.iter().any(|l| l.id == *id) {
                    return Err(EngineError::NoSuchDeadLetter(*id));
                }
            }
            letters.retain(|l| ids.contains(&l.id));
        }
        let mut ctx = sync::RunCtx::new(self, false).await?;
        ctx.retry_dead_letters(letters).await?;
        Ok(ctx.into_report())
    }
}
