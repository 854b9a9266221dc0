//! What the engine remembers between runs: links, per-side hashes, cursors, create intents,
//! deferrals, dead letters, the conflict log and run history.
//!
//! [`StateStore`] is the interface; [`sqlite::SqliteStore`] the implementation (a file,
//! `flowgen.db` by default). Its schema (`runtime/migrations/sqlite/`):
//!
//! | table | key | holds |
//! |---|---|---|
//! | `links` | (`pair_id`, `a_id`), unique (`pair_id`, `b_id`) | a link between record `a_id` of side A and `b_id` of side B of an entity pair; `a_hash`/`b_hash`: hash of the mapped values last written to or read from each side |
//! | `pairs` | `id`; unique `key` | the pair keys links refer to by `pair_id` |
//! | `cursors` | (`system`, `entity`) | the change cursor reached |
//! | `intents` | `key` (the idempotency key) | a create about to be requested: direction, source id, target, payload |
//! | `deferred` | (`direction`, `record_id`) | records waiting for a referenced record to be linked |
//! | `dead_letters` | `id`; unique (`direction`, `record_id`) | permanent failures with payload and error |
//! | `conflicts` | `id` | both sides changed: the winner, and the loser's values |
//! | `runs` | `id` | run history with the report as JSON |
//!
//! The PostgreSQL store (`runtime/migrations/postgres/`) has the same tables (except
//! `pairs`: its `links` rows hold the pair key itself), plus what several workers share: `leases` (work items and their holders, [`leases`]), `workers` (who
//! is alive) and an intent's `holder` (the worker that claimed the create, [`claims`]).
//!
//! A *pair* is the unordered pair of entities a flow and its inverse link, written
//! `System/Entity|System/Entity` with the smaller entity first (side A). Record ids are
//! stored as their JSON text (`12`, `"cb_1"`), so integer and string ids keep their type.

pub mod claims;
pub mod leases;
pub mod postgres;
pub mod sqlite;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::flow::RecordId;

pub use claims::{ClaimOutcome, ClaimedIntent, CreateClaim};
pub use leases::{Backend, Leases};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Opens the store named by a `state:` setting or `--state`: a `postgres://…` or
/// `postgresql://…` URL, else the path of a SQLite file. [`Backend::open`] also gives the
/// store's leases, for several workers.
pub async fn open(url_or_path: &str) -> Result<Arc<dyn StateStore>, StateError> {
    Ok(Backend::open(url_or_path).await?.store)
}

/// A state store failure.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("state store migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("state store holds an invalid {what}: {message}")]
    Corrupt { what: &'static str, message: String },
}

/// Which side of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }
}

/// A link between two records of an entity pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub pair: String,
    pub a_id: RecordId,
    pub b_id: RecordId,
    pub a_hash: Option<String>,
    pub b_hash: Option<String>,
    pub orphaned: bool,
}

impl Link {
    pub fn id(&self, side: Side) -> &RecordId {
        match side {
            Side::A => &self.a_id,
            Side::B => &self.b_id,
        }
    }

    pub fn hash(&self, side: Side) -> Option<&str> {
        match side {
            Side::A => self.a_hash.as_deref(),
            Side::B => self.b_hash.as_deref(),
        }
    }

    pub fn set_hash(&mut self, side: Side, hash: String) {
        match side {
            Side::A => self.a_hash = Some(hash),
            Side::B => self.b_hash = Some(hash),
        }
    }
}

/// A create about to be requested, stored before the request so that a crash cannot lead to
/// a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Intent {
    pub key: String,
    pub direction: String,
    pub pair: String,
    /// The side the source record is on.
    pub source_side: Side,
    pub source_id: RecordId,
    pub target_system: String,
    pub target_entity: String,
    pub payload: Value,
    pub source_hash: String,
    pub target_hash: String,
}

/// A record waiting for a referenced record to be linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deferral {
    pub direction: String,
    pub record_id: RecordId,
    pub reason: String,
}

