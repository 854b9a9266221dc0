//! Leases on work items, so that several workers sharing one state store split the work and no
//! record is processed by two workers at once.
//!
//! A *work item* is `(system, entity, shard)`: the records of one source entity whose id falls
//! in one shard ([`shard_of`]). A worker registers the items it knows ([`Leases::register`]),
//! takes free or expired ones ([`Leases::acquire`]), renews them while it works
//! ([`Leases::heartbeat`]), commits its pages under them ([`Leases::commit_leased`]) and gives
//! them back when done ([`Leases::release`]). A worker that dies stops renewing; once its
//! leases expire another worker acquires them.
//!
//! Every acquisition increases the item's `token` (a fencing token). Renewing, releasing and
//! committing require the holder *and* the token to be unchanged, so a worker that was paused
//! past its expiry and whose item was taken over can no longer write: its commit fails with
//! [`LeaseError::Lost`] and nothing of the page is written. A lease that expired but was not
//! taken over is still the holder's (nobody else can have processed its records).
//!
//! Backends: [`super::PostgresStore`] keeps the leases in its `leases` table and acquires with
//! `FOR UPDATE SKIP LOCKED`, judging expiry by the database clock (workers on machines with
//! skewed clocks agree). A SQLite store serves one process; [`LocalLeases`] gives the same
//! semantics to the workers (tasks) of that process, in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::postgres::{PostgresStore, write_batch};
use super::{Batch, SqliteStore, StateError, StateStore, id_text};
use crate::flow::RecordId;

/// The longest lease: PostgreSQL timestamps end in 294276 AD, and a lease longer than this is
/// a mistake rather than a wish.
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A unit of work that one worker at a time may hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkItem {
    pub system: String,
    pub entity: String,
    pub shard: u32,
}

impl WorkItem {
    pub fn new(system: impl Into<String>, entity: impl Into<String>, shard: u32) -> Self {
        WorkItem {
            system: system.into(),
            entity: entity.into(),
            shard,
        }
    }
}

impl fmt::Display for WorkItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} shard {}", self.system, self.entity, self.shard)
    }
}

/// A lease held by a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub item: WorkItem,
    pub holder: String,
    /// Grows on every acquisition of the item.
    pub token: i64,
    pub expires_at: DateTime<Utc>,
}

/// The state of a work item, held or not (for `flowgen status` and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemState {
    pub item: WorkItem,
    pub holder: Option<String>,
    pub token: i64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A lease failure.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "the lease on {item} was lost: another worker took it over after it expired, or it was \
         released; the page was not committed (renew leases well within their expiry)"
    )]
    Lost { item: WorkItem },
    #[error(transparent)]
    State(#[from] StateError),
}

