//! The SQLite [`StateStore`]: one file (WAL journal), migrations applied on open, a page of
//! changes committed in one transaction, multi-row statements for links.
//!
//! Unlike the PostgreSQL store, `links` rows name their pair by an integer (`pair_id`, from
//! the `pairs` table, migration 0002) instead of the pair key: the [`StateStore`] interface
//! still speaks pair keys, and the store maps them (a key's id never changes, so it is
//! cached).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

use super::{
    Batch, Conflict, Counts, DeadLetter, Deferral, Intent, Link, Run, Side, StateError, StateStore,
    id_from_text, id_text,
};
use crate::flow::RecordId;

/// Rows per multi-row statement (SQLite allows 32766 bound values).
const CHUNK: usize = 400;

/// The SQLite state store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Pair key → `pairs.id`, for the pairs seen so far.
    pair_ids: Arc<Mutex<HashMap<String, i64>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, StateError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // 32 MiB of page cache (the default is 2 MiB): link lookups of a large store
            // then stay in memory, and memory stays bounded whatever the store's size.
            .pragma("cache_size", "-32768")
            .busy_timeout(std::time::Duration::from_secs(10));
        Self::with_options(options).await
    }

    /// A store that lives in memory (tests).
    pub async fn in_memory() -> Result<Self, StateError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        Self::with_options(options).await
    }

    async fn with_options(options: SqliteConnectOptions) -> Result<Self, StateError> {
        // One connection: the engine is the single writer, and an in-memory database exists
        // only on its connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.foreign_keys(true))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            pair_ids: Arc::default(),
        })
    }

    fn cached_pair_id(&self, key: &str) -> Option<i64> {
        self.pair_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
    }

    /// The id of pair `key`; `None` when no link of the pair was ever stored.
    async fn pair_id(&self, key: &str) -> Result<Option<i64>, StateError> {
        if let Some(id) = self.cached_pair_id(key) {
            return Ok(Some(id));
        }
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM pairs WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(id) = id {
            self.remember_pair(key, id);
        }
        Ok(id)
    }

    /// The id of pair `key`, given now if it has none. Outside the caller's transaction: a
    /// pair without links is harmless, and an id is cached only once it is committed.
    async fn pair_id_or_new(&self, key: &str) -> Result<i64, StateError> {
        if let Some(id) = self.pair_id(key).await? {
            return Ok(id);
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO pairs (key) VALUES (?) ON CONFLICT (key) DO UPDATE SET key = excluded.key \
             RETURNING id",
        )
        .bind(key)
        .fetch_one(&self.pool)
        .await?;
        self.remember_pair(key, id);
        Ok(id)
    }

    fn remember_pair(&self, key: &str, id: i64) {
        self.pair_ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), id);
    }
}

fn side_text(side: Side) -> &'static str {
    match side {
        Side::A => "a",
        Side::B => "b",
    }
}

fn side_from_text(text: &str) -> Result<Side, StateError> {
    match text {
        "a" => Ok(Side::A),
        "b" => Ok(Side::B),
        other => Err(StateError::Corrupt {
            what: "side",
            message: other.to_string(),
        }),
    }
}

fn json_from_text(what: &'static str, text: &str) -> Result<Value, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Corrupt {
        what,
        message: e.to_string(),
    })
}

fn time_from_text(text: &str) -> Result<DateTime<Utc>, StateError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StateError::Corrupt {
            what: "timestamp",
            message: e.to_string(),
        })
}

/// A link from a row of `links` (joined with `pairs` for the key, or of pair `pair`).
fn link_from_row(row: &sqlx::sqlite::SqliteRow, pair: Option<&str>) -> Result<Link, StateError> {
    Ok(Link {
        pair: match pair {
            Some(pair) => pair.to_string(),
            None => row.try_get("pair")?,
        },
        a_id: id_from_text(&row.try_get::<String, _>("a_id")?)?,
        b_id: id_from_text(&row.try_get::<String, _>("b_id")?)?,
        a_hash: row.try_get("a_hash")?,
        b_hash: row.try_get("b_hash")?,
        orphaned: row.try_get::<i64, _>("orphaned")? != 0,
    })
}

