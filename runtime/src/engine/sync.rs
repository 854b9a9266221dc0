//! One run: the per-record algorithm of DESIGN.md §5, with a page-level link cache and one
//! store transaction per page.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use super::conflict::incoming_wins;
use super::hashing::{hash, hash_parts, hash_projected};
use super::plan::{Plan, PlannedCreate, PlannedDeferral, PlannedLink, PlannedUpdate, PropertyDiff};
use super::scope::ItemScope;
use super::{Engine, EngineError, FlowCounts, RunReport};
use crate::connector::{Connector, ConnectorError, ErrorKind, RemoteRecord};
use crate::flow::{CreatePolicy, DynFlow, EntityKey, Links, MapError, RecordId};
use crate::json_path;
use crate::state::{
    Batch, ClaimOutcome, Conflict, CreateClaim, DeadLetter, Deferral, Intent, Link, Side,
};

/// How deep `when_connected` creates may nest (a created record's own references).
const MAX_DEPTH: usize = 4;

/// What happened to one record in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Skipped,
    Unchanged,
    Updated,
    Created,
    /// A create queued for the end of the page.
    Queued,
    Linked,
    Deferred,
    DeadLettered,
}

/// Links resolved before mapping a record.
#[derive(Debug, Default)]
struct Resolved(HashMap<(EntityKey, RecordId, EntityKey), RecordId>);

impl Links for Resolved {
    fn linked(&self, from: EntityKey, id: &RecordId, to: EntityKey) -> Option<RecordId> {
        self.0.get(&(from, id.clone(), to)).cloned()
    }
}

type CacheKey = (usize, Side, RecordId);

/// The links known in this page, per (pair, side) and id (`None`: known to be unlinked).
/// Shared: a link is looked up from both sides and several directions.
type LinkCache = HashMap<(usize, Side), HashMap<RecordId, Option<Arc<Link>>>>;

pub(super) struct RunCtx<'e> {
    engine: &'e Engine,
    flows: Vec<&'e dyn DynFlow>,
    dry: bool,
    counts: Vec<FlowCounts>,
    read_errors: Vec<String>,
    reconciled: u64,
    plan: Plan,
    batch: Batch,
    batch_links: HashMap<(usize, RecordId), Arc<Link>>,
    cache: LinkCache,
    pending: Vec<(usize, Intent)>,
    pending_sources: HashSet<CacheKey>,
    deferred: Vec<(usize, RecordId, String)>,
    deferred_set: HashSet<(usize, RecordId)>,
    ever_deferred: HashSet<(usize, RecordId)>,
    known_deferred: HashSet<(String, RecordId)>,
    known_dead: HashSet<(String, RecordId)>,
    placeholders: u64,
    /// A worker's run over one work item; `None`: every record, plain commits.
    scope: Option<&'e ItemScope>,
    /// The source values of queued creates by intent key, for their claims (workers only).
    pending_data: HashMap<String, Value>,
    /// Entities this run wrote to (created or updated records in) since they were last
    /// read: their changes feeds now hold records the other flows out of them have not seen.
    written: HashSet<EntityKey>,
}

fn aborted(e: ConnectorError) -> Result<ConnectorError, EngineError> {
    if e.kind == ErrorKind::Aborted {
        Err(EngineError::Aborted(e))
    } else {
        Ok(e)
    }
}

impl<'e> RunCtx<'e> {
    pub(super) async fn new(engine: &'e Engine, dry: bool) -> Result<RunCtx<'e>, EngineError> {
        let known_deferred = engine
            .store
            .deferrals()
            .await?
            .into_iter()
            .map(|d| (d.direction, d.record_id))
            .collect();
        let known_dead = engine
            .store
            .dead_letters()
            .await?
            .into_iter()
            .map(|d| (d.direction, d.record_id))
            .collect();
        Ok(RunCtx {
            engine,
            flows: engine.registry.flows().collect(),
            dry,
            counts: vec![FlowCounts::default(); engine.topology.directions.len()],
            read_errors: Vec::new(),
            reconciled: 0,
            plan: Plan::default(),
            batch: Batch::default(),
            batch_links: HashMap::new(),
            cache: HashMap::new(),
            pending: Vec::new(),
            pending_sources: HashSet::new(),
            deferred: Vec::new(),
            deferred_set: HashSet::new(),
            ever_deferred: HashSet::new(),
            known_deferred,
            known_dead,
            placeholders: 0,
            scope: None,
            pending_data: HashMap::new(),
            written: HashSet::new(),
        })
    }

    pub(super) fn with_scope(mut self, scope: &'e ItemScope) -> Self {
        self.scope = Some(scope);
        self
    }

    fn stopping(&self) -> bool {
        self.scope.is_some_and(|s| s.stopping())
    }

    /// Whether record `id` of `entity` is this run's to process.
    fn in_scope(&self, entity: EntityKey, id: &RecordId) -> bool {
        self.scope.is_none_or(|s| s.holds(entity, id))
    }

    pub(super) fn into_report(self) -> RunReport {
        let flows = self
            .engine
            .topology
            .directions
            .iter()
            .zip(&self.counts)
            .map(|(d, c)| (d.name.clone(), *c))
            .collect::<BTreeMap<_, _>>();
        RunReport {
            run_id: None,
            flows,
            still_deferred: self.deferred.len(),
            read_errors: self.read_errors,
            reconciled_intents: self.reconciled,
        }
    }

    pub(super) fn into_plan(self) -> Plan {
        self.plan
    }

    fn connector(&self, system: &str) -> Option<&'e dyn Connector> {
        self.engine.connectors.get(system).map(|c| c.as_ref())
    }

