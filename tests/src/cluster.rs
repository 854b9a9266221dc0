//! `flowgen run` worker processes against an in-process sandbox, sharing a PostgreSQL schema
//! of their own: what the worker tests (`tests/workers.rs`) and the worker benchmark
//! (`benches/workers.rs`) start, watch, stop and compare.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flowgen_runtime::cli::demo::{
    CREDENTIAL_VARIABLES, document_properties, sandbox_credential, sandbox_systems,
};
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::{BuildOptions, build_with};
use flowgen_runtime::engine::{Engine, EngineOptions};
use flowgen_runtime::flow::{RecordId, Registry};
use flowgen_runtime::state::{Leases, StateStore};
use flowgen_sandbox::{Faults, RateLimits, Sandbox, SandboxConfig};
use serde_json::json;

use crate::canonical::{self, Canonical, Entity};
use crate::quiet::{self, Pass};

pub use crate::pg_schema::{PG_URL_VAR, PgSchema, postgres_url};

/// A sandbox seeded with `records` per entity, answering after `latency`, limits counted
/// but not enforced.
pub async fn sandbox(records: usize, seed: u64, latency: Duration) -> Sandbox {
    let faults: Faults = format!("latency={}ms", latency.as_millis())
        .parse()
        .expect("latency");
    flowgen_sandbox::start(SandboxConfig {
        records,
        seed,
        faults,
        rate_limits: RateLimits {
            enforce: false,
            ..RateLimits::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox")
}

/// Connector limits far above what a test makes, so that only the latency paces requests.
fn open_limits() -> serde_json::Value {
    json!({"requests": 100_000, "period_secs": 1.0, "burst": 10_000, "concurrency": 16})
}

/// Creates, updates and deletes the sandbox has seen.
pub fn sandbox_changes(sandbox: &Sandbox) -> u64 {
    sandbox
        .stats()
        .tables
        .values()
        .map(|t| t.creates + t.updates + t.deletes)
        .sum()
}

/// The sandbox's credentials by the environment variables a configuration names.
pub fn credentials(sandbox: &Sandbox) -> Vec<(String, String)> {
    let c = &sandbox.config().credentials;
    CREDENTIAL_VARIABLES
        .iter()
        .filter_map(|v| sandbox_credential(c, v).map(|value| (v.to_string(), value)))
        .collect()
}

/// Writes a `flowgen.yaml` for the sandbox with `state` into `dir`.
pub fn write_config(
    dir: &Path,
    sandbox: &Sandbox,
    registry: &Registry,
    state: &str,
    page_size: usize,
) -> PathBuf {
    let systems = sandbox_systems(sandbox, registry, Some(&open_limits()));
    let yaml =
        serde_yaml::to_string(&json!({"state": state, "page_size": page_size, "systems": systems}))
            .expect("config text");
    let path = dir.join("flowgen.yaml");
    std::fs::write(&path, yaml).expect("write flowgen.yaml");
    path
}

/// Connectors to the sandbox in this process (to read what the workers left).
pub fn connectors(sandbox: &Sandbox, registry: &Registry) -> HashMap<String, Arc<dyn Connector>> {
    let configs = flowgen_runtime::cli::demo::sandbox_connector_configs(sandbox, registry)
        .expect("connector configs");
    let credentials = sandbox.config().credentials.clone();
    let env = move |name: &str| sandbox_credential(&credentials, name);
    configs
        .iter()
        .map(|(name, config)| {
            let options = BuildOptions {
                env: &env,
                properties: document_properties(registry, name),
                types: flowgen_runtime::cli::demo::document_types(registry, name),
            };
            (
                name.clone(),
                build_with(name, config, &options).expect("connector"),
            )
        })
        .collect()
}

/// Every documented record the sandbox holds.
pub async fn records(sandbox: &Sandbox, registry: &Registry) -> canonical::Records {
    canonical::read_all(
        &connectors(sandbox, registry),
        &canonical::entities(registry),
    )
    .await
}

/// The ids of the records a sandbox holds before any sync.
pub async fn seeded(sandbox: &Sandbox, registry: &Registry) -> HashSet<(Entity, RecordId)> {
    canonical::ids(&records(sandbox, registry).await)
}

/// What a sync left in `sandbox` and `store`, canonical.
pub async fn result(
    sandbox: &Sandbox,
    registry: &Registry,
    store: &dyn StateStore,
    before: &HashSet<(Entity, RecordId)>,
) -> Canonical {
    let all = records(sandbox, registry).await;
    let links = store.all_links(None).await.expect("links");
    canonical::canonical(registry, &all, before, &links)
}

/// One worker's result, for comparison: `flowgen sync --once` in this process (SQLite
/// state) run until a run writes nothing (deferrals that never resolve stay), over a sandbox seeded as the workers' was.
/// Returns it with the sandbox changes the sync made.
pub async fn reference(records: usize, seed: u64, page_size: usize) -> (Canonical, u64) {
    let sandbox = sandbox(records, seed, Duration::ZERO).await;
    let registry = dataflows::registry();
    let before = seeded(&sandbox, &registry).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn StateStore> = Arc::new(
        flowgen_runtime::state::SqliteStore::open(&dir.path().join("reference.db"))
            .await
            .expect("sqlite"),
    );
    let engine = Engine::new(
        dataflows::registry(),
        connectors(&sandbox, &registry),
        Arc::clone(&store),
        EngineOptions {
            page_size,
            ..EngineOptions::default()
        },
    );
    for _ in 0..10 {
        let report = engine.sync_once().await.expect("reference run");
        // Records that wait for ever (a reference nothing links) stay deferred.
        if report.total().writes == 0 {
            let result = result(&sandbox, &registry, store.as_ref(), &before).await;
            return (result, sandbox_changes(&sandbox));
        }
    }
    panic!("the one-worker reference did not settle in ten runs");
}

/// A `flowgen run` (or other command) process.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    /// Standard output and error, as far as read.
    output: Arc<Mutex<String>>,
}

impl Process {
    /// Starts `bin` with `args` and the sandbox's credentials in its environment.
    pub fn start(bin: &str, args: &[&str], env: &[(String, String)]) -> Process {
        let mut child = Command::new(bin)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            // FLOWGEN_TEST_LOG (a tracing filter) shows more of a process when a test
            // needs looking into; FLOWGEN_TEST_LOG_DIR also keeps each one's output in a file.
            .env(
                "FLOWGEN_LOG",
                std::env::var("FLOWGEN_TEST_LOG").unwrap_or_else(|_| "error".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        let log_file = std::env::var_os("FLOWGEN_TEST_LOG_DIR").map(|dir| {
            let path = std::path::Path::new(&dir).join(format!("{}.log", child.id()));
            Arc::new(Mutex::new(
                std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            ))
        });
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            let log_file = log_file.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(file) = &log_file {
                        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
                        let _ = writeln!(file, "{line}");
                    }
                    let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Process { child, output }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The worker names a `flowgen run` printed on start.
    pub fn holders(&self) -> Vec<String> {
        let out = self.output();
        let Some(line) = out.lines().find(|l| l.starts_with("flowgen run:")) else {
            return Vec::new();
        };
        let Some(inner) = line.split_once('(').and_then(|(_, r)| r.split_once(')')) else {
            return Vec::new();
        };
        inner.0.split(", ").map(str::to_string).collect()
    }

    /// Sends `signal` (`INT`, `TERM`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    /// Waits for the exit, at most `timeout` (then kills it and panics with its output).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The reader threads finish with the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return status;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                panic!("still running after {timeout:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The passes recorded in the run history.
pub async fn passes(store: &dyn StateStore) -> Vec<Pass> {
    store
        .runs(100_000)
        .await
        .expect("runs")
        .iter()
        .filter_map(|r| Pass::from_run(r.started_at, r.finished_at, &r.report))
        .collect()
}

/// Whether the live workers (but `ignore`) have nothing left to do (see [`quiet::quiet`]).
pub async fn is_quiet(store: &dyn StateStore, leases: &dyn Leases, ignore: &[String]) -> bool {
    let items = leases.items().await.expect("items").len();
    let live: Vec<String> = leases
        .workers()
        .await
        .expect("workers")
        .into_iter()
        .filter(|w| !ignore.contains(w))
        .collect();
    items > 0 && quiet::quiet(&passes(store).await, &live, items)
}

/// Waits until [`is_quiet`]; `false` after `timeout`.
pub async fn wait_quiet(
    store: &dyn StateStore,
    leases: &dyn Leases,
    ignore: &[String],
    timeout: Duration,
) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if is_quiet(store, leases, ignore).await {
            return true;
        }
    }
    false
}