async fn counts_by(
    pool: &SqlitePool,
    sql: &str,
) -> Result<std::collections::HashMap<String, i64>, StateError> {
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

/// The start of a links lookup by one side's ids, up to `pair_id = `.
///
/// With a long `IN` list and no `ANALYZE` statistics, SQLite's planner prefers the primary
/// key's `pair` prefix over `links_by_b` for b-side lookups, which scans every link of the
/// pair once per page (quadratic over a run): the index is named explicitly.
fn links_select(side: Side) -> &'static str {
    match side {
        Side::A => "SELECT a_id, b_id, a_hash, b_hash, orphaned FROM links WHERE pair_id = ",
        Side::B => {
            "SELECT a_id, b_id, a_hash, b_hash, orphaned FROM links INDEXED BY links_by_b \
             WHERE pair_id = "
        }
    }
}

fn links_id_column(side: Side) -> &'static str {
    match side {
        Side::A => "a_id",
        Side::B => "b_id",
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn links(
        &self,
        pair: &str,
        side: Side,
        ids: &[RecordId],
    ) -> Result<Vec<Link>, StateError> {
        let mut out = Vec::with_capacity(ids.len());
        let Some(pair_id) = self.pair_id(pair).await? else {
            return Ok(out);
        };
        for chunk in ids.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(links_select(side));
            q.push_bind(pair_id);
            q.push(" AND ");
            q.push(links_id_column(side));
            q.push(" IN (");
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(id_text(id));
            }
            q.push(")");
            for row in q.build().fetch_all(&self.pool).await? {
                out.push(link_from_row(&row, Some(pair))?);
            }
        }
        Ok(out)
    }

    async fn all_links(&self, pair: Option<&str>) -> Result<Vec<Link>, StateError> {
        let rows = match pair {
            Some(pair) => {
                sqlx::query(
                    "SELECT p.key AS pair, l.a_id, l.b_id, l.a_hash, l.b_hash, l.orphaned \
                     FROM links l JOIN pairs p ON p.id = l.pair_id \
                     WHERE p.key = ? ORDER BY p.key, l.a_id",
                )
                .bind(pair)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT p.key AS pair, l.a_id, l.b_id, l.a_hash, l.b_hash, l.orphaned \
                     FROM links l JOIN pairs p ON p.id = l.pair_id ORDER BY p.key, l.a_id",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(|r| link_from_row(r, None)).collect()
    }

    async fn cursor(&self, system: &str, entity: &str) -> Result<Option<String>, StateError> {
        let row = sqlx::query("SELECT cursor FROM cursors WHERE system = ? AND entity = ?")
            .bind(system)
            .bind(entity)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn put_intents(&self, intents: &[Intent]) -> Result<(), StateError> {
        if intents.is_empty() {
            return Ok(());
        }
        let now = Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        for chunk in intents.chunks(CHUNK / 4) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR REPLACE INTO intents (key, direction, pair, source_side, source_id, \
                 target_system, target_entity, payload, source_hash, target_hash, created_at) ",
            );
            q.push_values(chunk, |mut b, i| {
                b.push_bind(i.key.as_str())
                    .push_bind(i.direction.as_str())
                    .push_bind(i.pair.as_str())
                    .push_bind(side_text(i.source_side))
                    .push_bind(id_text(&i.source_id))
                    .push_bind(i.target_system.as_str())
                    .push_bind(i.target_entity.as_str())
                    .push_bind(i.payload.to_string())
                    .push_bind(i.source_hash.as_str())
                    .push_bind(i.target_hash.as_str())
                    .push_bind(now.as_str());
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn intents(&self) -> Result<Vec<Intent>, StateError> {
        let rows = sqlx::query(
            "SELECT key, direction, pair, source_side, source_id, target_system, target_entity, \
             payload, source_hash, target_hash FROM intents ORDER BY created_at, key",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Intent {
                    key: r.try_get("key")?,
                    direction: r.try_get("direction")?,
                    pair: r.try_get("pair")?,
                    source_side: side_from_text(&r.try_get::<String, _>("source_side")?)?,
                    source_id: id_from_text(&r.try_get::<String, _>("source_id")?)?,
                    target_system: r.try_get("target_system")?,
                    target_entity: r.try_get("target_entity")?,
                    payload: json_from_text("intent payload", &r.try_get::<String, _>("payload")?)?,
                    source_hash: r.try_get("source_hash")?,
                    target_hash: r.try_get("target_hash")?,
                })
            })
            .collect()
    }

    async fn deferrals(&self) -> Result<Vec<Deferral>, StateError> {
        let rows = sqlx::query(
            "SELECT direction, record_id, reason FROM deferred ORDER BY since, direction, record_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Deferral {
                    direction: r.try_get("direction")?,
                    record_id: id_from_text(&r.try_get::<String, _>("record_id")?)?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        let rows = sqlx::query(
            "SELECT id, direction, record_id, payload, error, attempts, created_at \
             FROM dead_letters ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    id: r.try_get("id")?,
                    direction: r.try_get("direction")?,
                    record_id: id_from_text(&r.try_get::<String, _>("record_id")?)?,
                    payload: json_from_text(
                        "dead letter payload",
                        &r.try_get::<String, _>("payload")?,
                    )?,
                    error: r.try_get("error")?,
                    attempts: r.try_get("attempts")?,
                    created_at: time_from_text(&r.try_get::<String, _>("created_at")?)?,
                })
            })
            .collect()
    }

    async fn conflicts(&self) -> Result<Vec<Conflict>, StateError> {
        let rows = sqlx::query(
            "SELECT direction, pair, a_id, b_id, winner, winner_values, loser_values, at \
             FROM conflicts ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Conflict {
                    direction: r.try_get("direction")?,
                    pair: r.try_get("pair")?,
                    a_id: id_from_text(&r.try_get::<String, _>("a_id")?)?,
                    b_id: id_from_text(&r.try_get::<String, _>("b_id")?)?,
                    winner: side_from_text(&r.try_get::<String, _>("winner")?)?,
                    winner_values: json_from_text(
                        "conflict",
                        &r.try_get::<String, _>("winner_values")?,
                    )?,
                    loser_values: json_from_text(
                        "conflict",
                        &r.try_get::<String, _>("loser_values")?,
                    )?,
                    at: time_from_text(&r.try_get::<String, _>("at")?)?,
                })
            })
            .collect()
    }

    async fn commit(&self, batch: Batch) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        let now = Utc::now().to_rfc3339();
        let mut pair_ids = HashMap::new();
        for l in &batch.links {
            if !pair_ids.contains_key(l.pair.as_str()) {
                pair_ids.insert(l.pair.as_str(), self.pair_id_or_new(&l.pair).await?);
            }
        }
        let mut tx = self.pool.begin().await?;
        for chunk in batch.links.chunks(CHUNK / 8) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO links (pair_id, a_id, b_id, a_hash, b_hash, orphaned, created_at, \
                 updated_at) ",
            );
            q.push_values(chunk, |mut b, l| {
                b.push_bind(pair_ids.get(l.pair.as_str()).copied().unwrap_or_default())
                    .push_bind(id_text(&l.a_id))
                    .push_bind(id_text(&l.b_id))
                    .push_bind(l.a_hash.as_deref())
                    .push_bind(l.b_hash.as_deref())
                    .push_bind(i64::from(l.orphaned))
                    .push_bind(now.as_str())
                    .push_bind(now.as_str());
            });
            q.push(
                " ON CONFLICT (pair_id, a_id) DO UPDATE SET b_id = excluded.b_id, \
                 a_hash = excluded.a_hash, b_hash = excluded.b_hash, \
                 orphaned = excluded.orphaned, updated_at = excluded.updated_at",
            );
            q.build().execute(&mut *tx).await?;
        }
        for (system, entity, cursor) in &batch.cursors {
            sqlx::query(
                "INSERT INTO cursors (system, entity, cursor, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (system, entity) DO UPDATE SET cursor = excluded.cursor, \
                 updated_at = excluded.updated_at",
            )
            .bind(system)
            .bind(entity)
            .bind(cursor)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in batch.intents_done.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("DELETE FROM intents WHERE key IN (");
            let mut sep = q.separated(", ");
            for key in chunk {
                sep.push_bind(key.as_str());
            }
            q.push(")");
            q.build().execute(&mut *tx).await?;
        }
        for (direction, id) in &batch.undeferred {
            sqlx::query("DELETE FROM deferred WHERE direction = ? AND record_id = ?")
                .bind(direction)
                .bind(id_text(id))
                .execute(&mut *tx)
                .await?;
        }
        for d in &batch.deferred {
            sqlx::query(
                "INSERT INTO deferred (direction, record_id, reason, since) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (direction, record_id) DO UPDATE SET reason = excluded.reason",
            )
            .bind(&d.direction)
            .bind(id_text(&d.record_id))
            .bind(&d.reason)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        for (direction, id) in &batch.resolved_dead_letters {
            sqlx::query("DELETE FROM dead_letters WHERE direction = ? AND record_id = ?")
                .bind(direction)
                .bind(id_text(id))
                .execute(&mut *tx)
                .await?;
        }
        for (direction, id, payload, error) in &batch.dead_letters {
            sqlx::query(
                "INSERT INTO dead_letters (direction, record_id, payload, error, attempts, created_at) \
                 VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (direction, record_id) DO UPDATE SET \
                 payload = excluded.payload, error = excluded.error, attempts = attempts + 1",
            )
            .bind(direction)
            .bind(id_text(id))
            .bind(payload.to_string())
            .bind(error)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        for c in &batch.conflicts {
            sqlx::query(
                "INSERT INTO conflicts (direction, pair, a_id, b_id, winner, winner_values, \
                 loser_values, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&c.direction)
            .bind(&c.pair)
            .bind(id_text(&c.a_id))
            .bind(id_text(&c.b_id))
            .bind(side_text(c.winner))
            .bind(c.winner_values.to_string())
            .bind(c.loser_values.to_string())
            .bind(c.at.to_rfc3339())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn start_run(&self, at: DateTime<Utc>) -> Result<i64, StateError> {
        let row =
            sqlx::query("INSERT INTO runs (started_at, status) VALUES (?, 'running') RETURNING id")
                .bind(at.to_rfc3339())
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get(0)?)
    }

    async fn finish_run(
        &self,
        id: i64,
        at: DateTime<Utc>,
        status: &str,
        report: &Value,
    ) -> Result<(), StateError> {
        sqlx::query("UPDATE runs SET finished_at = ?, status = ?, report = ? WHERE id = ?")
            .bind(at.to_rfc3339())
            .bind(status)
            .bind(report.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn runs(&self, limit: i64) -> Result<Vec<Run>, StateError> {
        let rows = sqlx::query(
            "SELECT id, started_at, finished_at, status, report FROM runs ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Run {
                    id: r.try_get("id")?,
                    started_at: time_from_text(&r.try_get::<String, _>("started_at")?)?,
                    finished_at: r
                        .try_get::<Option<String>, _>("finished_at")?
                        .map(|t| time_from_text(&t))
                        .transpose()?,
                    status: r.try_get("status")?,
                    report: json_from_text("run report", &r.try_get::<String, _>("report")?)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StateError> {
        Ok(Counts {
            links: counts_by(
                &self.pool,
                "SELECT p.key, COUNT(*) FROM links l JOIN pairs p ON p.id = l.pair_id \
                 GROUP BY p.key",
            )
            .await?,
            deferred: counts_by(
                &self.pool,
                "SELECT direction, COUNT(*) FROM deferred GROUP BY direction",
            )
            .await?,
            dead_letters: counts_by(
                &self.pool,
                "SELECT direction, COUNT(*) FROM dead_letters GROUP BY direction",
            )
            .await?,
            conflicts: counts_by(
                &self.pool,
                "SELECT direction, COUNT(*) FROM conflicts GROUP BY direction",
            )
            .await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn link(a: i64, b: &str) -> Link {
        Link {
            pair: "P".into(),
            a_id: RecordId::Int(a),
            b_id: RecordId::from(b),
            a_hash: Some("ha".into()),
            b_hash: None,
            orphaned: false,
        }
    }

    #[test]
    fn link_lookups_search_an_index_on_both_sides() {
        block(async {
            let store = SqliteStore::in_memory().await.expect("store");
            for (side, expected) in [
                (Side::A, "PRIMARY KEY (pair_id=? AND a_id=?)"),
                (Side::B, "INDEX links_by_b (pair_id=? AND b_id=?)"),
            ] {
                let placeholders = vec!["?"; 400].join(", ");
                let sql = format!(
                    "EXPLAIN QUERY PLAN {}? AND {} IN ({placeholders})",
                    links_select(side),
                    links_id_column(side)
                );
                let mut query = sqlx::query(&sql).bind(1i64);
                for i in 0..400 {
                    query = query.bind(i.to_string());
                }
                let rows = query.fetch_all(&store.pool).await.expect("plan");
                let plan: Vec<String> = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>(3).expect("detail"))
                    .collect();
                assert!(
                    plan.iter().any(|d| d.contains(expected)),
                    "{side:?}: {plan:?}"
                );
            }
        });
    }

    #[test]
    fn links_round_trip_and_upsert() {
        block(async {
            let store = SqliteStore::in_memory().await.expect("store");
            let mut batch = Batch {
                links: (1..=1000).map(|i| link(i, &format!("b{i}"))).collect(),
                ..Batch::default()
            };
            batch.cursors.push(("S".into(), "E".into(), "7".into()));
            store.commit(batch).await.expect("commit");
            let ids: Vec<RecordId> = (995..=1005).map(RecordId::Int).collect();
            let found = store.links("P", Side::A, &ids).await.expect("links");
            assert_eq!(found.len(), 6);
            let by_b = store
                .links("P", Side::B, &[RecordId::from("b3")])
                .await
                .expect("links");
            assert_eq!(by_b, vec![link(3, "b3")]);
            let mut changed = link(3, "b3");
            changed.b_hash = Some("hb".into());
            store
                .commit(Batch {
                    links: vec![changed.clone()],
                    ..Batch::default()
                })
                .await
                .expect("commit");
            assert_eq!(
                store
                    .links("P", Side::A, &[RecordId::Int(3)])
                    .await
                    .expect("links"),
                vec![changed]
            );
            assert_eq!(
                store.cursor("S", "E").await.expect("cursor").as_deref(),
                Some("7")
            );
            assert_eq!(store.cursor("S", "F").await.expect("cursor"), None);
            assert_eq!(
                store.counts().await.expect("counts").links.get("P"),
                Some(&1000)
            );
        });
    }

    #[test]
    fn second_link_on_one_b_record_is_refused() {
        block(async {
            let store = SqliteStore::in_memory().await.expect("store");
            let batch = Batch {
                links: vec![link(1, "b"), link(2, "b")],
                ..Batch::default()
            };
            assert!(store.commit(batch).await.is_err());
            assert!(store.all_links(None).await.expect("links").is_empty());
        });
    }

    #[test]
    fn intents_dead_letters_conflicts_runs() {
        block(async {
            let dir = tempfile::tempdir().expect("dir");
            let store = SqliteStore::open(&dir.path().join("flowgen.db"))
                .await
                .expect("store");
            let intent = Intent {
                key: "k".into(),
                direction: "d".into(),
                pair: "P".into(),
                source_side: Side::B,
                source_id: RecordId::from("x"),
                target_system: "S".into(),
                target_entity: "E".into(),
                payload: json!({"a": 1}),
                source_hash: "h1".into(),
                target_hash: "h2".into(),
            };
            store
                .put_intents(std::slice::from_ref(&intent))
                .await
                .expect("intents");
            assert_eq!(store.intents().await.expect("intents"), vec![intent]);
            let batch = Batch {
                intents_done: vec!["k".into()],
                dead_letters: vec![("d".into(), RecordId::Int(1), json!({"p": 1}), "boom".into())],
                deferred: vec![Deferral {
                    direction: "d".into(),
                    record_id: RecordId::Int(2),
                    reason: "r".into(),
                }],
                ..Batch::default()
            };
            store.commit(batch.clone()).await.expect("commit");
            store.commit(batch).await.expect("commit again");
            assert!(store.intents().await.expect("intents").is_empty());
            let dead = store.dead_letters().await.expect("dead");
            assert_eq!(dead.len(), 1);
            assert_eq!(dead[0].attempts, 2);
            assert_eq!(dead[0].payload, json!({"p": 1}));
            assert_eq!(store.deferrals().await.expect("deferred").len(), 1);
            let run = store.start_run(Utc::now()).await.expect("run");
            store
                .finish_run(run, Utc::now(), "ok", &json!({"created": 1}))
                .await
                .expect("finish");
            let runs = store.runs(5).await.expect("runs");
            assert_eq!(runs[0].status, "ok");
            assert_eq!(runs[0].report, json!({"created": 1}));
        });
    }
}
