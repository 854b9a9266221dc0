//! State operations per second on SQLite and PostgreSQL side by side: a page of link upserts
//! (plainly, and under a lease as workers commit), a page of link lookups (by either side), a
//! cursor advance and a cursor read, a lease heartbeat, and a page of create claims (claimed,
//! then done with their links, as a worker's creates go). PostgreSQL runs when `FLOWGEN_TEST_POSTGRES_URL` is set, in a schema of its own
//! that is dropped afterwards.
//!
//! `cargo bench -p flowgen-runtime --bench state` (throughput is in state operations: rows
//! upserted or looked up, cursors written or read).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use flowgen_runtime::RecordId;
use flowgen_runtime::state::leases::{LocalLeases, WorkItem};
use flowgen_runtime::state::{
    Batch, ClaimOutcome, CreateClaim, Intent, Leases, Link, PostgresStore, Side, SqliteStore,
    StateStore,
};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::runtime::Runtime;

/// Records per page, as the engine commits them.
const PAGE: i64 = 500;

struct Backend {
    name: &'static str,
    store: Arc<dyn StateStore>,
    leases: Arc<dyn Leases>,
}

fn links(page: i64, generation: u64) -> Vec<Link> {
    (page * PAGE..(page + 1) * PAGE)
        .map(|i| Link {
            pair: "Chargebee/Customer|Powerofficego/Customer".into(),
            a_id: RecordId::from(format!("cb_{i}")),
            b_id: RecordId::Int(i),
            a_hash: Some(format!("{generation:016x}{i:016x}")),
            b_hash: Some(format!("{i:016x}{generation:016x}")),
            orphaned: false,
        })
        .collect()
}

/// A page of create claims of new sources (round `round`), each into its own pair.
fn claims(round: u64) -> Vec<CreateClaim> {
    (0..PAGE)
        .map(|i| {
            let key = format!("r{round}-{i}");
            CreateClaim {
                intent: Intent {
                    key: key.clone(),
                    direction: "Chargebee Customer -> Powerofficego Customers person".into(),
                    pair: format!("Chargebee/Customer|Powerofficego/Customers person {round}"),
                    source_side: Side::A,
                    source_id: RecordId::from(format!("cb_{i}")),
                    target_system: "Powerofficego".into(),
                    target_entity: "Customers person".into(),
                    payload: serde_json::json!({"EmailAddress": format!("{key}@example.com")}),
                    source_hash: key.clone(),
                    target_hash: key,
                },
                source_system: "Chargebee".into(),
                source_entity: "Customer".into(),
                source_data: serde_json::json!({"email": format!("c{i}@example.com")}),
            }
        })
        .collect()
}

fn backends(rt: &Runtime, dir: &std::path::Path) -> (Vec<Backend>, Option<(String, String)>) {
    let mut out = Vec::new();
    let sqlite: Arc<dyn StateStore> = Arc::new(
        rt.block_on(SqliteStore::open(&dir.join("flowgen.db")))
            .unwrap_or_else(|e| panic!("sqlite: {e}")),
    );
    out.push(Backend {
        name: "sqlite",
        leases: Arc::new(LocalLeases::new(sqlite.clone())),
        store: sqlite,
    });
    let Some(url) = std::env::var("FLOWGEN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("FLOWGEN_TEST_POSTGRES_URL not set: PostgreSQL state benchmarks skipped");
        return (out, None);
    };
    let schema = format!("flowgen_bench_{}", std::process::id());
    let pg = rt.block_on(async {
        let mut conn = PgConnection::connect(&url).await?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let options = PgConnectOptions::from_str(&url)?.options([("search_path", schema.as_str())]);
        PostgresStore::connect_with(options)
            .await
            .map_err(|e| sqlx::Error::Configuration(e.to_string().into()))
    });
    let pg = Arc::new(pg.unwrap_or_else(|e| panic!("postgres: {e}")));
    out.push(Backend {
        name: "postgres",
        store: pg.clone(),
        leases: pg,
    });
    (out, Some((url, schema)))
}

