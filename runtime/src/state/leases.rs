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
//! Workers also announce themselves ([`Leases::announce`]) so that each can count the others
//! and take an even share of the items, and claim their creates ([`Leases::claim_creates`],
//! see [`super::claims`]) so that no two workers create a target for one source record.
//!
//! Backends: [`super::PostgresStore`] keeps the leases in its `leases` table and acquires with
//! `FOR UPDATE SKIP LOCKED`, judging expiry by the database clock (workers on machines with
//! skewed clocks agree). A SQLite store serves one process; [`LocalLeases`] gives the same
//! semantics to the workers (tasks) of that process, in memory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::claims::{self, ClaimOutcome, ClaimedIntent, CreateClaim, OpenIntent};
use super::postgres::{
    INTENT_COLUMNS, INTENT_ORDER, PostgresStore, insert_intents, intent_from_row, link_from_row,
    side_text, write_batch,
};
use super::{Batch, Link, SqliteStore, StateError, StateStore, id_text};
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

/// The key under which the change cursor of one shard of an entity is stored (in the
/// `cursors` table, beside the entity's own cursor that `flowgen sync` keeps): every shard
/// reads the entity's changes at its own pace. The shard count is part of the key, so a
/// state resharded to another count starts its cursors afresh instead of skipping records.
pub fn shard_cursor_entity(entity: &str, shard: u32, shards: u32) -> String {
    format!("{entity}#shard {shard}/{shards}")
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
    /// Announces `holder` as a live worker until `ttl` from now (workers renew it with their
    /// heartbeats and count each other to take an even share of the items).
    async fn announce(&self, holder: &str, ttl: Duration) -> Result<(), StateError>;
    /// The workers announced and not expired, sorted.
    async fn workers(&self) -> Result<Vec<String>, StateError>;
    /// Forgets the announcement of `holder` (a worker that stops).
    async fn retire(&self, holder: &str) -> Result<(), StateError>;
    /// Claims creates for `holder`, one outcome per claim in order: stores the intents of the
    /// claimed ones, atomically with checking that no link and no other open create stands in
    /// the way (see [`super::claims`]). The intents leave with the commit that stores their
    /// links, as any intent does.
    async fn claim_creates(
        &self,
        holder: &str,
        claims: &[CreateClaim],
    ) -> Result<Vec<ClaimOutcome>, StateError>;
    /// The open create intents and the worker that claimed each.
    async fn claimed_intents(&self) -> Result<Vec<ClaimedIntent>, StateError>;
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
        Backend::sqlite(Path::new(path)).await
    }

    /// A SQLite store at `path`, with leases for the workers of this process.
    pub async fn sqlite(path: &Path) -> Result<Backend, StateError> {
        if path.as_os_str().is_empty() {
            return Err(StateError::Database(sqlx::Error::Configuration(
                "the state store is empty: give a SQLite file path or a postgres:// URL".into(),
            )));
        }
        let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(path).await?);
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
        // Shard first: a worker taking a share takes some shards of every entity, so the
        // entities with the most work are split too.
        let rows = sqlx::query(
            "UPDATE leases l SET holder = $1, token = l.token + 1, acquired_at = now(), \
             expires_at = now() + $2::bigint * interval '1 microsecond' \
             FROM (SELECT system, entity, shard FROM leases \
                   WHERE holder IS NULL OR expires_at <= now() \
                   ORDER BY shard, system COLLATE \"C\", entity COLLATE \"C\" \
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

    async fn announce(&self, holder: &str, ttl: Duration) -> Result<(), StateError> {
        // Announcements of workers gone for a day are dropped on the way.
        sqlx::query(
            "WITH gone AS (DELETE FROM workers WHERE expires_at < now() - interval '1 day') \
             INSERT INTO workers (holder, expires_at) \
             VALUES ($1, now() + $2::bigint * interval '1 microsecond') \
             ON CONFLICT (holder) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(holder)
        .bind(ttl_micros(ttl))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn workers(&self) -> Result<Vec<String>, StateError> {
        let rows = sqlx::query(
            "SELECT holder FROM workers WHERE expires_at > now() ORDER BY holder COLLATE \"C\"",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn retire(&self, holder: &str) -> Result<(), StateError> {
        sqlx::query("DELETE FROM workers WHERE holder = $1")
            .bind(holder)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn claim_creates(
        &self,
        holder: &str,
        claims: &[CreateClaim],
    ) -> Result<Vec<ClaimOutcome>, StateError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await?;
        // Claims of one (direction, source record) wait for each other until commit; taken in
        // key order, so two workers claiming overlapping sets cannot deadlock.
        let mut keys: Vec<i64> = claims
            .iter()
            .map(|c| claim_lock_key(&c.intent.direction, &id_text(&c.intent.source_id)))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        sqlx::query("SELECT pg_advisory_xact_lock(k) FROM UNNEST($1::int8[]) AS t(k)")
            .bind(&keys)
            .execute(&mut *tx)
            .await?;
        let mut cols: [Vec<String>; 6] = Default::default();
        for c in claims {
            let values = [
                c.intent.pair.clone(),
                side_text(c.intent.source_side).to_string(),
                id_text(&c.intent.source_id),
                c.intent.direction.clone(),
                c.source_system.clone(),
                c.source_entity.clone(),
            ];
            for (col, value) in cols.iter_mut().zip(values) {
                col.push(value);
            }
        }
        // One statement, so one snapshot: a link committed together with the removal of its
        // intent is seen either as the intent or as the link, never as neither.
        let mut q = sqlx::query(
            "WITH c AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], \
             $5::text[], $6::text[]) WITH ORDINALITY \
             AS c(pair, side, source_id, direction, src_system, src_entity, n)) \
             SELECT c.n, 'link' AS kind, l.pair, l.a_id, l.b_id, l.a_hash, l.b_hash, \
             l.orphaned, NULL::text AS holder, NULL::text AS o_key, NULL::text AS o_direction, \
             NULL::text AS o_source_id, NULL::text AS o_target_system, \
             NULL::text AS o_target_entity, NULL::text AS o_payload \
             FROM c JOIN links l ON l.pair = c.pair AND c.side = 'a' AND l.a_id = c.source_id \
             UNION ALL SELECT c.n, 'link', l.pair, l.a_id, l.b_id, l.a_hash, l.b_hash, \
             l.orphaned, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
             FROM c JOIN links l ON l.pair = c.pair AND c.side = 'b' AND l.b_id = c.source_id \
             UNION ALL SELECT DISTINCT 0::bigint, 'open', NULL::text, NULL::text, NULL::text, \
             NULL::text, NULL::text, NULL::bool, i.holder, i.key, i.direction, i.source_id, i.target_system, i.target_entity, \
             i.payload FROM c JOIN intents i \
             ON (i.direction = c.direction AND i.source_id = c.source_id) \
             OR (i.target_system = c.src_system AND i.target_entity = c.src_entity)",
        );
        for col in cols {
            q = q.bind(col);
        }
        let rows = q.fetch_all(&mut *tx).await?;
        let mut links: HashMap<usize, Link> = HashMap::new();
        let mut open = Vec::new();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            if kind == "link" {
                let n: i64 = row.try_get("n")?;
                // WITH ORDINALITY counts from 1.
                let index = usize::try_from(n - 1).map_err(|_| StateError::Corrupt {
                    what: "claim ordinal",
                    message: n.to_string(),
                })?;
                links.insert(index, link_from_row(row)?);
            } else {
                let payload: String = row.try_get("o_payload")?;
                open.push(OpenIntent {
                    key: row.try_get("o_key")?,
                    holder: row.try_get("holder")?,
                    direction: row.try_get("o_direction")?,
                    source_id: row.try_get("o_source_id")?,
                    target_system: row.try_get("o_target_system")?,
                    target_entity: row.try_get("o_target_entity")?,
                    payload: serde_json::from_str(&payload).map_err(|e| StateError::Corrupt {
                        what: "intent payload",
                        message: e.to_string(),
                    })?,
                });
            }
        }
        let (outcomes, claimed) = claims::decide_all(holder, claims, links, open);
        insert_intents(&mut tx, &claimed, Some(holder)).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn claimed_intents(&self) -> Result<Vec<ClaimedIntent>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS}, holder FROM intents {INTENT_ORDER}"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedIntent {
                    intent: intent_from_row(r)?,
                    holder: r.try_get("holder")?,
                })
            })
            .collect()
    }
}