    /// The whole run.
    pub(super) async fn run(&mut self) -> Result<(), EngineError> {
        let engine = self.engine;
        if !self.dry {
            self.reconcile_intents().await?;
        }
        for stored in engine.store.deferrals().await? {
            if let Some(di) = engine.topology.direction(&stored.direction)
                && self.in_scope(engine.topology.directions[di].from, &stored.record_id)
                && self.deferred_set.insert((di, stored.record_id.clone()))
            {
                self.deferred.push((di, stored.record_id, stored.reason));
            }
        }
        for entity in &engine.topology.order {
            if self.scope.is_some_and(|s| !s.is_entity(*entity)) {
                continue;
            }
            self.read_entity(*entity).await?;
        }
        if !self.stopping() {
            self.retry_deferred().await?;
        }
        if self.scope.is_none() && !self.dry {
            self.settle().await?;
        }
        for (di, id, reason) in &self.deferred {
            self.batch.deferred.push(Deferral {
                direction: engine.topology.directions[*di].name.clone(),
                record_id: id.clone(),
                reason: reason.clone(),
            });
        }
        self.flush().await
    }

    /// Reads again the entities this run wrote to after it had read them, until a round
    /// writes nothing: records created in a system read earlier in the order (a spoke's
    /// record created in the hub, then due in another spoke) reach every system in the same
    /// run, whatever the entity order. The re-read only sees what changed since the
    /// entity's cursor, mostly this run's own writes, which the hashes recognise as echoes.
    async fn settle(&mut self) -> Result<(), EngineError> {
        let engine = self.engine;
        for _ in 0..engine.options.settle_rounds {
            if self.written.is_empty() || self.stopping() {
                break;
            }
            let written = std::mem::take(&mut self.written);
            for entity in &engine.topology.order {
                if written.contains(entity) {
                    self.read_entity(*entity).await?;
                }
            }
            self.retry_deferred().await?;
        }
        Ok(())
    }

    async fn read_entity(&mut self, entity: EntityKey) -> Result<(), EngineError> {
        let engine = self.engine;
        // Whatever this read misses of the writes made so far is in the feed it reads.
        self.written.remove(&entity);
        let directions: Vec<usize> = engine.topology.from_entity(entity).collect();
        let Some(connector) = self.connector(entity.system) else {
            return Ok(());
        };
        if directions.is_empty() {
            return Ok(());
        }
        // A worker reads from the cursor of its shard.
        let cursor_key = match self.scope {
            Some(scope) => scope.cursor_entity(),
            None => entity.entity.to_string(),
        };
        let mut cursor = engine.store.cursor(entity.system, &cursor_key).await?;
        loop {
            let page = engine
                .options
                .retry
                .run(async || {
                    connector
                        .changes(entity.entity, cursor.as_deref(), engine.options.page_size)
                        .await
                })
                .await;
            let mut page = match page {
                Ok(page) => page,
                Err(e) => {
                    let e = aborted(e)?;
                    tracing::warn!(%entity, error = %e, "cannot read changes");
                    self.read_errors.push(format!("{entity}: {e}"));
                    return Ok(());
                }
            };
            if let Some(scope) = self.scope {
                page.records.retain(|r| scope.holds(entity, &r.id));
            }
            let ids: Vec<RecordId> = page.records.iter().map(|r| r.id.clone()).collect();
            for di in &directions {
                let d = &engine.topology.directions[*di];
                self.prefetch(d.pair, d.from_side, &ids).await?;
            }
            for record in &page.records {
                for di in &directions {
                    self.counts[*di].read += 1;
                    self.sync_record(*di, record, false, 0).await?;
                }
            }
            if let Some(next) = page.cursor {
                self.batch.cursors.push((
                    entity.system.to_string(),
                    cursor_key.clone(),
                    next.clone(),
                ));
                cursor = Some(next);
            }
            self.flush().await?;
            if !page.more || self.stopping() {
                return Ok(());
            }
        }
    }

    /// Retries deferred records until a round makes no progress.
    async fn retry_deferred(&mut self) -> Result<(), EngineError> {
        let engine = self.engine;
        for _ in 0..engine.options.deferral_rounds {
            if self.deferred.is_empty() || self.stopping() {
                break;
            }
            let queue = std::mem::take(&mut self.deferred);
            let before = queue.len();
            for (di, id, reason) in queue {
                self.deferred_set.remove(&(di, id.clone()));
                let d = &engine.topology.directions[di];
                match self.get(d.from, &id).await {
                    Ok(Some(record)) => {
                        self.sync_record(di, &record, false, 0).await?;
                    }
                    Ok(None) => {
                        // The record is gone: nothing waits any more.
                        self.resolved(di, &id);
                    }
                    Err(e) => {
                        let e = aborted(e)?;
                        if self.deferred_set.insert((di, id.clone())) {
                            self.deferred.push((di, id, format!("{reason}; {e}")));
                        }
                    }
                }
            }
            self.flush().await?;
            if self.deferred.len() >= before {
                break;
            }
        }
        Ok(())
    }

