//! The world an end-to-end test runs in: a sandbox served by the test process (so that it
//! outlives the `flowgen` processes a test kills), a `flowgen.yaml` pointing at it with
//! credentials named by environment variables, and the `flowgen` binary run as a
//! subprocess. What the sandbox holds is read back over HTTP through the connectors, in the
//! documents' property names, for the checks of `checks.rs`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use flowgen_runtime::cli::demo::{
    CREDENTIAL_VARIABLES, document_properties, document_types, sandbox_credential, sandbox_systems,
};
use flowgen_runtime::connector::{Connector, RemoteRecord};
use flowgen_runtime::connectors::config::ConnectorConfig;
use flowgen_runtime::connectors::{BuildOptions, build_with};
use flowgen_runtime::flow::{EntityKey, Registry};
use flowgen_runtime::state::{DeadLetter, Deferral, Intent, Link, SqliteStore, StateStore};
use flowgen_sandbox::{Credentials, Faults, RateLimit, RateLimits, Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// The `flowgen` binary (`flowgen_runtime::cli::main_with(dataflows::registry)`), built as
/// this package's own binary: Cargo tells a package's tests only where its own binaries are.
pub const FLOWGEN: &str = env!("CARGO_BIN_EXE_flowgen-e2e");

/// How a test's world is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Records per entity the sandbox seeds.
    pub records: usize,
    pub seed: u64,
    pub faults: Faults,
    /// Requests per second the sandbox accepts per API; it answers 429 above.
    pub sandbox_per_second: u32,
    /// Requests per second each connector allows itself (`limits.requests` in flowgen.yaml;
    /// the two REST systems, which share the sandbox's REST budget, half each).
    pub connector_per_second: u32,
    pub credentials: Credentials,
    /// Lifetime of PowerOffice Go and WebCRM access tokens (default: the APIs').
    pub token_lifetime: Option<Duration>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            records: 6,
            seed: 11,
            faults: Faults::none(),
            sandbox_per_second: 200,
            connector_per_second: 80,
            credentials: Credentials::default(),
            token_lifetime: None,
        }
    }
}

/// What a `flowgen` process printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// A `flowgen sync --once --output json` run: its output and its report.
#[derive(Debug)]
pub struct SyncRun {
    pub output: Output,
    /// The engine's report (`RunReport` as JSON).
    pub report: Value,
}

impl SyncRun {
    /// A counter summed over every direction (`"writes"`, `"created"`, ...).
    pub fn total(&self, counter: &str) -> u64 {
        self.flows()
            .values()
            .map(|c| c.get(counter).and_then(Value::as_u64).unwrap_or(0))
            .sum()
    }

    /// Counters per direction.
    pub fn flows(&self) -> BTreeMap<String, Value> {
        self.report
            .get("flows")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// The directions that did something, with their non-zero counters (for messages).
    pub fn busy(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        self.flows()
            .into_iter()
            .filter_map(|(name, c)| {
                let counts: BTreeMap<String, u64> = c
                    .as_object()?
                    .iter()
                    .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k.clone(), n)))
                    .collect();
                (counts.keys().any(|k| k != "read" && k != "unchanged")).then_some((name, counts))
            })
            .collect()
    }

    /// One counter of one direction.
    pub fn count(&self, flow: &str, counter: &str) -> u64 {
        self.flows()
            .get(flow)
            .and_then(|c| c.get(counter))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
}

/// Every documented entity's records, read over HTTP, and the sandbox's own count of them.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub records: BTreeMap<EntityKey, Vec<RemoteRecord>>,
    /// `Sandbox::records(..).len()`: what the sandbox holds, not what a connector saw.
    pub sandbox_counts: BTreeMap<EntityKey, usize>,
}

impl Tables {
    pub fn of(&self, entity: EntityKey) -> &[RemoteRecord] {
        self.records.get(&entity).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn find(
        &self,
        entity: EntityKey,
        id: &flowgen_runtime::flow::RecordId,
    ) -> Option<&RemoteRecord> {
        self.of(entity).iter().find(|r| &r.id == id)
    }
}

/// What the state store holds after a run.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub links: Vec<Link>,
    pub dead_letters: Vec<DeadLetter>,
    pub deferrals: Vec<Deferral>,
    pub intents: Vec<Intent>,
}