/// The advisory lock that serialises the claims of one source record in one direction.
fn claim_lock_key(direction: &str, source_id: &str) -> i64 {
    let mut hasher = Sha256::new();
    hasher.update(direction.as_bytes());
    hasher.update([0x1f]);
    hasher.update(source_id.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
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
    // A tokio mutex: `commit_leased` and `claim_creates` hold it across the store's work, so
    // that no lease changes hands and no claim slips in between a check and its write.
    state: tokio::sync::Mutex<LocalState>,
}

#[derive(Debug, Default)]
struct LocalState {
    slots: BTreeMap<WorkItem, Slot>,
    /// The worker that claimed each open intent, by intent key.
    claims: HashMap<String, String>,
    /// Announced workers and when their announcement expires.
    workers: HashMap<String, DateTime<Utc>>,
}

impl LocalLeases {
    /// Leases whose `commit_leased` commits to `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        LocalLeases {
            store,
            state: tokio::sync::Mutex::new(LocalState::default()),
        }
    }
}

fn expiry(ttl: Duration) -> DateTime<Utc> {
    Utc::now()
        .checked_add_signed(ttl_delta(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[async_trait]
impl Leases for LocalLeases {
    async fn register(&self, items: &[WorkItem]) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        for item in items {
            state.slots.entry(item.clone()).or_default();
        }
        Ok(())
    }

    async fn acquire(
        &self,
        holder: &str,
        max: usize,
        ttl: Duration,
    ) -> Result<Vec<Lease>, StateError> {
        let mut state = self.state.lock().await;
        let now = Utc::now();
        let expires_at = expiry(ttl);
        // Shard first, as on PostgreSQL.
        let mut free: Vec<&WorkItem> = state
            .slots
            .iter()
            .filter(|(_, slot)| slot.holder.is_none() || slot.expires_at.is_none_or(|t| t <= now))
            .map(|(item, _)| item)
            .collect();
        free.sort_by(|a, b| (a.shard, *a).cmp(&(b.shard, *b)));
        let chosen: Vec<WorkItem> = free.into_iter().take(max).cloned().collect();
        let mut out = Vec::with_capacity(chosen.len());
        for item in chosen {
            if let Some(slot) = state.slots.get_mut(&item) {
                slot.holder = Some(holder.to_string());
                slot.token += 1;
                slot.expires_at = Some(expires_at);
                out.push(Lease {
                    item,
                    holder: holder.to_string(),
                    token: slot.token,
                    expires_at,
                });
            }
        }
        out.sort_by(|a, b| a.item.cmp(&b.item));
        Ok(out)
    }

    async fn heartbeat(&self, leases: &[Lease], ttl: Duration) -> Result<Vec<Lease>, StateError> {
        let mut state = self.state.lock().await;
        let expires_at = expiry(ttl);
        let mut renewed = Vec::new();
        for lease in leases {
            if let Some(slot) = state.slots.get_mut(&lease.item).filter(|s| s.holds(lease)) {
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
        let mut state = self.state.lock().await;
        for lease in leases {
            if let Some(slot) = state.slots.get_mut(&lease.item).filter(|s| s.holds(lease)) {
                slot.holder = None;
                slot.expires_at = None;
            }
        }
        Ok(())
    }

    async fn commit_leased(&self, leases: &[Lease], batch: Batch) -> Result<(), LeaseError> {
        let mut state = self.state.lock().await;
        if let Some(lost) = leases
            .iter()
            .find(|l| !state.slots.get(&l.item).is_some_and(|s| s.holds(l)))
        {
            return Err(LeaseError::Lost {
                item: lost.item.clone(),
            });
        }
        let done = batch.intents_done.clone();
        self.store.commit(batch).await?;
        for key in done {
            state.claims.remove(&key);
        }
        drop(state);
        Ok(())
    }

    async fn items(&self) -> Result<Vec<ItemState>, StateError> {
        let state = self.state.lock().await;
        Ok(state
            .slots
            .iter()
            .map(|(item, slot)| ItemState {
                item: item.clone(),
                holder: slot.holder.clone(),
                token: slot.token,
                expires_at: slot.expires_at,
            })
            .collect())
    }

    async fn announce(&self, holder: &str, ttl: Duration) -> Result<(), StateError> {
        let mut state = self.state.lock().await;
        state.workers.insert(holder.to_string(), expiry(ttl));
        Ok(())
    }

    async fn workers(&self) -> Result<Vec<String>, StateError> {
        let state = self.state.lock().await;
        let now = Utc::now();
        let mut alive: Vec<String> = state
            .workers
            .iter()
            .filter(|(_, expires)| **expires > now)
            .map(|(holder, _)| holder.clone())
            .collect();
        alive.sort();
        Ok(alive)
    }

    async fn retire(&self, holder: &str) -> Result<(), StateError> {
        self.state.lock().await.workers.remove(holder);
        Ok(())
    }

    async fn claim_creates(
        &self,
        holder: &str,
        claims: &[CreateClaim],
    ) -> Result<Vec<ClaimOutcome>, StateError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let mut state = self.state.lock().await;
        let mut links = HashMap::new();
        for (n, claim) in claims.iter().enumerate() {
            let i = &claim.intent;
            let found = self
                .store
                .links(&i.pair, i.source_side, std::slice::from_ref(&i.source_id))
                .await?;
            if let Some(link) = found.into_iter().next() {
                links.insert(n, link);
            }
        }
        let open = self
            .store
            .intents()
            .await?
            .iter()
            .map(|i| OpenIntent::of(i, state.claims.get(&i.key).cloned()))
            .collect();
        let (outcomes, claimed) = claims::decide_all(holder, claims, links, open);
        self.store.put_intents(&claimed).await?;
        for intent in claimed {
            state.claims.insert(intent.key, holder.to_string());
        }
        Ok(outcomes)
    }

    async fn claimed_intents(&self) -> Result<Vec<ClaimedIntent>, StateError> {
        let state = self.state.lock().await;
        Ok(self
            .store
            .intents()
            .await?
            .into_iter()
            .map(|intent| ClaimedIntent {
                holder: state.claims.get(&intent.key).cloned(),
                intent,
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