fn state_ops(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let (backends, pg_schema) = backends(&rt, dir.path());

    for b in &backends {
        // 20 pages already stored, so that upserts replace and lookups find.
        for page in 0..20 {
            let batch = Batch {
                links: links(page, 0),
                ..Batch::default()
            };
            rt.block_on(b.store.commit(batch))
                .unwrap_or_else(|e| panic!("{}: seed: {e}", b.name));
        }
    }

    let mut group = c.benchmark_group("state");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));

    group.throughput(Throughput::Elements(PAGE as u64));
    for b in &backends {
        let mut generation = 0u64;
        group.bench_function(BenchmarkId::new("links_upsert_page", b.name), |bench| {
            bench.iter(|| {
                generation += 1;
                let page = i64::try_from(generation % 20).unwrap_or(0);
                let batch = Batch {
                    links: links(page, generation),
                    ..Batch::default()
                };
                rt.block_on(b.store.commit(batch))
                    .unwrap_or_else(|e| panic!("{}: commit: {e}", b.name));
            })
        });
    }
    for b in &backends {
        for side in [Side::A, Side::B] {
            let ids: Vec<RecordId> = links(7, 0)
                .into_iter()
                .map(|l| l.id(side).clone())
                .collect();
            let name = format!(
                "links_lookup_page_{}",
                if side == Side::A { "a" } else { "b" }
            );
            group.bench_function(BenchmarkId::new(name, b.name), |bench| {
                bench.iter(|| {
                    let found = rt
                        .block_on(b.store.links(
                            "Chargebee/Customer|Powerofficego/Customer",
                            side,
                            &ids,
                        ))
                        .unwrap_or_else(|e| panic!("{}: lookup: {e}", b.name));
                    assert_eq!(found.len(), ids.len());
                })
            });
        }
    }

    group.throughput(Throughput::Elements(1));
    for b in &backends {
        let mut n = 0u64;
        group.bench_function(BenchmarkId::new("cursor_advance", b.name), |bench| {
            bench.iter(|| {
                n += 1;
                let batch = Batch {
                    cursors: vec![("Chargebee".into(), "Customer".into(), n.to_string())],
                    ..Batch::default()
                };
                rt.block_on(b.store.commit(batch))
                    .unwrap_or_else(|e| panic!("{}: cursor: {e}", b.name));
            })
        });
        group.bench_function(BenchmarkId::new("cursor_read", b.name), |bench| {
            bench.iter(|| {
                rt.block_on(b.store.cursor("Chargebee", "Customer"))
                    .unwrap_or_else(|e| panic!("{}: cursor: {e}", b.name))
            })
        });
        let item = WorkItem::new("Chargebee", "Customer", 0);
        rt.block_on(b.leases.register(std::slice::from_ref(&item)))
            .unwrap_or_else(|e| panic!("{}: register: {e}", b.name));
        let held = rt
            .block_on(b.leases.acquire("bench", 1, Duration::from_secs(3600)))
            .unwrap_or_else(|e| panic!("{}: acquire: {e}", b.name));
        group.bench_function(BenchmarkId::new("lease_heartbeat", b.name), |bench| {
            bench.iter(|| {
                let renewed = rt
                    .block_on(b.leases.heartbeat(&held, Duration::from_secs(3600)))
                    .unwrap_or_else(|e| panic!("{}: heartbeat: {e}", b.name));
                assert_eq!(renewed.len(), 1);
            })
        });
    }

    group.throughput(Throughput::Elements(PAGE as u64));
    for b in &backends {
        let held = rt
            .block_on(b.leases.items())
            .unwrap_or_else(|e| panic!("{}: items: {e}", b.name));
        let lease = flowgen_runtime::state::leases::Lease {
            item: held[0].item.clone(),
            holder: "bench".into(),
            token: held[0].token,
            expires_at: held[0].expires_at.unwrap_or_default(),
        };
        let mut generation = 1_000_000u64;
        group.bench_function(
            BenchmarkId::new("links_commit_leased_page", b.name),
            |bench| {
                bench.iter(|| {
                    generation += 1;
                    let page = i64::try_from(generation % 20).unwrap_or(0);
                    let batch = Batch {
                        links: links(page, generation),
                        ..Batch::default()
                    };
                    rt.block_on(b.leases.commit_leased(std::slice::from_ref(&lease), batch))
                        .unwrap_or_else(|e| panic!("{}: commit_leased: {e}", b.name));
                })
            },
        );
        let mut round = 0u64;
        group.bench_function(BenchmarkId::new("claim_creates_page", b.name), |bench| {
            bench.iter(|| {
                round += 1;
                let page = claims(round);
                let outcomes = rt
                    .block_on(b.leases.claim_creates("bench", &page))
                    .unwrap_or_else(|e| panic!("{}: claim: {e}", b.name));
                assert!(outcomes.iter().all(|o| *o == ClaimOutcome::Claimed));
                // The creates done: their links and the intents' removal, as a worker commits.
                let batch = Batch {
                    links: page
                        .iter()
                        .map(|c| Link {
                            pair: c.intent.pair.clone(),
                            a_id: c.intent.source_id.clone(),
                            b_id: RecordId::from(format!("{}-made", c.intent.key)),
                            a_hash: None,
                            b_hash: None,
                            orphaned: false,
                        })
                        .collect(),
                    intents_done: page.iter().map(|c| c.intent.key.clone()).collect(),
                    ..Batch::default()
                };
                rt.block_on(b.leases.commit_leased(std::slice::from_ref(&lease), batch))
                    .unwrap_or_else(|e| panic!("{}: commit claims: {e}", b.name));
            })
        });
    }
    group.finish();

    if let Some((url, schema)) = pg_schema {
        let dropped: Result<(), sqlx::Error> = rt.block_on(async {
            let mut conn = PgConnection::connect(&url).await?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut conn)
                .await?;
            conn.close().await
        });
        if let Err(e) = dropped {
            eprintln!("could not drop benchmark schema {schema}: {e}");
        }
    }
}

criterion_group!(benches, state_ops);
criterion_main!(benches);