/// Leases on work items, shared by the workers of one state store.
#[async_trait]
pub trait Leases: Send + Sync + fmt::Debug {
    /// Makes `items` known (idempotent); only known items can be acquired.
    async fn register(&self, items: &[WorkItem]) -> Result<(), StateError>;
    /// Takes up to `max` items that nobody holds or whose lease expired, for `holder`, until
    /// `ttl` from now (at most [`MAX_TTL`]). Items held by others are skipped, never waited for.
    async fn acquire(
        &self,
        holder: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StateError>;
    /// Extends `leases` to `ttl` from now; returns the renewed ones. A lease missing from the
    /// result was lost (taken over or released): its worker must stop working on the item.
    async fn heartbeat(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<Lease>, StateError>;
    /// Gives `leases` back; leases no longer held are ignored.
    async fn release(&self, leases: &[Lease]) -> Result<(), StateError>;
    /// Commits `batch` only if every one of `leases` is still held, atomically with that check
    /// (no other worker can take them over during the commit).
    async fn commit_leased(&self, leases: &[Lease], batch: Batch) -> Result<(), LeaseError>;
    /// Every known item, ordered by system, entity and shard.
    async fn items(&self) -> Result<Vec<ItemState>, StateError>;
}

/// The shard of `id` among `shards` (0 when `shards` is 0 or 1). Stable across processes,
/// machines and versions, so every worker assigns a record to the same shard.
pub fn shard_of(id: &RecordId, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    let digest = Sha256::digest(id_text(id).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(first) % u64::from(shards);
    // `n < shards <= u32::MAX`.
    u32::try_from(n).unwrap_or(0)
}

/// A holder name unique to this process: the host (when known), the process id and a random
/// part, so that a restarted worker never inherits the leases of its previous life.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_string());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

fn ttl_delta(ttl: Duration) -> TimeDelta {
    TimeDelta::from_std(ttl.min(MAX_TTL)).unwrap_or(TimeDelta::MAX)
}

fn ttl_micros(ttl: Duration) -> i64 {
    i64::try_from(ttl.min(MAX_TTL).as_micros()).unwrap_or(i64::MAX)
}

/// A state store with its leases, as chosen by a `state:` setting or `--state`.
#[derive(Debug, Clone)]
pub struct Backend {
    pub store: Arc<dyn StateStore>,
    pub leases: Arc<dyn Leases>,
}

impl Backend {
    /// `postgres://…` or `postgresql://…` opens a [`PostgresStore`]; anything else is the path
    /// of a SQLite file (an optional `sqlite://` or `sqlite:` prefix is dropped).
    pub async fn open(url_or_path: &str) -> Result<Backend, StateError> {
        let trimmed = url_or_path.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let store = Arc::new(PostgresStore::open(trimmed).await?);
            return Ok(Backend {
                store: store.clone(),
                leases: store,
            });
        }
        let path = ["sqlite://", "sqlite:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            // The prefix is ASCII, so its length in `lower` is its length in `trimmed`.
            .and_then(|p| trimmed.get(p.len()..))
            .unwrap_or(trimmed);
        if path.is_empty() {
            return Err(StateError::Database(sqlx::Error::Configuration(
                "the state store is empty: give a SQLite file path or a postgres:// URL".into(),
            )));
        }
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(Path::new(path)).await?);
        Ok(Backend {
            leases: Arc::new(LocalLeases::new(store.clone())),
            store,
        })
    }
}

fn lease_from_row(row: &sqlx::postgres::PgRow) -> Result<Lease, StateError> {
    Ok(Lease {
        item: item_from_row(row)?,
        holder: row.try_get("holder")?,
        token: row.try_get("token")?,
        expires_at: row.try_get("expires_at")?,
    })
}

fn item_from_row(row: &sqlx::postgres::PgRow) -> Result<WorkItem, StateError> {
    let shard: i32 = row.try_get("shard")?;
    Ok(WorkItem {
        system: row.try_get("system")?,
        entity: row.try_get("entity")?,
        shard: u32::try_from(shard).map_err(|_| StateError::Corrupt {
            what: "lease shard",
            message: shard.to_string(),
        })?,
    })
}

/// Lease columns as arrays, for `UNNEST`.
struct LeaseArrays {
    system: Vec<String>,
    entity: Vec<String>,
    shard: Vec<i32>,
    holder: Vec<String>,
    token: Vec<i64>,
}

impl LeaseArrays {
    fn of(leases: &[Lease]) -> Self {
        let mut a = LeaseArrays {
            system: Vec::with_capacity(leases.len()),
            entity: Vec::with_capacity(leases.len()),
            shard: Vec::with_capacity(leases.len()),
            holder: Vec::with_capacity(leases.len()),
            token: Vec::with_capacity(leases.len()),
        };
        for l in leases {
            a.system.push(l.item.system.clone());
            a.entity.push(l.item.entity.clone());
            // A shard above i32::MAX cannot have been registered; -1 matches no row.
            a.shard.push(i32::try_from(l.item.shard).unwrap_or(-1));
            a.holder.push(l.holder.clone());
            a.token.push(l.token);
        }
        a
    }
}

const LEASE_MATCH: &str = "FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::text[], $5::int8[]) \
     AS h(system, entity, shard, holder, token) \
     WHERE l.system = h.system AND l.entity = h.entity AND l.shard = h.shard \
     AND l.holder = h.holder AND l.token = h.token";

#[async_trait]
impl Leases for PostgresStore {
    async fn register(&self, items: &[WorkItem]) -> Result<(), StateError> {
        let mut system = Vec::with_capacity(items.len());
        let mut entity = Vec::with_capacity(items.len());
        let mut shard = Vec::with_capacity(items.len());
        for item in items {
            system.push(item.system.as_str());
            entity.push(item.entity.as_str());
            shard.push(i32::try_from(item.shard).map_err(|_| StateError::Corrupt {
                what: "work item shard (above 2147483647)",
                message: item.to_string(),
            })?);
        }
        sqlx::query(
            "INSERT INTO leases (system, entity, shard) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int4[]) \
             ON CONFLICT DO NOTHING",
        )
        .bind(system)
        .bind(entity)
        .bind(shard)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn acquire(
        &self,
        holder: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StateError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // SKIP LOCKED: workers acquiring at the same time take disjoint items instead of
        // queueing behind each other; an item being committed under its lease is skipped too.
        let rows = sqlx::query(
            "UPDATE leases l SET holder = $1, token = l.token + 1, acquired_at = now(), \
             expires_at = now() + $2::bigint * interval '1 microsecond' \
             FROM (SELECT system, entity, shard FROM leases \
                   WHERE holder IS NULL OR expires_at <= now() \
                   ORDER BY system COLLATE \"C\", entity COLLATE \"C\", shard \
                   LIMIT $3 FOR UPDATE SKIP LOCKED) free \
             WHERE l.system = free.system AND l.entity = free.entity AND l.shard = free.shard \
             RETURNING l.system, l.entity, l.shard, l.holder, l.token, l.expires_at",
        )
        .bind(holder)
        .bind(ttl_micros(ttl))
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let mut leases = rows
            .iter()
            .map(lease_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        leases.sort_by(|a, b| a.item.cmp(&b.item));
        Ok(leases)
    }

    async fn heartbeat(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<Lease>, StateError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let a = LeaseArrays::of(leases);
        let rows = sqlx::query(&format!(
            "UPDATE leases l SET expires_at = now() + $6::bigint * interval '1 microsecond' {LEASE_MATCH} \
             RETURNING l.system, l.entity, l.shard, l.holder, l.token, l.expires_at"
        ))
        .bind(a.system)
        .bind(a.entity)
        .bind(a.shard)
        .bind(a.holder)
        .bind(a.token)
        .bind(ttl_micros(ttl))
        .fetch_all(self.pool())
        .await?;
        let mut renewed = rows
            .iter()
            .map(lease_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        renewed.sort_by(|a, b| a.item.cmp(&b.item));
        Ok(renewed)
    }

    async fn release(&self, leases: &[Lease]) -> Result<(), StateError> {
        if leases.is_empty() {
            return Ok(());
        }
        let a = LeaseArrays::of(leases);
        sqlx::query(&format!(
            "UPDATE leases l SET holder = NULL, acquired_at = NULL, expires_at = NULL {LEASE_MATCH}"
        ))
        .bind(a.system)
        .bind(a.entity)
        .bind(a.shard)
        .bind(a.holder)
        .bind(a.token)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn commit_leased(&self, leases: &[Lease], batch: Batch) -> Result<(), LeaseError> {
        let mut tx = self.pool().begin().await.map_err(StateError::from)?;
        if !leases.is_empty() {
            let a = LeaseArrays::of(leases);
            // FOR UPDATE holds the rows until the commit: an acquirer skips them (SKIP LOCKED),
            // and one that locked a row first and changed its token makes it drop out here.
            let rows = sqlx::query(&format!(
                "SELECT l.system, l.entity, l.shard FROM leases l, \
                 {} FOR UPDATE OF l",
                LEASE_MATCH.trim_start_matches("FROM ")
            ))
            .bind(a.system)
            .bind(a.entity)
            .bind(a.shard)
            .bind(a.holder)
            .bind(a.token)
            .fetch_all(&mut *tx)
            .await
            .map_err(StateError::from)?;
            let held = rows
                .iter()
                .map(item_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(lost) = leases.iter().find(|l| !held.contains(&l.item)) {
                return Err(LeaseError::Lost {
                    item: lost.item.clone(),
                });
            }
        }
        write_batch(&mut tx, &batch).await?;
        tx.commit().await.map_err(StateError::from)?;
        Ok(())
    }

    async fn items(&self) -> Result<Vec<ItemState>, StateError> {
        let rows = sqlx::query(
            "SELECT system, entity, shard, holder, token, expires_at FROM leases \
             ORDER BY system COLLATE \"C\", entity COLLATE \"C\", shard",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ItemState {
                    item: item_from_row(r)?,
                    holder: r.try_get("holder")?,
                    token: r.try_get("token")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct Slot {
    holder: Option<String>,
    token: i64,
    expires_at: Option<DateTime<Utc>>,
}

impl Slot {
    fn holds(&self, lease: &Lease) -> bool {
        self.holder.as_deref() == Some(lease.holder.as_str()) && self.token == lease.token
    }
}

/// Leases for the workers of one process, kept in memory: the lease table of a store that
/// only one process uses (SQLite). Same semantics as the PostgreSQL table, with the process
/// clock.
#[derive(Debug)]
pub struct LocalLeases {
    store: Arc<dyn StateStore>,
    // A tokio mutex: `commit_leased` holds it across the store's commit, so that no lease
    // changes hands between the check and the write.
    slots: tokio::sync::Mutex<BTreeMap<WorkItem, Slot>>,
}

impl LocalLeases {
    /// Leases whose `commit_leased` commits to `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        LocalLeases {
            store,
            slots: tokio::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

#[async_trait]
impl Leases for LocalLeases {
    async fn register(&self, items: &[WorkItem]) -> Result<(), StateError> {
        let mut slots = self.slots.lock().await;
        for item in items {
            slots.entry(item.clone()).or_default();
        }
        Ok(())
    }

    async fn acquire(
        &self,
        holder: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StateError> {
        let mut slots = self.slots.lock().await;
        let now = Utc::now();
        let expires_at = now
            .checked_add_signed(ttl_delta(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut out = Vec::new();
        for (item, slot) in slots.iter_mut() {
            if out.len() >= max {
                break;
            }
            let free = slot.holder.is_none() || slot.expires_at.is_none_or(|t| t <= now);
            if free {
                slot.holder = Some(holder.to_string());
                slot.token += 1;
                slot.expires_at = Some(expires_at);
                out.push(Lease {
                    item: item.clone(),
                    holder: holder.to_string(),
                    token: slot.token,
                    expires_at,
                });
            }
        }
        Ok(out)
    }

    async fn heartbeat(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<Lease>, StateError> {
        let mut slots = self.slots.lock().await;
        let expires_at = Utc::now()
            .checked_add_signed(ttl_delta(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut renewed = Vec::new();
        for lease in leases {
            if let Some(slot) = slots.get_mut(&lease.item).filter(|s| s.holds(lease)) {
                slot.expires_at = Some(expires_at);
                renewed.push(Lease {
                    expires_at,
                    ..lease.clone()
                });
            }
        }
        renewed.sort_by(|a, b| a.item.cmp(&b.item));
        renewed.dedup_by(|a, b| a.item == b.item);
        Ok(renewed)
    }

    async fn release(&self, leases: &[Lease]) -> Result<(), StateError> {
        let mut slots = self.slots.lock().await;
        for lease in leases {
            if let Some(slot) = slots.get_mut(&lease.item).filter(|s| s.holds(lease)) {
                slot.holder = None;
                slot.expires_at = None;
            }
        }
        Ok(())
    }

    async fn commit_leased(&self, leases: &[Lease], batch: Batch) -> Result<(), LeaseError> {
        let slots = self.slots.lock().await;
        if let Some(lost) = leases
            .iter()
            .find(|l| !slots.get(&l.item).is_some_and(|s| s.holds(l)))
        {
            return Err(LeaseError::Lost {
                item: lost.item.clone(),
            });
        }
        self.store.commit(batch).await?;
        drop(slots);
        Ok(())
    }

    async fn items(&self) -> Result<Vec<ItemState>, StateError> {
        let slots = self.slots.lock().await;
        Ok(slots
            .iter()
            .map(|(item, slot)| ItemState {
                item: item.clone(),
                holder: slot.holder.clone(),
                token: slot.token,
                expires_at: slot.expires_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(shard_of(&RecordId::Int(7), 0), 0);
        assert_eq!(shard_of(&RecordId::Int(7), 1), 0);
        let ids: Vec<RecordId> = (0..1000).map(RecordId::Int).collect();
        let mut counts = [0usize; 4];
        for id in &ids {
            let s = shard_of(id, 4);
            assert!(s < 4);
            assert_eq!(s, shard_of(id, 4));
            counts[s as usize] += 1;
        }
        // sha-256 spreads 1000 ids over 4 shards: none is empty or holds most of them.
        assert!(counts.iter().all(|c| (150..350).contains(c)), "{counts:?}");
        // An integer id and the string of its digits are different records.
        let (int, text) = (RecordId::Int(12), RecordId::from("12"));
        assert_ne!(id_text(&int), id_text(&text));
    }

    #[test]
    fn long_ttls_are_capped() {
        assert_eq!(ttl_micros(Duration::MAX), ttl_micros(MAX_TTL));
        assert_eq!(ttl_micros(Duration::from_millis(3)), 3_000);
        assert_eq!(
            ttl_delta(Duration::MAX),
            TimeDelta::from_std(MAX_TTL).expect("delta")
        );
    }

    #[test]
    fn worker_ids_differ() {
        assert_ne!(worker_id(), worker_id());
    }
}
