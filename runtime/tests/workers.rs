//! Workers in one process over memory systems: three workers sharing a state split the work
//! items, never work on one item at the same time, and leave the systems and links exactly as
//! one `sync` run does (modulo the ids of created records); a worker whose lease was taken
//! over writes nothing, and the new holder finishes its open creates without duplicates.
//! On SQLite (leases in the process) always, on PostgreSQL (a pool per worker, as separate
//! processes would have) when `FLOWGEN_TEST_POSTGRES_URL` is set.

#[path = "support/pg_schema.rs"]
mod pg_schema;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flowgen_runtime::connector::Connector;
use flowgen_runtime::engine::{Engine, EngineError, ItemScope, Stop};
use flowgen_runtime::flow::Registry;
use flowgen_runtime::memory::{Fault, FaultKind};
use flowgen_runtime::state::leases::{LeaseError, WorkItem, worker_id};
use flowgen_runtime::state::{Backend, Leases, PostgresStore, StateStore};
use flowgen_runtime::worker::{PassReport, Worker, WorkerConfig};
use pg_schema::{PgSchema, postgres_url};
use serde_json::json;
use support::canonical::{self, Canonical};
use support::{World, options, quiet};

fn registry() -> Registry {
    support::flows::registry()
}

/// Ten customers, six of them with an order, four employees.
fn seed(w: &World) {
    for i in 1..=10 {
        w.cb().insert(
            "Customer",
            json!({"email": format!("c{i}@example.com"), "first_name": format!("C{i}"), "last_name": "Lee"}),
        );
    }
    for i in 1..=6 {
        w.cb().insert(
            "Order",
            json!({"currency_code": "NOK", "customer_id": format!("cb_{i}")}),
        );
    }
    for i in 1..=4 {
        w.po().insert(
            "Employees",
            json!({"EmailAddress": format!("e{i}@example.com"), "FirstName": format!("E{i}"), "LastName": "Dahl"}),
        );
    }
}

fn connectors(w: &World) -> HashMap<String, Arc<dyn Connector>> {
    w.systems
        .iter()
        .map(|(k, v)| (k.clone(), Arc::clone(v) as Arc<dyn Connector>))
        .collect()
}

async fn result(w: &World, store: &dyn StateStore) -> Canonical {
    let registry = registry();
    let all = canonical::read_all(&connectors(w), &canonical::entities(&registry)).await;
    let links = store.all_links(None).await.expect("links");
    let before = seeded_ids().await;
    canonical::canonical(&registry, &all, &before, &links)
}

/// The ids of the seeded records.
async fn seeded_ids() -> HashSet<(canonical::Entity, flowgen_runtime::RecordId)> {
    let w = World::new().await;
    seed(&w);
    let registry = registry();
    canonical::ids(&canonical::read_all(&connectors(&w), &canonical::entities(&registry)).await)
}

/// What one `sync` process leaves: runs until one writes nothing.
async fn reference() -> Canonical {
    let w = World::new().await;
    seed(&w);
    let engine = w.engine();
    for _ in 0..10 {
        let report = engine.sync_once().await.expect("reference run");
        if report.total().writes == 0 {
            return result(&w, w.store.as_ref()).await;
        }
    }
    panic!("the reference did not converge in ten runs");
}

/// A schema of its own on the test server, or `None` (said on stderr) when none is set.
async fn schema() -> Option<PgSchema> {
    let url = postgres_url("PostgreSQL worker tests")?;
    Some(PgSchema::create(&url, "flowgen_workers").await)
}

/// Each worker's engine and leases.
type Crew = Vec<(Arc<Engine>, Arc<dyn Leases>)>;

fn config() -> WorkerConfig {
    WorkerConfig {
        shards: 3,
        lease_ttl: Duration::from_secs(5),
        poll_interval: Duration::from_millis(20),
        max_passes: None,
    }
}

/// Runs the crew until every live worker made a pass with nothing to do after the last write
/// anywhere, twice; returns every pass.
async fn run_until_quiet(crew: Crew) -> Vec<PassReport> {
    let stop = Stop::new();
    let passes: Arc<Mutex<Vec<PassReport>>> = Arc::default();
    let workers: Vec<Worker> = crew
        .into_iter()
        .map(|(engine, leases)| Worker::new(engine, leases, worker_id(), config()).expect("worker"))
        .collect();
    let items = workers[0].items().len();
    let names: Vec<String> = workers.iter().map(|w| w.holder().to_string()).collect();
    let runs = workers.iter().map(|w| {
        let passes = Arc::clone(&passes);
        w.run(Arc::clone(&stop), move |p| {
            passes.lock().expect("passes").push(p.clone())
        })
    });
    let monitor = async {
        for _ in 0..3000 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let seen: Vec<quiet::Pass> = passes
                .lock()
                .expect("passes")
                .iter()
                .map(quiet::Pass::from)
                .collect();
            if quiet::quiet(&seen, &names, items) {
                stop.request();
                return;
            }
        }
        stop.request();
        panic!("the workers did not settle within a minute");
    };
    let (results, ()) = tokio::join!(futures::future::join_all(runs), monitor);
    for r in results {
        r.expect("worker run");
    }
    passes.lock().expect("passes").clone()
}