/// A sandbox, a configuration for it, and the environment the `flowgen` processes get.
#[derive(Debug)]
pub struct World {
    pub sandbox: Sandbox,
    pub registry: Registry,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    /// The systems of flowgen.yaml (connector configurations as JSON).
    pub systems: BTreeMap<String, Value>,
    /// Environment variables for the `flowgen` processes: the credentials, by the names
    /// flowgen.yaml gives.
    pub env: Vec<(String, String)>,
    connectors: BTreeMap<String, Arc<dyn Connector>>,
}

impl World {
    /// Starts the sandbox and writes flowgen.yaml for it.
    pub async fn start(setup: Setup) -> World {
        let per_second = RateLimit::per_second(setup.sandbox_per_second);
        let defaults = SandboxConfig::default();
        let sandbox = flowgen_sandbox::start(SandboxConfig {
            poweroffice_token_lifetime: setup
                .token_lifetime
                .unwrap_or(defaults.poweroffice_token_lifetime),
            webcrm_token_lifetime: setup
                .token_lifetime
                .unwrap_or(defaults.webcrm_token_lifetime),
            records: setup.records,
            seed: setup.seed,
            faults: setup.faults.clone(),
            rate_limits: RateLimits {
                enforce: true,
                chargebee: per_second,
                poweroffice: per_second,
                webcrm: per_second,
                rest: per_second,
                ..RateLimits::default()
            },
            credentials: setup.credentials.clone(),
            ..defaults
        })
        .await
        .expect("the sandbox starts");
        let registry = dataflows::registry();
        let limits = json!({
            "requests": setup.connector_per_second,
            "period_secs": 1.0,
            "backoff_base_ms": 20,
            "backoff_max_ms": 1000,
            "max_retry_after_secs": 5.0,
        });
        let mut systems = sandbox_systems(&sandbox, &registry, Some(&limits));
        // The two REST systems share the sandbox's REST budget (one bearer token).
        for (name, system) in systems.iter_mut() {
            if system.get("kind").and_then(Value::as_str) == Some("rest") {
                system["limits"]["requests"] = json!(setup.connector_per_second / 2);
                assert!(
                    setup.connector_per_second >= 2,
                    "{name}: a REST budget to share"
                );
            }
        }
        assert!(
            setup.connector_per_second <= setup.sandbox_per_second,
            "the connectors' limits must stay within the sandbox's"
        );
        let mut dir = tempfile::tempdir().expect("a temporary folder");
        // To look at a failed test's state and configuration afterwards.
        if std::env::var_os("FLOWGEN_E2E_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("FLOWGEN_E2E_KEEP: {}", dir.path().display());
        }
        let config = dir.path().join("flowgen.yaml");
        let state = dir.path().join("flowgen.db");
        let yaml = serde_json::to_string_pretty(&json!({
            "state": "flowgen.db",
            "systems": systems,
        }))
        .expect("yaml");
        // JSON is YAML; written as the file users write.
        std::fs::write(&config, yaml).expect("flowgen.yaml");
        let env: Vec<(String, String)> = CREDENTIAL_VARIABLES
            .iter()
            .filter_map(|name| {
                sandbox_credential(&setup.credentials, name).map(|v| (name.to_string(), v))
            })
            .collect();
        let lookup = env.clone();
        let lookup = move |name: &str| {
            lookup
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let mut connectors = BTreeMap::new();
        for (name, value) in &systems {
            let config: ConnectorConfig =
                serde_json::from_value(value.clone()).expect("a connector configuration");
            let options = BuildOptions {
                env: &lookup,
                properties: document_properties(&registry, name),
                types: document_types(&registry, name),
            };
            connectors.insert(
                name.clone(),
                build_with(name, &config, &options).expect("a connector"),
            );
        }
        World {
            sandbox,
            registry,
            dir,
            config,
            state,
            systems,
            env,
            connectors,
        }
    }

    /// The in-process connectors the checks read the sandbox through.
    pub fn connectors(&self) -> &BTreeMap<String, Arc<dyn Connector>> {
        &self.connectors
    }

    /// A `flowgen` command in the world's folder with the world's environment and nothing
    /// inherited but `PATH`.
    pub fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(FLOWGEN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("FLOWGEN_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `flowgen ARGS` to its end.
    pub async fn run(&self, args: &[&str]) -> Output {
        run_command(self.command(args)).await
    }

    /// `flowgen sync --once --output json`, which must finish and print its report.
    pub async fn sync_once(&self) -> SyncRun {
        let output = self.run(&["sync", "--once", "--output", "json"]).await;
        parse_sync(output)
    }

    /// Every documented entity's records, read through the connectors.
    pub async fn tables(&self) -> Tables {
        let mut tables = Tables::default();
        for entity in self.registry.entities() {
            let Some(connector) = self.connectors.get(entity.system) else {
                continue;
            };
            tables
                .records
                .insert(entity, read_all(connector.as_ref(), entity).await);
            let held = self
                .sandbox
                .records(&entity.system.to_lowercase(), entity.entity)
                .unwrap_or_else(|e| panic!("{entity}: {e}"));
            tables.sandbox_counts.insert(entity, held.len());
        }
        tables
    }

    /// The state store's links, dead letters, deferrals and open intents.
    pub async fn state(&self) -> State {
        let store = SqliteStore::open(&self.state)
            .await
            .expect("the state file");
        State {
            links: store.all_links(None).await.expect("links"),
            dead_letters: store.dead_letters().await.expect("dead letters"),
            deferrals: store.deferrals().await.expect("deferrals"),
            intents: store.intents().await.expect("intents"),
        }
    }

    /// Creates, updates and deletes over every table of the sandbox so far.
    pub fn changes(&self) -> u64 {
        self.sandbox
            .stats()
            .tables
            .values()
            .map(|t| t.creates + t.updates + t.deletes)
            .sum()
    }

    /// Runs `sync --once` until a run writes nothing (at most `most` runs); returns the runs.
    pub async fn sync_until_quiet(&self, most: usize) -> Vec<SyncRun> {
        let mut runs = Vec::new();
        for _ in 0..most {
            let before = self.changes();
            let run = self.sync_once().await;
            let quiet = run.total("writes") == 0 && self.changes() == before;
            runs.push(run);
            if quiet {
                return runs;
            }
        }
        let last = runs.last().map(SyncRun::busy);
        panic!("{most} runs and the sync still writes: the last one did {last:#?}");
    }
}

/// Runs a command to its end and collects its output.
pub async fn run_command(mut command: tokio::process::Command) -> Output {
    let out = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .expect("flowgen finishes within 5 minutes")
        .expect("flowgen starts");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The report of a finished `sync --once --output json`. Exit code 1 means dead letters or
/// read errors, which the report lists; anything else is a failure.
pub fn parse_sync(output: Output) -> SyncRun {
    assert!(
        matches!(output.code(), Some(0 | 1)),
        "flowgen sync failed ({:?}):\n{}\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    let report: Value = serde_json::from_str(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "sync --output json printed no report ({e}):\n{}\n{}",
            output.stdout, output.stderr
        )
    });
    SyncRun { output, report }
}

/// All records of an entity, page by page from the beginning.
async fn read_all(connector: &dyn Connector, entity: EntityKey) -> Vec<RemoteRecord> {
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let page = connector
            .changes(entity.entity, cursor.as_deref(), 100)
            .await
            .unwrap_or_else(|e| panic!("reading {entity}: {e}"));
        records.extend(page.records);
        if !page.more {
            return records;
        }
        if page.cursor.is_some() {
            cursor = page.cursor;
        }
    }
    panic!("{entity}: more than 10,000 pages");
}

/// Links per pair key.
pub fn links_per_pair(links: &[Link]) -> BTreeMap<String, usize> {
    let mut n: BTreeMap<String, usize> = BTreeMap::new();
    for l in links {
        *n.entry(l.pair.clone()).or_default() += 1;
    }
    n
}
