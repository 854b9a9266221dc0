//! `flowgen run` as processes against the sandbox over real HTTP, the documents' flows:
//!
//! - three workers sharing a PostgreSQL state leave the systems and links as one worker does
//!   (compared modulo the ids of created records, see `flowgen_tests::canonical`), each worked,
//!   and no item was worked on by two of them at once;
//! - one of three killed (SIGKILL) mid-run: the others take its items over after its leases
//!   expire, and the result is still the one worker's: nothing lost, nothing duplicated;
//! - SIGINT and SIGTERM mid-run: exit 0, nothing left open (intents, leases, announcements),
//!   and `flowgen sync --once` afterwards converges to the one worker's result.
//!
//! The PostgreSQL cases print a notice and pass when `FLOWGEN_TEST_POSTGRES_URL` is not set
//! (never under CI: `.ci/check-workers-ran.sh` makes sure they ran).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgen_runtime::RecordId;
use flowgen_runtime::state::{Backend, Leases, StateStore};
use flowgen_sandbox::Sandbox;
use flowgen_tests::canonical::{Canonical, Entity, differences};
use flowgen_tests::cluster::{self, PgSchema, Process};
use flowgen_tests::quiet;

const BIN: &str = env!("CARGO_BIN_EXE_flowgen-e2e");
const RECORDS: usize = 8;
const SEED: u64 = 11;
const PAGE_SIZE: usize = 10;
/// Slow enough that a run lasts seconds and can be interrupted in the middle.
const LATENCY: Duration = Duration::from_millis(5);
const SETTLE: Duration = Duration::from_secs(240);
const EXIT: Duration = Duration::from_secs(60);

/// A sandbox for the workers, the one-worker result to compare with, and a state.
struct Setup {
    sandbox: Sandbox,
    dir: tempfile::TempDir,
    config: PathBuf,
    env: Vec<(String, String)>,
    before: HashSet<(Entity, RecordId)>,
    expected: Canonical,
    expected_changes: u64,
}

async fn setup(state: impl FnOnce(&std::path::Path) -> String) -> Setup {
    let (expected, expected_changes) = cluster::reference(RECORDS, SEED, PAGE_SIZE).await;
    assert!(expected_changes > 0, "the reference sync wrote something");
    assert!(expected.unlinked.is_empty(), "{:?}", expected.unlinked);
    assert!(!expected.links.is_empty(), "the reference linked records");
    let sandbox = cluster::sandbox(RECORDS, SEED, LATENCY).await;
    let registry = dataflows::registry();
    let before = cluster::seeded(&sandbox, &registry).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let state = state(dir.path());
    let config = cluster::write_config(dir.path(), &sandbox, &registry, &state, PAGE_SIZE);
    let env = cluster::credentials(&sandbox);
    Setup {
        sandbox,
        dir,
        config,
        env,
        before,
        expected,
        expected_changes,
    }
}

impl Setup {
    fn run(&self, extra: &[&str]) -> Process {
        let config = self.config.to_str().expect("utf-8 path");
        let mut args = vec![
            "run",
            "--config",
            config,
            "--interval",
            "0.2",
            "--shards",
            "3",
            "--lease-ttl",
            "3",
        ];
        args.extend_from_slice(extra);
        Process::start(BIN, &args, &self.env)
    }

    fn changes(&self) -> u64 {
        cluster::sandbox_changes(&self.sandbox)
    }