    /// Re-runs dead letters.
    pub(super) async fn retry_dead_letters(
        &mut self,
        letters: Vec<DeadLetter>,
    ) -> Result<(), EngineError> {
        let engine = self.engine;
        for letter in letters {
            let Some(di) = engine.topology.direction(&letter.direction) else {
                tracing::warn!(direction = %letter.direction, "dead letter of an unknown flow left as is");
                continue;
            };
            let d = &engine.topology.directions[di];
            match self.get(d.from, &letter.record_id).await {
                Ok(Some(record)) => {
                    self.counts[di].read += 1;
                    // A dead-lettered create of a when_connected record was a forced create.
                    let forced = d.create == CreatePolicy::WhenConnected;
                    self.sync_record(di, &record, forced, 0).await?;
                }
                Ok(None) => self.resolved(di, &letter.record_id),
                Err(e) => {
                    let e = aborted(e)?;
                    self.dead_letter(di, &letter.record_id, &letter.payload, e.to_string());
                }
            }
        }
        self.retry_deferred().await?;
        self.flush().await
    }

    /// Finishes open create intents left by a crash: replay the create with its
    /// idempotency key, or look for the record by its values, and store the link.
    async fn reconcile_intents(&mut self) -> Result<(), EngineError> {
        let engine = self.engine;
        let intents = match self.scope {
            None => engine.store.intents().await?,
            // A worker leaves the intents of live workers to them (their creates may be in
            // flight) and those of other items to their holders.
            Some(scope) => scope
                .leases
                .claimed_intents()
                .await?
                .into_iter()
                // Intents of flows this worker does not run are another configuration's.
                .filter(|c| {
                    engine
                        .topology
                        .direction(&c.intent.direction)
                        .is_some_and(|di| scope.reconciles(c, engine.topology.directions[di].from))
                })
                .map(|c| c.intent)
                .collect(),
        };
        for intent in intents {
            let Some(di) = engine.topology.direction(&intent.direction) else {
                self.batch.intents_done.push(intent.key);
                continue;
            };
            let d = &engine.topology.directions[di];
            if self
                .link(d.pair, intent.source_side, &intent.source_id)
                .await?
                .is_some()
            {
                self.batch.intents_done.push(intent.key);
                continue;
            }
            let Some(connector) = self.connector(&intent.target_system) else {
                continue;
            };
            let mut existing = None;
            if !connector.idempotent_create() {
                // A record another source is linked to already is not this create's.
                for candidate in self.find_equal(connector, d.to, &intent.payload).await? {
                    if self
                        .link(d.pair, intent.source_side.other(), &candidate.id)
                        .await?
                        .is_none()
                    {
                        existing = Some(candidate);
                        break;
                    }
                }
            }
            let record = match existing {
                Some(record) => Ok(record),
                None => {
                    engine
                        .options
                        .retry
                        .run(async || {
                            connector
                                .create(&intent.target_entity, &intent.payload, Some(&intent.key))
                                .await
                        })
                        .await
                }
            };
            match record {
                Ok(record) => {
                    let link = new_link(
                        &engine.topology.pairs[d.pair].key,
                        intent.source_side,
                        intent.source_id.clone(),
                        record.id,
                        intent.source_hash.clone(),
                        intent.target_hash.clone(),
                    );
                    self.put_link(d.pair, link);
                    self.reconciled += 1;
                }
                Err(e) => {
                    let e = aborted(e)?;
                    self.dead_letter(di, &intent.source_id, &intent.payload, e.to_string());
                }
            }
            self.batch.intents_done.push(intent.key);
        }
        self.flush().await
    }

    /// The records of `entity` whose values include all of `payload`'s (the match lookup
    /// for systems without idempotency keys). A payload with no non-empty scalar value
    /// matches nothing: it would match every record.
    async fn find_equal(
        &self,
        connector: &dyn Connector,
        entity: EntityKey,
        payload: &Value,
    ) -> Result<Vec<RemoteRecord>, EngineError> {
        let Some(map) = payload.as_object() else {
            return Ok(Vec::new());
        };
        let Some((key, value)) = map
            .iter()
            .find(|(_, v)| !v.is_object() && !v.is_array() && !json_path::is_empty(v))
        else {
            return Ok(Vec::new());
        };
        let found = match connector.search(entity.entity, key, value).await {
            Ok(found) => found,
            Err(e) => {
                aborted(e)?;
                return Ok(Vec::new());
            }
        };
        Ok(found
            .into_iter()
            .filter(|r| {
                let mut merged = r.data.clone();
                json_path::merge(&mut merged, payload);
                merged == r.data
            })
            .collect())
    }

