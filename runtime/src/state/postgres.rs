//! The PostgreSQL [`StateStore`]: the same tables and semantics as [`super::SqliteStore`], for
//! several workers on several machines sharing one state (they split the work by the leases of
//! [`super::leases`]).
//!
//! Record ids and JSON values are stored as their JSON text, as in SQLite, so both stores read
//! back exactly what was written; timestamps are `TIMESTAMPTZ` (microseconds). A page of changes
//! is committed in one transaction with one array-bound statement per kind of change
//! (`UNNEST`), so a page costs a handful of round trips whatever its size.
//!
//! The schema lives in the connection's `search_path` (`public` by default); a URL like
//! `postgres://host/db?options=-csearch_path%3Dflowgen` keeps it in a schema of its own.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Postgres, Row, Transaction};

use super::{
    Batch, Conflict, Counts, DeadLetter, Deferral, Intent, Link, Run, Side, StateError, StateStore,
    id_from_text, id_text,
};
use crate::flow::RecordId;

/// Connections per store: a worker runs a few flows at once, and PostgreSQL's default limit
/// of 100 connections is shared by all workers.
const MAX_CONNECTIONS: u32 = 8;

/// Rows per array-bound statement: bounds the size of one statement, not a protocol limit.
const CHUNK: usize = 5_000;

/// The PostgreSQL state store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…` or `postgresql://…`) and applies the migrations.
    pub async fn open(url: &str) -> Result<Self, StateError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with `options` (for instance with a `search_path` of its own) and applies the
    /// migrations.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StateError> {
        let options = options.application_name("flowgen");
        // One connection first: the pool retries a refused connection until its acquire
        // timeout and then reports only "timed out"; this names the cause at once.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        // Several workers starting at once: the migrator serialises them with an advisory lock.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool })
    }

    /// The connection pool (leases and benchmarks use it).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub(crate) fn side_text(side: Side) -> &'static str {
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

/// PostgreSQL text cannot hold NUL characters; free text from remote systems (error messages,
/// reasons) may. They are replaced rather than failing the whole page.
fn clean(text: &str) -> String {
    text.replace('\0', "\u{fffd}")
}

/// Splits `items` into consecutive runs with no key twice: one `INSERT … ON CONFLICT DO UPDATE`
/// may not touch a row twice, while SQLite applies the rows of a statement one after another.
/// Applying the runs in order gives the same result as SQLite's row-by-row upsert.
fn runs_without_duplicates<'a, T, K: Eq + Hash>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a [T]> {
    let mut runs = Vec::new();
    let mut seen = HashSet::new();
    let mut start = 0;
    for (i, item) in items.iter().enumerate() {
        let k = key(item);
        if i - start >= CHUNK || seen.contains(&k) {
            runs.push(&items[start..i]);
            seen.clear();
            start = i;
        }
        seen.insert(k);
    }
    if start < items.len() {
        runs.push(&items[start..]);
    }
    runs
}

pub(crate) fn link_from_row(row: &PgRow) -> Result<Link, StateError> {
    Ok(Link {
        pair: row.try_get("pair")?,
        a_id: id_from_text(&row.try_get::<String, _>("a_id")?)?,
        b_id: id_from_text(&row.try_get::<String, _>("b_id")?)?,
        a_hash: row.try_get("a_hash")?,
        b_hash: row.try_get("b_hash")?,
        orphaned: row.try_get("orphaned")?,
    })
}

async fn counts_by(pool: &PgPool, sql: &str) -> Result<HashMap<String, i64>, StateError> {
    let rows = sqlx::query(sql).fetch_all(pool).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect()
}

/// The columns of an [`Intent`], as [`intent_from_row`] reads them.
pub(crate) const INTENT_COLUMNS: &str = "key, direction, pair, source_side, source_id, \
     target_system, target_entity, payload, source_hash, target_hash";
/// Intents in the order they were stored.
pub(crate) const INTENT_ORDER: &str = "ORDER BY created_at, key COLLATE \"C\"";

pub(crate) fn intent_from_row(r: &PgRow) -> Result<Intent, StateError> {
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
}