    /// Waits until the sandbox saw at least `n` changes.
    fn wait_changes(&self, n: u64, processes: &[Process]) {
        let until = Instant::now() + SETTLE;
        while self.changes() < n {
            assert!(
                Instant::now() < until,
                "no {n} changes in time: {}",
                outputs(processes)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    async fn result(&self, store: &dyn StateStore) -> Canonical {
        cluster::result(&self.sandbox, &dataflows::registry(), store, &self.before).await
    }

    fn assert_same_as_one_worker(&self, actual: &Canonical) {
        assert!(
            actual.unlinked.is_empty(),
            "created but not linked: {:?}",
            actual.unlinked
        );
        assert!(
            self.expected == *actual,
            "the workers' result differs from one worker's:\n{}",
            differences(&self.expected, actual)
        );
    }
}

fn outputs(processes: &[Process]) -> String {
    processes
        .iter()
        .map(|p| format!("--- pid {}\n{}", p.pid(), p.output()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Stops the processes with SIGTERM and checks each exits 0.
fn stop_all(processes: &mut [Process]) {
    for p in processes.iter() {
        p.signal("TERM");
    }
    for p in processes.iter_mut() {
        let status = p.wait(EXIT);
        assert!(status.success(), "exit {status}:\n{}", p.output());
    }
}

/// Nothing open once every worker stopped: no intent, no lease held, no worker announced.
async fn assert_nothing_open(store: &dyn StateStore, leases: &dyn Leases) {
    assert!(store.intents().await.expect("intents").is_empty());
    let items = leases.items().await.expect("items");
    assert!(!items.is_empty(), "the workers registered their items");
    let held: Vec<_> = items.iter().filter(|i| i.holder.is_some()).collect();
    assert!(held.is_empty(), "leases still held: {held:?}");
    assert!(leases.workers().await.expect("workers").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_worker_processes_converge_like_one() {
    let Some(url) = cluster::postgres_url("three worker processes") else {
        return;
    };
    let schema = PgSchema::create(&url, "flowgen_cluster").await;
    let s = setup(|_| schema.state_url()).await;
    let mut processes: Vec<Process> = (0..3).map(|_| s.run(&[])).collect();
    let store = schema.store().await;
    let settled = cluster::wait_quiet(store.as_ref(), store.as_ref(), &[], SETTLE).await;
    assert!(
        settled,
        "the workers did not settle:\n{}",
        outputs(&processes)
    );
    let holders: Vec<String> = processes.iter().flat_map(Process::holders).collect();
    // A plain sync beside running workers could create what they create: it refuses.
    let config = s.config.to_str().expect("utf-8 path");
    let mut sync = Process::start(BIN, &["sync", "--once", "--config", config], &s.env);
    let status = sync.wait(EXIT);
    let output = sync.output();
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("3 `flowgen run` workers are running"),
        "{output}"
    );
    let status_output = |processes: &[Process]| {
        let mut status = Process::start(BIN, &["status", "--config", config], &[]);
        let code = status.wait(EXIT);
        let output = status.output();
        assert_eq!(code.code(), Some(0), "{output}\n{}", outputs(processes));
        output
    };
    let running = status_output(&processes);
    assert!(running.contains("workers: 3 live"), "{running}");
    assert!(running.contains("0 expired"), "{running}");
    stop_all(&mut processes);
    let stopped = status_output(&processes);
    assert!(
        stopped.contains("workers: 0 live") && stopped.contains("(0 held, 0 expired)"),
        "{stopped}"
    );

    s.assert_same_as_one_worker(&s.result(store.as_ref()).await);
    assert_nothing_open(store.as_ref(), store.as_ref()).await;
    let passes = cluster::passes(store.as_ref()).await;
    for holder in &holders {
        assert!(
            passes
                .iter()
                .any(|p| &p.worker == holder && !p.items.is_empty()),
            "{holder} worked on no item:\n{}",
            outputs(&processes)
        );
    }
    if let Some(problem) = quiet::overlap(&passes) {
        panic!("{problem}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let Some(url) = cluster::postgres_url("the killed worker") else {
        return;
    };
    let schema = PgSchema::create(&url, "flowgen_cluster").await;
    let s = setup(|_| schema.state_url()).await;
    let mut processes: Vec<Process> = (0..3).map(|_| s.run(&[])).collect();
    let store = schema.store().await;
    s.wait_changes(s.expected_changes / 5, &processes);
    let mut victim = processes.remove(1);
    let victim_holders = victim.holders();
    assert_eq!(victim_holders.len(), 1, "{}", victim.output());
    let held = store
        .items()
        .await
        .expect("items")
        .iter()
        .filter(|i| i.holder.as_deref() == Some(victim_holders[0].as_str()))
        .count();
    victim.child.kill().expect("SIGKILL");
    let killed_at = s.changes();
    victim.wait(EXIT);
    assert!(held > 0, "the victim held items when killed");
    assert!(
        killed_at < s.expected_changes,
        "killed mid-run: {killed_at} of {} changes made",
        s.expected_changes
    );

    let settled =
        cluster::wait_quiet(store.as_ref(), store.as_ref(), &victim_holders, SETTLE).await;
    assert!(
        settled,
        "the survivors did not settle:\n{}",
        outputs(&processes)
    );
    stop_all(&mut processes);
    s.assert_same_as_one_worker(&s.result(store.as_ref()).await);
    assert_nothing_open(store.as_ref(), store.as_ref()).await;
    if let Some(problem) = quiet::overlap(&cluster::passes(store.as_ref()).await) {
        panic!("{problem}");
    }
}

/// Where a stopped run left its state.
enum State {
    Postgres(Backend),
    /// A file, opened once the process ended (its leases lived in the process).
    Sqlite(PathBuf),
}

impl State {
    async fn backend(&self) -> Backend {
        match self {
            State::Postgres(backend) => backend.clone(),
            State::Sqlite(path) => Backend::sqlite(path).await.expect("sqlite state"),
        }
    }
}

/// Stops one `flowgen run` with `signal` mid-run: exit 0, nothing left open, every record
/// created so far linked; then `flowgen sync --once` until it writes nothing must give one
/// worker's result.
async fn stop_with(signal: &str, s: &Setup, state: State, workers: &str) {
    let mut run = s.run(&["--workers", workers]);
    s.wait_changes(1, std::slice::from_ref(&run));
    run.signal(signal);
    let status = run.wait(EXIT);
    let output = run.output();
    assert!(status.success(), "exit {status}:\n{output}");
    assert!(
        output.contains(&format!("SIG{signal}: stopping")),
        "{output}"
    );
    assert!(output.contains("its leases are released"), "{output}");
    let stopped_at = s.changes();
    assert!(
        stopped_at < s.expected_changes,
        "stopped mid-run: {stopped_at} of {} changes made",
        s.expected_changes
    );
    drop(run);
    let backend = state.backend().await;
    match state {
        State::Postgres(_) => {
            assert_nothing_open(backend.store.as_ref(), backend.leases.as_ref()).await
        }
        State::Sqlite(_) => assert!(backend.store.intents().await.expect("intents").is_empty()),
    }
    // Every record created so far is linked: the page in flight was committed.
    let partial = s.result(backend.store.as_ref()).await;
    assert!(partial.unlinked.is_empty(), "{:?}", partial.unlinked);

    let config = s.config.to_str().expect("utf-8 path");
    let mut settled = false;
    for _ in 0..10 {
        let mut sync = Process::start(
            BIN,
            &["sync", "--once", "--config", config, "--output", "json"],
            &s.env,
        );
        let status = sync.wait(SETTLE);
        let output = sync.output();
        // 1: the run went through with findings (this dataset has records every run
        // dead-letters, like the one worker's).
        assert!(
            matches!(status.code(), Some(0 | 1)),
            "sync --once: exit {status}:\n{output}"
        );
        let start = output.find('{').expect("a JSON report");
        let report: serde_json::Value = serde_json::Deserializer::from_str(&output[start..])
            .into_iter()
            .next()
            .expect("report")
            .expect("JSON report");
        let writes: u64 = report["flows"]
            .as_object()
            .expect("flows")
            .values()
            .map(|c| c["writes"].as_u64().unwrap_or(0))
            .sum();
        if writes == 0 {
            settled = true;
            break;
        }
    }
    assert!(settled, "sync --once did not settle in ten runs");
    s.assert_same_as_one_worker(&s.result(backend.store.as_ref()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_two_workers_gracefully_then_sync_converges() {
    let Some(url) = cluster::postgres_url("SIGINT with PostgreSQL state") else {
        return;
    };
    let schema = PgSchema::create(&url, "flowgen_cluster").await;
    let s = setup(|_| schema.state_url()).await;
    let store = schema.store().await;
    let backend = Backend {
        store: Arc::clone(&store) as Arc<dyn StateStore>,
        leases: store,
    };
    stop_with("INT", &s, State::Postgres(backend), "2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_gracefully_on_sqlite_then_sync_converges() {
    let s = setup(|dir| dir.join("state.db").display().to_string()).await;
    let path = s.dir.path().join("state.db");
    stop_with("TERM", &s, State::Sqlite(path), "1").await;
}