    /// Stores intents of queued creates, performs them, and commits the page.
    async fn flush(&mut self) -> Result<(), EngineError> {
        let engine = self.engine;
        if self.dry {
            self.batch = Batch::default();
            return Ok(());
        }
        if let Some(scope) = self.scope {
            self.claim_pending(scope).await?;
        }
        let (directions, intents): (Vec<usize>, Vec<Intent>) =
            std::mem::take(&mut self.pending).into_iter().unzip();
        if self.scope.is_none() && !intents.is_empty() {
            engine.store.put_intents(&intents).await?;
        }
        for (di, intent) in directions.into_iter().zip(intents) {
            self.perform_create(di, intent).await?;
        }
        self.pending_sources.clear();
        let mut batch = std::mem::take(&mut self.batch);
        batch.links = self
            .batch_links
            .drain()
            .map(|(_, l)| Arc::unwrap_or_clone(l))
            .collect();
        match self.scope {
            // Fenced: nothing is written once another worker took the item over.
            Some(scope) => {
                scope
                    .leases
                    .commit_leased(std::slice::from_ref(&scope.lease), batch)
                    .await?
            }
            None => engine.store.commit(batch).await?,
        }
        // The store now holds what the cache knew: dropping it keeps memory flat.
        for links in self.cache.values_mut() {
            links.clear();
        }
        Ok(())
    }