/// A permanent failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub direction: String,
    pub record_id: RecordId,
    pub payload: Value,
    pub error: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// A conflict: both sides of a link changed since the last sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub direction: String,
    pub pair: String,
    pub a_id: RecordId,
    pub b_id: RecordId,
    /// The side whose values were kept.
    pub winner: Side,
    pub winner_values: Value,
    pub loser_values: Value,
    pub at: DateTime<Utc>,
}

/// One run of the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub id: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub report: Value,
}

/// Everything a page of records changes in the store, committed in one transaction.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// Inserted or replaced (by pair and `a_id`).
    pub links: Vec<Link>,
    pub cursors: Vec<(String, String, String)>,
    pub intents_done: Vec<String>,
    pub deferred: Vec<Deferral>,
    pub undeferred: Vec<(String, RecordId)>,
    pub dead_letters: Vec<(String, RecordId, Value, String)>,
    pub resolved_dead_letters: Vec<(String, RecordId)>,
    pub conflicts: Vec<Conflict>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
            && self.cursors.is_empty()
            && self.intents_done.is_empty()
            && self.deferred.is_empty()
            && self.undeferred.is_empty()
            && self.dead_letters.is_empty()
            && self.resolved_dead_letters.is_empty()
            && self.conflicts.is_empty()
    }
}

/// Counts per pair and per direction for `flowgen status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub links: HashMap<String, i64>,
    pub deferred: HashMap<String, i64>,
    pub dead_letters: HashMap<String, i64>,
    pub conflicts: HashMap<String, i64>,
}

/// The engine's memory between runs.
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// The links of `pair` whose `side` id is one of `ids`.
    async fn links(
        &self,
        pair: &str,
        side: Side,
        ids: &[RecordId],
    ) -> Result<Vec<Link>, StateError>;
    /// Every link (of one pair, or all), for `flowgen links`.
    async fn all_links(&self, pair: Option<&str>) -> Result<Vec<Link>, StateError>;
    async fn cursor(&self, system: &str, entity: &str) -> Result<Option<String>, StateError>;
    /// Stores intents before their create requests, in one transaction.
    async fn put_intents(&self, intents: &[Intent]) -> Result<(), StateError>;
    async fn intents(&self) -> Result<Vec<Intent>, StateError>;
    async fn deferrals(&self) -> Result<Vec<Deferral>, StateError>;
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError>;
    async fn conflicts(&self) -> Result<Vec<Conflict>, StateError>;
    async fn commit(&self, batch: Batch) -> Result<(), StateError>;
    async fn start_run(&self, at: DateTime<Utc>) -> Result<i64, StateError>;
    async fn finish_run(
        &self,
        id: i64,
        at: DateTime<Utc>,
        status: &str,
        report: &Value,
    ) -> Result<(), StateError>;
    async fn runs(&self, limit: i64) -> Result<Vec<Run>, StateError>;
    async fn counts(&self) -> Result<Counts, StateError>;
}

/// A record id as stored: its JSON text.
pub fn id_text(id: &RecordId) -> String {
    match id {
        RecordId::Int(i) => i.to_string(),
        RecordId::Text(s) => serde_json::to_string(s).unwrap_or_default(),
    }
}

/// A stored record id back.
pub fn id_from_text(text: &str) -> Result<RecordId, StateError> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| match v {
            Value::Number(n) => n.as_i64().map(RecordId::Int),
            Value::String(s) => Some(RecordId::Text(s)),
            _ => None,
        })
        .ok_or_else(|| StateError::Corrupt {
            what: "record id",
            message: text.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_type() {
        for id in [
            RecordId::Int(12),
            RecordId::from("12"),
            RecordId::from("a\"b"),
        ] {
            assert_eq!(id_from_text(&id_text(&id)).expect("id"), id);
        }
        assert!(id_from_text("[1]").is_err());
    }
}