/// Every worker worked, and no item was worked on by two workers at the same time.
fn assert_split(passes: &[PassReport], workers: usize) {
    let mut by_worker: HashMap<&str, usize> = HashMap::new();
    for p in passes {
        *by_worker.entry(&p.worker).or_default() += p.items.len();
    }
    assert_eq!(
        by_worker.len(),
        workers,
        "every worker worked: {by_worker:?}"
    );
    let passes: Vec<quiet::Pass> = passes.iter().map(quiet::Pass::from).collect();
    if let Some(problem) = quiet::overlap(&passes) {
        panic!("{problem}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_sqlite_converge_like_one_run() {
    let expected = reference().await;
    assert!(expected.unlinked.is_empty(), "{:?}", expected.unlinked);
    let w = World::new().await;
    seed(&w);
    let backend = Backend::sqlite(&w.dir.path().join("workers.db"))
        .await
        .expect("sqlite");
    let engine = Arc::new(Engine::new(
        registry(),
        connectors(&w),
        Arc::clone(&backend.store),
        options(),
    ));
    let crew: Crew = (0..3)
        .map(|_| (Arc::clone(&engine), Arc::clone(&backend.leases)))
        .collect();
    let passes = run_until_quiet(crew).await;
    assert_split(&passes, 3);
    let actual = result(&w, backend.store.as_ref()).await;
    assert!(
        expected == actual,
        "{}",
        canonical::differences(&expected, &actual)
    );
    assert!(backend.store.intents().await.expect("intents").is_empty());
    // Every lease given back.
    let states = backend.leases.items().await.expect("items");
    assert!(states.iter().all(|s| s.holder.is_none()), "{states:?}");
    assert!(backend.leases.workers().await.expect("workers").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_postgres_converge_like_one_run() {
    let Some(schema) = schema().await else {
        return;
    };
    let expected = reference().await;
    let w = World::new().await;
    seed(&w);
    let mut crew: Crew = Vec::new();
    let mut first: Option<Arc<PostgresStore>> = None;
    for _ in 0..3 {
        let store = schema.store().await;
        first.get_or_insert_with(|| Arc::clone(&store));
        let engine = Arc::new(Engine::new(
            registry(),
            connectors(&w),
            Arc::clone(&store) as Arc<dyn StateStore>,
            options(),
        ));
        crew.push((engine, store as Arc<dyn Leases>));
    }
    let passes = run_until_quiet(crew).await;
    assert_split(&passes, 3);
    let store = first.expect("a store");
    let actual = result(&w, store.as_ref()).await;
    assert!(
        expected == actual,
        "{}",
        canonical::differences(&expected, &actual)
    );
    assert!(store.intents().await.expect("intents").is_empty());
    // The passes are in the run history, with their worker and items.
    let runs = store.runs(1000).await.expect("runs");
    assert_eq!(runs.len(), passes.len());
    assert!(runs.iter().all(|r| r.report["worker"].is_string()));
}

/// A worker paused past its lease's expiry, whose item was taken over, commits nothing; the
/// new holder finishes the create it had made without making another.
async fn a_fenced_worker_writes_nothing(backend: Backend, other: Arc<dyn Leases>) {
    let w = World::new().await;
    w.cb().insert(
        "Customer",
        json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}),
    );
    let engine = Engine::new(
        registry(),
        connectors(&w),
        Arc::clone(&backend.store),
        options(),
    );
    let item = WorkItem::new("Chargebee", "Customer", 0);
    backend
        .leases
        .register(std::slice::from_ref(&item))
        .await
        .expect("register");
    let old = backend
        .leases
        .acquire("old", 1, Duration::ZERO)
        .await
        .expect("acquire")
        .remove(0);
    // The old holder's create succeeds remotely; then the item is taken over before its
    // page is committed (the crash injection stops the run right after the create).
    w.po().inject(
        Fault::new(
            flowgen_runtime::connector::Operation::Create,
            "Customers person",
            FaultKind::CrashAfterCreate,
        )
        .times(1),
    );
    let scope = |holder: &str, lease, live: &[&str]| ItemScope {
        holder: holder.to_string(),
        leases: Arc::clone(&backend.leases),
        lease,
        shards: 1,
        live_workers: live.iter().map(|s| s.to_string()).collect(),
        stop: Stop::new(),
    };
    let crashed = engine.sync_item(&scope("old", old.clone(), &["old"])).await;
    assert!(
        matches!(crashed, Err(EngineError::Aborted(_))),
        "{crashed:?}"
    );
    assert_eq!(w.po().count("Customers person"), 1);
    let new = other
        .acquire("new", 1, Duration::from_secs(60))
        .await
        .expect("take over")
        .remove(0);
    assert!(new.token > old.token);
    // The old holder wakes up: its lease is gone, nothing it does is committed.
    let fenced = engine.sync_item(&scope("old", old, &["old", "new"])).await;
    assert!(
        matches!(fenced, Err(EngineError::Lease(LeaseError::Lost { .. }))),
        "{fenced:?}"
    );
    assert!(
        backend
            .store
            .all_links(None)
            .await
            .expect("links")
            .is_empty()
    );
    // The new holder reconciles the old one's create (the old one counts as gone) instead of
    // creating again.
    let report = engine
        .sync_item(&scope("new", new, &["new"]))
        .await
        .expect("new holder");
    assert_eq!(report.reconciled_intents, 1, "{report:?}");
    assert_eq!(w.po().count("Customers person"), 1);
    assert_eq!(backend.store.all_links(None).await.expect("links").len(), 1);
    assert!(backend.store.intents().await.expect("intents").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_worker_writes_nothing_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let backend = Backend::sqlite(&dir.path().join("s.db"))
        .await
        .expect("sqlite");
    let other = Arc::clone(&backend.leases);
    a_fenced_worker_writes_nothing(backend, other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_worker_writes_nothing_on_postgres() {
    let Some(schema) = schema().await else {
        return;
    };
    let store = schema.store().await;
    let backend = Backend {
        store: Arc::clone(&store) as Arc<dyn StateStore>,
        leases: store,
    };
    a_fenced_worker_writes_nothing(backend, schema.store().await).await;
}

#[tokio::test]
async fn workers_refuse_a_shard_count_the_state_does_not_have() {
    let w = World::new().await;
    let backend = Backend::sqlite(&w.dir.path().join("s.db"))
        .await
        .expect("sqlite");
    let engine = Arc::new(w.engine());
    let four = Worker::new(
        Arc::clone(&engine),
        Arc::clone(&backend.leases),
        "a",
        WorkerConfig {
            shards: 4,
            max_passes: Some(1),
            poll_interval: Duration::ZERO,
            ..WorkerConfig::default()
        },
    )
    .expect("worker");
    assert_eq!(four.run(Stop::new(), |_| {}).await.expect("run"), 1);
    let eight = Worker::new(
        Arc::clone(&engine),
        Arc::clone(&backend.leases),
        "b",
        WorkerConfig::default(),
    )
    .expect("worker");
    let err = eight.run(Stop::new(), |_| {}).await.expect_err("8 shards");
    let message = err.to_string();
    assert!(
        message.contains("4 shards") && message.contains("--shards 4"),
        "{message}"
    );
    let none = WorkerConfig {
        shards: 0,
        ..WorkerConfig::default()
    };
    assert!(Worker::new(engine, backend.leases, "c", none).is_err());
}

/// An entity order that names an entity twice still gives one work item per entity and
/// shard: a share counted over duplicates left a third worker with nothing to take.
#[tokio::test]
async fn an_order_naming_an_entity_twice_gives_each_item_once() {
    let w = World::new().await;
    let plain = w.engine();
    let mut order = plain.topology().order.clone();
    order.extend(plain.topology().order.clone());
    let engine = Arc::new(w.engine_with(
        registry(),
        flowgen_runtime::engine::EngineOptions {
            entity_order: Some(order),
            ..support::options()
        },
    ));
    let backend = Backend::sqlite(&w.dir.path().join("s.db"))
        .await
        .expect("sqlite");
    let worker = Worker::new(
        engine,
        Arc::clone(&backend.leases),
        "a",
        WorkerConfig {
            shards: 2,
            ..WorkerConfig::default()
        },
    )
    .expect("worker");
    let mut items: Vec<String> = worker.items().iter().map(ToString::to_string).collect();
    let count = items.len();
    items.sort();
    items.dedup();
    assert_eq!(items.len(), count, "{items:?}");
    let entities = plain
        .topology()
        .order
        .iter()
        .filter(|e| plain.topology().from_entity(**e).next().is_some())
        .count();
    assert_eq!(count, entities * 2);
}