/// Stores `intents` inside `tx`, claimed by `holder` (a worker) or by nobody (`flowgen sync`).
pub(crate) async fn insert_intents(
    tx: &mut Transaction<'_, Postgres>,
    intents: &[Intent],
    holder: Option<&str>,
) -> Result<(), StateError> {
    let now = Utc::now();
    for run in runs_without_duplicates(intents, |i| i.key.as_str()) {
        let mut cols: [Vec<String>; 10] = Default::default();
        for i in run {
            let values = [
                i.key.clone(),
                i.direction.clone(),
                i.pair.clone(),
                side_text(i.source_side).to_string(),
                id_text(&i.source_id),
                i.target_system.clone(),
                i.target_entity.clone(),
                i.payload.to_string(),
                i.source_hash.clone(),
                i.target_hash.clone(),
            ];
            for (col, value) in cols.iter_mut().zip(values) {
                col.push(value);
            }
        }
        let mut q = sqlx::query(
            "INSERT INTO intents (key, direction, pair, source_side, source_id, \
             target_system, target_entity, payload, source_hash, target_hash, created_at, holder) \
             SELECT key, direction, pair, source_side, source_id, target_system, \
             target_entity, payload, source_hash, target_hash, $11, $12 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) \
             AS t(key, direction, pair, source_side, source_id, target_system, \
             target_entity, payload, source_hash, target_hash) \
             ON CONFLICT (key) DO UPDATE SET direction = excluded.direction, \
             pair = excluded.pair, source_side = excluded.source_side, \
             source_id = excluded.source_id, target_system = excluded.target_system, \
             target_entity = excluded.target_entity, payload = excluded.payload, \
             source_hash = excluded.source_hash, target_hash = excluded.target_hash, \
             created_at = excluded.created_at, holder = excluded.holder",
        );
        for col in cols {
            q = q.bind(col);
        }
        q.bind(now).bind(holder).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Writes `batch` inside `tx`, in the order SQLite does (so a key both deferred and undeferred,
/// or resolved and failed again, ends the same on both stores).
pub(crate) async fn write_batch(
    tx: &mut Transaction<'_, Postgres>,
    batch: &Batch,
) -> Result<(), StateError> {
    let now = Utc::now();
    for run in runs_without_duplicates(&batch.links, |l| (l.pair.as_str(), id_text(&l.a_id))) {
        let (mut pair, mut a, mut b, mut ah, mut bh, mut orphaned) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for l in run {
            pair.push(l.pair.clone());
            a.push(id_text(&l.a_id));
            b.push(id_text(&l.b_id));
            ah.push(l.a_hash.clone());
            bh.push(l.b_hash.clone());
            orphaned.push(l.orphaned);
        }
        sqlx::query(
            "INSERT INTO links (pair, a_id, b_id, a_hash, b_hash, orphaned, created_at, updated_at) \
             SELECT pair, a_id, b_id, a_hash, b_hash, orphaned, $7, $7 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[]) \
             WITH ORDINALITY AS t(pair, a_id, b_id, a_hash, b_hash, orphaned, ord) ORDER BY ord \
             ON CONFLICT (pair, a_id) DO UPDATE SET b_id = excluded.b_id, \
             a_hash = excluded.a_hash, b_hash = excluded.b_hash, \
             orphaned = excluded.orphaned, updated_at = excluded.updated_at",
        )
        .bind(pair)
        .bind(a)
        .bind(b)
        .bind(ah)
        .bind(bh)
        .bind(orphaned)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for run in runs_without_duplicates(&batch.cursors, |(s, e, _)| (s.as_str(), e.as_str())) {
        let (mut system, mut entity, mut cursor) = (vec![], vec![], vec![]);
        for (s, e, c) in run {
            system.push(s.as_str());
            entity.push(e.as_str());
            cursor.push(c.as_str());
        }
        sqlx::query(
            "INSERT INTO cursors (system, entity, cursor, updated_at) \
             SELECT system, entity, cursor, $4 \
             FROM UNNEST($1::text[], $2::text[], $3::text[]) AS t(system, entity, cursor) \
             ON CONFLICT (system, entity) DO UPDATE SET cursor = excluded.cursor, \
             updated_at = excluded.updated_at",
        )
        .bind(system)
        .bind(entity)
        .bind(cursor)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for keys in batch.intents_done.chunks(CHUNK) {
        sqlx::query("DELETE FROM intents WHERE key = ANY($1::text[])")
            .bind(keys)
            .execute(&mut **tx)
            .await?;
    }
    for chunk in batch.undeferred.chunks(CHUNK) {
        let (direction, id): (Vec<&str>, Vec<String>) = chunk
            .iter()
            .map(|(d, id)| (d.as_str(), id_text(id)))
            .unzip();
        sqlx::query(
            "DELETE FROM deferred d USING UNNEST($1::text[], $2::text[]) AS u(direction, record_id) \
             WHERE d.direction = u.direction AND d.record_id = u.record_id",
        )
        .bind(direction)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    for run in runs_without_duplicates(&batch.deferred, |d| {
        (d.direction.as_str(), id_text(&d.record_id))
    }) {
        let (mut direction, mut id, mut reason) = (vec![], vec![], vec![]);
        for d in run {
            direction.push(d.direction.as_str());
            id.push(id_text(&d.record_id));
            reason.push(clean(&d.reason));
        }
        sqlx::query(
            "INSERT INTO deferred (direction, record_id, reason, since) \
             SELECT direction, record_id, reason, $4 \
             FROM UNNEST($1::text[], $2::text[], $3::text[]) AS t(direction, record_id, reason) \
             ON CONFLICT (direction, record_id) DO UPDATE SET reason = excluded.reason",
        )
        .bind(direction)
        .bind(id)
        .bind(reason)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for chunk in batch.resolved_dead_letters.chunks(CHUNK) {
        let (direction, id): (Vec<&str>, Vec<String>) = chunk
            .iter()
            .map(|(d, id)| (d.as_str(), id_text(id)))
            .unzip();
        sqlx::query(
            "DELETE FROM dead_letters d \
             USING UNNEST($1::text[], $2::text[]) AS u(direction, record_id) \
             WHERE d.direction = u.direction AND d.record_id = u.record_id",
        )
        .bind(direction)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    for run in runs_without_duplicates(&batch.dead_letters, |(d, id, _, _)| {
        (d.as_str(), id_text(id))
    }) {
        let (mut direction, mut id, mut payload, mut error) = (vec![], vec![], vec![], vec![]);
        for (d, record, p, e) in run {
            direction.push(d.as_str());
            id.push(id_text(record));
            payload.push(p.to_string());
            error.push(clean(e));
        }
        sqlx::query(
            "INSERT INTO dead_letters (direction, record_id, payload, error, attempts, created_at) \
             SELECT direction, record_id, payload, error, 1, $5 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) \
             WITH ORDINALITY AS t(direction, record_id, payload, error, ord) ORDER BY ord \
             ON CONFLICT (direction, record_id) DO UPDATE SET payload = excluded.payload, \
             error = excluded.error, attempts = dead_letters.attempts + 1",
        )
        .bind(direction)
        .bind(id)
        .bind(payload)
        .bind(error)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for chunk in batch.conflicts.chunks(CHUNK) {
        let mut cols: [Vec<String>; 7] = Default::default();
        let mut at = Vec::with_capacity(chunk.len());
        for c in chunk {
            let values = [
                c.direction.clone(),
                c.pair.clone(),
                id_text(&c.a_id),
                id_text(&c.b_id),
                side_text(c.winner).to_string(),
                c.winner_values.to_string(),
                c.loser_values.to_string(),
            ];
            for (col, value) in cols.iter_mut().zip(values) {
                col.push(value);
            }
            at.push(c.at);
        }
        let [direction, pair, a, b, winner, winner_values, loser_values] = cols;
        sqlx::query(
            "INSERT INTO conflicts (direction, pair, a_id, b_id, winner, winner_values, \
             loser_values, at) \
             SELECT direction, pair, a_id, b_id, winner, winner_values, loser_values, at \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::timestamptz[]) WITH ORDINALITY \
             AS t(direction, pair, a_id, b_id, winner, winner_values, loser_values, at, ord) \
             ORDER BY ord",
        )
        .bind(direction)
        .bind(pair)
        .bind(a)
        .bind(b)
        .bind(winner)
        .bind(winner_values)
        .bind(loser_values)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn links(
        &self,
        pair: &str,
        side: Side,
        ids: &[RecordId],
    ) -> Result<Vec<Link>, StateError> {
        let sql = match side {
            Side::A => {
                "SELECT pair, a_id, b_id, a_hash, b_hash, orphaned FROM links \
                 WHERE pair = $1 AND a_id = ANY($2::text[])"
            }
            Side::B => {
                "SELECT pair, a_id, b_id, a_hash, b_hash, orphaned FROM links \
                 WHERE pair = $1 AND b_id = ANY($2::text[])"
            }
        };
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let texts: Vec<String> = chunk.iter().map(id_text).collect();
            let rows = sqlx::query(sql)
                .bind(pair)
                .bind(texts)
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                out.push(link_from_row(row)?);
            }
        }
        Ok(out)
    }

    async fn all_links(&self, pair: Option<&str>) -> Result<Vec<Link>, StateError> {
        // `COLLATE "C"`: byte order, as SQLite sorts, whatever the database's collation.
        let rows = sqlx::query(
            "SELECT pair, a_id, b_id, a_hash, b_hash, orphaned FROM links \
             WHERE $1::text IS NULL OR pair = $1 \
             ORDER BY pair COLLATE \"C\", a_id COLLATE \"C\"",
        )
        .bind(pair)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }

    async fn cursor(&self, system: &str, entity: &str) -> Result<Option<String>, StateError> {
        let row = sqlx::query("SELECT cursor FROM cursors WHERE system = $1 AND entity = $2")
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
        let mut tx = self.pool.begin().await?;
        insert_intents(&mut tx, intents, None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn intents(&self) -> Result<Vec<Intent>, StateError> {
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_COLUMNS} FROM intents {INTENT_ORDER}"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(intent_from_row).collect()
    }

    async fn deferrals(&self) -> Result<Vec<Deferral>, StateError> {
        let rows = sqlx::query(
            "SELECT direction, record_id, reason FROM deferred \
             ORDER BY since, direction COLLATE \"C\", record_id COLLATE \"C\"",
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
                    created_at: r.try_get("created_at")?,
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
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    async fn commit(&self, batch: Batch) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        write_batch(&mut tx, &batch).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn start_run(&self, at: DateTime<Utc>) -> Result<i64, StateError> {
        let row = sqlx::query(
            "INSERT INTO runs (started_at, status) VALUES ($1, 'running') RETURNING id",
        )
        .bind(at)
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
        sqlx::query("UPDATE runs SET finished_at = $1, status = $2, report = $3 WHERE id = $4")
            .bind(at)
            .bind(clean(status))
            .bind(report.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn runs(&self, limit: i64) -> Result<Vec<Run>, StateError> {
        // SQLite reads a negative LIMIT as "no limit"; PostgreSQL refuses it.
        let limit = (limit >= 0).then_some(limit);
        let rows = sqlx::query(
            "SELECT id, started_at, finished_at, status, report FROM runs ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Run {
                    id: r.try_get("id")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    status: r.try_get("status")?,
                    report: json_from_text("run report", &r.try_get::<String, _>("report")?)?,
                })
            })
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StateError> {
        Ok(Counts {
            links: counts_by(&self.pool, "SELECT pair, COUNT(*) FROM links GROUP BY pair").await?,
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

    #[test]
    fn runs_split_at_a_repeated_key() {
        let items = [1, 2, 1, 3, 3, 4];
        let runs = runs_without_duplicates(&items, |i| *i);
        assert_eq!(runs, vec![&[1, 2][..], &[1, 3][..], &[3, 4][..]]);
        assert!(runs_without_duplicates(&[] as &[i32], |i| *i).is_empty());
    }

    #[test]
    fn runs_split_at_the_chunk_size() {
        let items: Vec<usize> = (0..CHUNK * 2 + 1).collect();
        let runs = runs_without_duplicates(&items, |i| *i);
        assert_eq!(
            runs.iter().map(|r| r.len()).collect::<Vec<_>>(),
            [CHUNK, CHUNK, 1]
        );
    }

    #[test]
    fn nul_characters_are_replaced() {
        assert_eq!(clean("a\0b"), "a\u{fffd}b");
        assert_eq!(clean("plain"), "plain");
    }
}