    /// A worker claims its queued creates; the ones another create stands in the way of
    /// wait (deferred) and are synchronized again once it is linked.
    async fn claim_pending(&mut self, scope: &ItemScope) -> Result<(), EngineError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let claims: Vec<CreateClaim> = pending
            .iter()
            .map(|(di, intent)| {
                let data = self.pending_data.remove(&intent.key);
                self.claim_of(*di, intent, data.unwrap_or(Value::Null))
            })
            .collect();
        let outcomes = scope.leases.claim_creates(&scope.holder, &claims).await?;
        for ((di, intent), outcome) in pending.into_iter().zip(outcomes) {
            match outcome {
                ClaimOutcome::Claimed => self.pending.push((di, intent)),
                ClaimOutcome::Linked(_) => {
                    let reason = "linked by another worker meanwhile".to_string();
                    self.defer(di, &intent.source_id, reason);
                }
                ClaimOutcome::Busy(reason) => {
                    self.defer(di, &intent.source_id, reason);
                }
            }
        }
        Ok(())
    }

    fn claim_of(&self, di: usize, intent: &Intent, source_data: Value) -> CreateClaim {
        let d = &self.engine.topology.directions[di];
        CreateClaim {
            intent: intent.clone(),
            source_system: d.from.system.to_string(),
            source_entity: d.from.entity.to_string(),
            source_data,
        }
    }

    async fn perform_create(&mut self, di: usize, intent: Intent) -> Result<Outcome, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let Some(connector) = self.connector(d.to.system) else {
            return Ok(Outcome::Skipped);
        };
        let result = engine
            .options
            .retry
            .run(async || {
                connector
                    .create(d.to.entity, &intent.payload, Some(&intent.key))
                    .await
            })
            .await;
        self.batch.intents_done.push(intent.key.clone());
        match result {
            Ok(record) => {
                let link = new_link(
                    &engine.topology.pairs[d.pair].key,
                    d.from_side,
                    intent.source_id.clone(),
                    record.id,
                    intent.source_hash,
                    intent.target_hash,
                );
                self.put_link(d.pair, link);
                self.written.insert(d.to);
                self.counts[di].created += 1;
                self.counts[di].writes += 1;
                self.resolved(di, &intent.source_id);
                Ok(Outcome::Created)
            }
            Err(e) => {
                let e = aborted(e)?;
                Ok(self.dead_letter(di, &intent.source_id, &intent.payload, e.to_string()))
            }
        }
    }

    // ----- links -----

    async fn prefetch(
        &mut self,
        pair: usize,
        side: Side,
        ids: &[RecordId],
    ) -> Result<(), EngineError> {
        let cached = self.cache.get(&(pair, side));
        let missing: Vec<RecordId> = ids
            .iter()
            .filter(|id| cached.is_none_or(|c| !c.contains_key(*id)))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let key = &self.engine.topology.pairs[pair].key;
        let found = self.engine.store.links(key, side, &missing).await?;
        let cached = self.cache.entry((pair, side)).or_default();
        for id in missing {
            cached.insert(id, None);
        }
        for link in found {
            self.cache_link(pair, Arc::new(link));
        }
        Ok(())
    }

    fn cached(&self, pair: usize, side: Side, id: &RecordId) -> Option<&Option<Arc<Link>>> {
        self.cache.get(&(pair, side))?.get(id)
    }

    /// The link of record `id` on `side` of `pair`, shared with the page's cache.
    async fn link_shared(
        &mut self,
        pair: usize,
        side: Side,
        id: &RecordId,
    ) -> Result<Option<Arc<Link>>, EngineError> {
        if let Some(cached) = self.cached(pair, side, id) {
            return Ok(cached.clone());
        }
        self.prefetch(pair, side, std::slice::from_ref(id)).await?;
        Ok(self.cached(pair, side, id).cloned().flatten())
    }

    async fn link(
        &mut self,
        pair: usize,
        side: Side,
        id: &RecordId,
    ) -> Result<Option<Link>, EngineError> {
        Ok(self
            .link_shared(pair, side, id)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    fn cache_link(&mut self, pair: usize, link: Arc<Link>) {
        self.cache
            .entry((pair, Side::B))
            .or_default()
            .insert(link.b_id.clone(), Some(Arc::clone(&link)));
        self.cache
            .entry((pair, Side::A))
            .or_default()
            .insert(link.a_id.clone(), Some(link));
    }

    fn put_link(&mut self, pair: usize, link: Link) {
        let link = Arc::new(link);
        if !self.dry {
            self.batch_links
                .insert((pair, link.a_id.clone()), Arc::clone(&link));
        }
        self.cache_link(pair, link);
    }

    /// The id a reference translates to, if linked.
    async fn translate(
        &mut self,
        from: EntityKey,
        id: &RecordId,
        to: EntityKey,
    ) -> Result<Option<RecordId>, EngineError> {
        let Some(pair) = self.engine.topology.pair(from, to) else {
            return Ok(None);
        };
        let Some(side) = self.engine.topology.pairs[pair].side_of(from) else {
            return Ok(None);
        };
        Ok(self
            .link(pair, side, id)
            .await?
            .filter(|l| !l.orphaned)
            .map(|l| l.id(side.other()).clone()))
    }

    // ----- bookkeeping -----

    fn resolved(&mut self, di: usize, id: &RecordId) {
        if self.known_deferred.is_empty() && self.known_dead.is_empty() {
            return;
        }
        let name = &self.engine.topology.directions[di].name;
        let key = (name.clone(), id.clone());
        if self.known_deferred.remove(&key) {
            self.batch.undeferred.push(key.clone());
        }
        if self.known_dead.remove(&key) {
            self.batch.resolved_dead_letters.push(key);
        }
    }

    fn defer(&mut self, di: usize, id: &RecordId, reason: String) -> Outcome {
        if self.deferred_set.insert((di, id.clone())) {
            if self.ever_deferred.insert((di, id.clone())) {
                self.counts[di].deferred += 1;
                if self.dry {
                    self.plan.deferrals.push(PlannedDeferral {
                        direction: self.engine.topology.directions[di].name.clone(),
                        source_id: id.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            self.deferred.push((di, id.clone(), reason));
        }
        Outcome::Deferred
    }

    fn dead_letter(&mut self, di: usize, id: &RecordId, payload: &Value, error: String) -> Outcome {
        let name = self.engine.topology.directions[di].name.clone();
        tracing::warn!(flow = %name, record = %id, %error, "dead letter");
        self.counts[di].dead_lettered += 1;
        if self.dry {
            self.plan.failures.push(PlannedDeferral {
                direction: name,
                source_id: id.clone(),
                reason: error,
            });
        } else {
            self.known_dead.insert((name.clone(), id.clone()));
            self.batch
                .dead_letters
                .push((name, id.clone(), payload.clone(), error));
        }
        Outcome::DeadLettered
    }

    async fn get(
        &self,
        entity: EntityKey,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let Some(connector) = self.connector(entity.system) else {
            return Ok(None);
        };
        self.engine
            .options
            .retry
            .run(async || connector.get(entity.entity, id).await)
            .await
    }

    // ----- one record -----

    /// Translates `record`'s references (creating `when_connected` records when `create_via`
    /// allows) and maps it through direction `di`.
    async fn map(
        &mut self,
        di: usize,
        record: &RemoteRecord,
        depth: usize,
    ) -> Result<Result<Value, MapError>, EngineError> {
        let d = &self.engine.topology.directions[di];
        self.map_through(d.flow, d.reversed, d.from, record, depth)
            .await
    }

    /// Maps `record` of `from` through flow `flow_index`, forward or (`reversed`) inverse.
    async fn map_through(
        &mut self,
        flow_index: usize,
        reversed: bool,
        from: EntityKey,
        record: &RemoteRecord,
        depth: usize,
    ) -> Result<Result<Value, MapError>, EngineError> {
        let engine = self.engine;
        let Some(flow) = self.flows.get(flow_index).copied() else {
            return Ok(Err(MapError::Invalid {
                entity: from,
                message: "flow missing from the registry".into(),
            }));
        };
        let references = if !flow.has_references() {
            // Decoding the record once more would only find none.
            Ok(Vec::new())
        } else if reversed {
            flow.inverse_references_json(&record.data)
        } else {
            flow.references_json(&record.data)
        };
        let references = match references {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let mut resolved = Resolved::default();
        for r in references {
            let mut target = self.translate(r.from, &r.id, r.to).await?;
            if target.is_none()
                && depth < MAX_DEPTH
                && let Some(creator) = engine.topology.connected_creator(r.from, r.to, from)
            {
                match self.get(r.from, &r.id).await {
                    Ok(Some(referenced)) => {
                        self.counts[creator].read += 1;
                        Box::pin(self.sync_record(creator, &referenced, true, depth + 1)).await?;
                        target = self.translate(r.from, &r.id, r.to).await?;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        aborted(e)?;
                    }
                }
            }
            if let Some(target) = target {
                resolved.0.insert((r.from, r.id, r.to), target);
            }
        }
        Ok(if reversed {
            flow.inverse_json(&record.data, &resolved)
        } else {
            flow.forward_json(&record.data, &resolved)
        })
    }

    /// What the `to` record of direction `di` holds, hashed over its side's projection, once
    /// `payload` is written over `current`: the properties the direction does not write
    /// keep their values (they differ from the payload's only when the pair's two
    /// documented flows map different properties).
    fn hash_after_write(
        &self,
        di: usize,
        current: &Value,
        payload: &Value,
        to_hash: &str,
    ) -> String {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let projection = engine.topology.pairs[d.pair].projection(d.to_side());
        if d.writes == *projection {
            return to_hash.to_string();
        }
        let mut after = projection.project(current);
        json_path::merge(&mut after, payload);
        hash(&projection.project(&after))
    }

    /// A create's payload with the values the pair's other documented flow maps back (its
    /// inverse, applied to the source record) where this direction maps nothing, so that a
    /// pair whose two documents map different properties agrees from its creation. Values
    /// this direction writes win; a record the other flow cannot map adds nothing.
    async fn with_reverse_values(
        &mut self,
        di: usize,
        record: &RemoteRecord,
        payload: Value,
    ) -> Result<Value, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let projection = engine.topology.pairs[d.pair].projection(d.to_side());
        let Some(reverse) = engine.topology.directions.get(d.reverse) else {
            return Ok(payload);
        };
        if d.writes == *projection || reverse.reversed || reverse.flow == d.flow {
            return Ok(payload);
        }
        let back = match self
            .map_through(reverse.flow, true, d.from, record, MAX_DEPTH)
            .await?
        {
            Ok(back) => back,
            Err(_) => return Ok(payload),
        };
        let mut merged = json_path::strip_nulls(&projection.project(&back));
        json_path::merge(&mut merged, &payload);
        Ok(projection.project(&merged))
    }

    /// Synchronizes one record through direction `di`. `forced`: a `when_connected` create
    /// triggered by a connected record.
    pub(super) async fn sync_record(
        &mut self,
        di: usize,
        record: &RemoteRecord,
        forced: bool,
        depth: usize,
    ) -> Result<Outcome, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let pair = &engine.topology.pairs[d.pair];
        let (from_side, to_side) = (d.from_side, d.to_side());
        if d.has_condition && !d.reversed {
            let applies = match self.flows.get(d.flow) {
                Some(flow) => flow.applies_json(&record.data),
                None => Ok(false),
            };
            match applies {
                Ok(true) => {}
                Ok(false) => {
                    self.counts[di].skipped += 1;
                    self.resolved(di, &record.id);
                    return Ok(Outcome::Skipped);
                }
                Err(e) => return Ok(self.dead_letter(di, &record.id, &record.data, e.to_string())),
            }
        }
        let link = self.link_shared(d.pair, from_side, &record.id).await?;
        let may_create = forced || d.create == CreatePolicy::Always;
        if link.as_ref().is_some_and(|l| l.orphaned)
            || (link.is_none() && !may_create && d.match_rules.is_empty())
            || (link.is_none()
                && self
                    .pending_sources
                    .contains(&(d.pair, from_side, record.id.clone())))
        {
            self.counts[di].skipped += 1;
            self.resolved(di, &record.id);
            return Ok(Outcome::Skipped);
        }
        let mapped = match self.map(di, record, depth).await? {
            Ok(mapped) => mapped,
            Err(MapError::Unlinked {
                property,
                from,
                id,
                to,
            }) => {
                let reason = format!("{property}: {from} {id} is not linked to a {to} yet");
                return Ok(self.defer(di, &record.id, reason));
            }
            Err(e) => return Ok(self.dead_letter(di, &record.id, &record.data, e.to_string())),
        };
        let payload = d.writes.project_owned(mapped);
        let to_hash = hash_projected(pair.projection(to_side), &payload);
        let from_hash = hash_projected(pair.projection(from_side), &record.data);
        let outcome = match link {
            Some(link) => {
                self.sync_linked(di, record, link, payload, to_hash, from_hash, depth)
                    .await?
            }
            None => {
                self.sync_unlinked(di, record, payload, to_hash, from_hash, may_create)
                    .await?
            }
        };
        if !matches!(
            outcome,
            Outcome::Deferred | Outcome::DeadLettered | Outcome::Queued
        ) {
            self.resolved(di, &record.id);
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn sync_linked(
        &mut self,
        di: usize,
        record: &RemoteRecord,
        link: Arc<Link>,
        payload: Value,
        to_hash: String,
        from_hash: String,
        depth: usize,
    ) -> Result<Outcome, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let pair = &engine.topology.pairs[d.pair];
        let (from_side, to_side) = (d.from_side, d.to_side());
        if link.hash(from_side) == Some(from_hash.as_str()) {
            // Unchanged since last written or read: an echo of our own write, or nothing new.
            self.counts[di].unchanged += 1;
            return Ok(Outcome::Unchanged);
        }
        let mut link = Arc::unwrap_or_clone(link);
        if link.hash(to_side) == Some(to_hash.as_str()) {
            link.set_hash(from_side, from_hash);
            self.put_link(d.pair, link);
            self.counts[di].unchanged += 1;
            return Ok(Outcome::Unchanged);
        }
        let target_id = link.id(to_side).clone();
        let target = match self.get(d.to, &target_id).await {
            Ok(Some(target)) => target,
            Ok(None) => {
                link.orphaned = true;
                self.put_link(d.pair, link);
                self.counts[di].skipped += 1;
                return Ok(Outcome::Skipped);
            }
            Err(e) => {
                let e = aborted(e)?;
                return Ok(self.dead_letter(di, &record.id, &payload, e.to_string()));
            }
        };
        let target_now = pair.projection(to_side).project(&target.data);
        let target_hash = hash(&target_now);
        let to_hash = self.hash_after_write(di, &target.data, &payload, &to_hash);
        let target_changed = link.hash(to_side).is_some_and(|h| h != target_hash);
        let mut conflict = false;
        if target_changed {
            conflict = true;
            self.counts[di].conflicts += 1;
            let from_values = pair.projection(from_side).project(&record.data);
            let incoming =
                incoming_wins(d.prefer, !d.reversed, record.updated_at, target.updated_at);
            let (winner, winner_values, loser_values) = if incoming {
                (from_side, from_values, target_now.clone())
            } else {
                (to_side, target_now.clone(), from_values)
            };
            if !self.dry {
                self.batch.conflicts.push(Conflict {
                    direction: d.name.clone(),
                    pair: pair.key.clone(),
                    a_id: link.a_id.clone(),
                    b_id: link.b_id.clone(),
                    winner,
                    winner_values,
                    loser_values,
                    at: Utc::now(),
                });
            }
            if !incoming {
                return self
                    .write_back(di, record, link, &target, target_hash, depth)
                    .await;
            }
        } else if target_hash == to_hash {
            link.set_hash(from_side, from_hash);
            link.set_hash(to_side, to_hash);
            self.put_link(d.pair, link);
            self.counts[di].unchanged += 1;
            return Ok(Outcome::Unchanged);
        }
        self.write(
            di,
            di,
            record,
            link,
            &target_now,
            payload,
            to_hash,
            from_hash,
            conflict,
        )
        .await
    }

    /// The other side won a conflict: its values are written to the record just read.
    #[allow(clippy::too_many_arguments)]
    async fn write_back(
        &mut self,
        di: usize,
        record: &RemoteRecord,
        mut link: Link,
        target: &RemoteRecord,
        target_hash: String,
        depth: usize,
    ) -> Result<Outcome, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let rd = d.reverse;
        let Some(reverse) = engine.topology.directions.get(rd) else {
            return Ok(Outcome::Skipped);
        };
        let pair = &engine.topology.pairs[d.pair];
        let back = match self.map(rd, target, depth).await? {
            Ok(back) => reverse.writes.project(&back),
            Err(MapError::Unlinked {
                property,
                from,
                id,
                to,
            }) => {
                let reason = format!("{property}: {from} {id} is not linked to a {to} yet");
                return Ok(self.defer(rd, &target.id, reason));
            }
            Err(e) => return Ok(self.dead_letter(rd, &target.id, &target.data, e.to_string())),
        };
        let back_hash = self.hash_after_write(
            rd,
            &record.data,
            &back,
            &hash(&pair.projection(d.from_side).project(&back)),
        );
        let current = pair.projection(d.from_side).project(&record.data);
        link.set_hash(d.to_side(), target_hash);
        self.write(
            rd,
            di,
            target,
            link,
            &current,
            back,
            back_hash,
            String::new(),
            true,
        )
        .await
    }

    /// Writes `payload` to the `to` side of direction `di` and stores both hashes.
    /// `from_hash` empty: keep the link's (set by the caller).
    #[allow(clippy::too_many_arguments)]
    async fn write(
        &mut self,
        di: usize,
        count_on: usize,
        record: &RemoteRecord,
        mut link: Link,
        old: &Value,
        payload: Value,
        to_hash: String,
        from_hash: String,
        conflict: bool,
    ) -> Result<Outcome, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let target_id = link.id(d.to_side()).clone();
        if self.dry {
            self.plan.updates.push(PlannedUpdate {
                direction: d.name.clone(),
                source_id: record.id.clone(),
                target: d.to.to_string(),
                target_id,
                changes: engine.topology.pairs[d.pair]
                    .projection(d.to_side())
                    .diff(old, &payload)
                    .into_iter()
                    .map(|(property, old, new)| PropertyDiff { property, old, new })
                    .collect(),
                conflict,
            });
            self.counts[count_on].updated += 1;
            return Ok(Outcome::Updated);
        }
        let Some(connector) = self.connector(d.to.system) else {
            return Ok(Outcome::Skipped);
        };
        let result = engine
            .options
            .retry
            .run(async || connector.update(d.to.entity, &target_id, &payload).await)
            .await;
        match result {
            Ok(_) => {
                if !from_hash.is_empty() {
                    link.set_hash(d.from_side, from_hash);
                } else {
                    link.set_hash(
                        d.from_side,
                        hash_projected(
                            engine.topology.pairs[d.pair].projection(d.from_side),
                            &record.data,
                        ),
                    );
                }
                link.set_hash(d.to_side(), to_hash);
                self.put_link(d.pair, link);
                self.written.insert(d.to);
                self.counts[count_on].updated += 1;
                self.counts[count_on].writes += 1;
                Ok(Outcome::Updated)
            }
            Err(e) => {
                let e = aborted(e)?;
                Ok(self.dead_letter(di, &record.id, &payload, e.to_string()))
            }
        }
    }

    async fn sync_unlinked(
        &mut self,
        di: usize,
        record: &RemoteRecord,
        payload: Value,
        to_hash: String,
        from_hash: String,
        may_create: bool,
    ) -> Result<Outcome, EngineError> {
        let engine = self.engine;
        let d = &engine.topology.directions[di];
        let pair = &engine.topology.pairs[d.pair];
        let (from_side, to_side) = (d.from_side, d.to_side());
        // Match before create: link an existing equal record instead of a duplicate.
        for (from_property, to_property) in &d.match_rules {
            let value = json_path::lookup(&record.data, from_property);
            if json_path::is_empty(&value) {
                continue;
            }
            let Some(connector) = self.connector(d.to.system) else {
                break;
            };
            let found = engine
                .options
                .retry
                .run(async || connector.search(d.to.entity, to_property, &value).await)
                .await;
            let candidates = match found {
                Ok(found) => found,
                Err(e) => {
                    let e = aborted(e)?;
                    return Ok(self.dead_letter(di, &record.id, &payload, e.to_string()));
                }
            };
            for candidate in candidates {
                if self.link(d.pair, to_side, &candidate.id).await?.is_some() {
                    continue;
                }
                let candidate_now = pair.projection(to_side).project(&candidate.data);
                let to_hash = self.hash_after_write(di, &candidate.data, &payload, &to_hash);
                let link = new_link(
                    &pair.key,
                    from_side,
                    record.id.clone(),
                    candidate.id.clone(),
                    from_hash.clone(),
                    hash(&candidate_now),
                );
                self.counts[di].linked += 1;
                if self.dry {
                    self.plan.links.push(PlannedLink {
                        direction: d.name.clone(),
                        source_id: record.id.clone(),
                        target: d.to.to_string(),
                        target_id: candidate.id.clone(),
                        rule: format!("{from_property} = {to_property}"),
                    });
                }
                self.put_link(d.pair, link.clone());
                if hash(&candidate_now) != to_hash {
                    // On a first link the flow's source values are written.
                    self.write(
                        di,
                        di,
                        record,
                        link,
                        &candidate_now,
                        payload,
                        to_hash,
                        from_hash,
                        false,
                    )
                    .await?;
                }
                return Ok(Outcome::Linked);
            }
        }
        if !may_create {
            self.counts[di].skipped += 1;
            return Ok(Outcome::Skipped);
        }
        let payload = self.with_reverse_values(di, record, payload).await?;
        let to_hash = hash_projected(pair.projection(to_side), &payload);
        let create_payload = json_path::strip_nulls_owned(payload);
        if self.dry {
            self.placeholders += 1;
            let placeholder = RecordId::Text(format!("(new {} #{})", d.to, self.placeholders));
            self.plan.creates.push(PlannedCreate {
                direction: d.name.clone(),
                source_id: record.id.clone(),
                target: d.to.to_string(),
                values: create_payload,
            });
            let link = new_link(
                &pair.key,
                from_side,
                record.id.clone(),
                placeholder,
                from_hash,
                to_hash,
            );
            self.put_link(d.pair, link);
            self.counts[di].created += 1;
            return Ok(Outcome::Created);
        }
        let intent = Intent {
            key: idempotency_key(&d.name, &record.id),
            direction: d.name.clone(),
            pair: pair.key.clone(),
            source_side: from_side,
            source_id: record.id.clone(),
            target_system: d.to.system.to_string(),
            target_entity: d.to.entity.to_string(),
            payload: create_payload,
            source_hash: from_hash,
            target_hash: to_hash,
        };
        let forced_now = d.create != CreatePolicy::Always;
        if forced_now {
            // A connected record needs the id now: store the intent, then create.
            if let Some(scope) = self.scope {
                // The record may be of another worker's shard: claim it first.
                let claim = self.claim_of(di, &intent, record.data.clone());
                let outcome = scope
                    .leases
                    .claim_creates(&scope.holder, std::slice::from_ref(&claim))
                    .await?
                    .pop();
                match outcome {
                    Some(ClaimOutcome::Claimed) => {}
                    Some(ClaimOutcome::Linked(link)) => {
                        self.cache_link(d.pair, Arc::new(link));
                        return Ok(Outcome::Linked);
                    }
                    // The connected record waits (its reference is unlinked) and comes back.
                    Some(ClaimOutcome::Busy(_)) | None => return Ok(Outcome::Deferred),
                }
            } else {
                engine
                    .store
                    .put_intents(std::slice::from_ref(&intent))
                    .await?;
            }
            self.perform_create(di, intent).await
        } else {
            if self.scope.is_some() {
                self.pending_data
                    .insert(intent.key.clone(), record.data.clone());
            }
            self.pending_sources
                .insert((d.pair, from_side, record.id.clone()));
            self.pending.push((di, intent));
            Ok(Outcome::Queued)
        }
    }
}

fn new_link(
    pair: &str,
    source_side: Side,
    source_id: RecordId,
    target_id: RecordId,
    source_hash: String,
    target_hash: String,
) -> Link {
    let (a_id, b_id, a_hash, b_hash) = match source_side {
        Side::A => (source_id, target_id, source_hash, target_hash),
        Side::B => (target_id, source_id, target_hash, source_hash),
    };
    Link {
        pair: pair.to_string(),
        a_id,
        b_id,
        a_hash: Some(a_hash),
        b_hash: Some(b_hash),
        orphaned: false,
    }
}

/// A fresh key per create intent; a replay after a crash reuses the stored one.
fn idempotency_key(direction: &str, id: &RecordId) -> String {
    let nonce: u64 = rand::random();
    let at = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let id = crate::state::id_text(id);
    hash_parts(&[
        direction.as_bytes(),
        id.as_bytes(),
        &at.to_le_bytes(),
        &nonce.to_le_bytes(),
    ])
}
