//! One work item under its lease: what a worker ([`crate::worker`]) asks the engine to do.
//!
//! With an [`ItemScope`] a run reads one entity's changes from the cursor of one shard and
//! synchronizes only the records of that shard; commits its pages with
//! [`Leases::commit_leased`] (fenced: nothing is written once the lease was taken over);
//! claims its creates ([`Leases::claim_creates`]) instead of storing bare intents; retries
//! only the deferrals of its shard; and reconciles only the intents left by itself or by
//! workers that are gone.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

use crate::flow::{EntityKey, RecordId};
use crate::state::leases::{Lease, shard_cursor_entity, shard_of};
use crate::state::{ClaimedIntent, Leases};

/// A shutdown request shared by a worker and the engine: the engine finishes the page in
/// flight, commits it, and returns.
#[derive(Debug, Default)]
pub struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub fn new() -> Arc<Stop> {
        Arc::new(Stop::default())
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Waits until a stop is requested (at once if it was).
    pub async fn requested(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

/// One work item a worker holds, and how the engine works on it.
#[derive(Debug, Clone)]
pub struct ItemScope {
    /// The worker (the lease holder).
    pub holder: String,
    pub leases: Arc<dyn Leases>,
    pub lease: Lease,
    /// Shards per entity: all workers of one state agree on it.
    pub shards: u32,
    /// The workers alive now: their open intents are theirs to finish.
    pub live_workers: HashSet<String>,
    pub stop: Arc<Stop>,
}

impl ItemScope {
    /// Whether the item is `entity`.
    pub fn is_entity(&self, entity: EntityKey) -> bool {
        self.lease.item.system == entity.system && self.lease.item.entity == entity.entity
    }

    /// Whether record `id` of `entity` belongs to this item.
    pub fn holds(&self, entity: EntityKey, id: &RecordId) -> bool {
        self.is_entity(entity) && shard_of(id, self.shards) == self.lease.item.shard
    }

    /// The key of this item's change cursor.
    pub fn cursor_entity(&self) -> String {
        shard_cursor_entity(&self.lease.item.entity, self.lease.item.shard, self.shards)
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.is_requested()
    }

    /// Whether this run reconciles `intent` (whose source record is of `source`): the
    /// worker's own leftovers always (no create of its own is in flight between runs), the
    /// intents of gone workers and of single-process runs when the source is this item's.
    pub(super) fn reconciles(&self, intent: &ClaimedIntent, source: EntityKey) -> bool {
        match intent.holder.as_deref() {
            Some(holder) if holder == self.holder => true,
            Some(holder) if self.live_workers.contains(holder) => false,
            _ => self.holds(source, &intent.intent.source_id),
        }
    }
}
