//! `flowgen demo`: starts the sandbox in process, points the five systems' connectors at
//! it, syncs every flow once with progress bars and a summary per flow, then syncs again
//! and checks that the second run wrote nothing (a sync of unchanged data must be a no-op).
//!
//! The sandbox enforces rate limits, raised above the real APIs' so the demo finishes in
//! seconds; the connectors are configured below the sandbox's limits, so a 429 from the
//! limiter means a connector broke its budget. Credentials are the sandbox's well-known
//! ones, handed to the connectors through [`BuildOptions::env`] (never the process
//! environment) and never printed.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use clap::Args;
use flowgen_sandbox::{Api, Credentials, Faults, RateLimit, RateLimits, Sandbox, SandboxConfig};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use super::config::Connectors;
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::connector::{Connector, ConnectorError, Page, RemoteRecord};
use crate::connectors::config::ConnectorConfig;
use crate::connectors::{BuildOptions, build_with};
use crate::engine::{Engine, EngineError, EngineOptions, RunReport};
use crate::flow::{RecordId, Registry};
use crate::state::{SqliteStore, StateError, StateStore};

/// Requests per second the sandbox accepts per API during the demo (the real APIs allow
/// 2.5–20/s; the demo raises them to finish quickly, and still enforces them).
pub const DEMO_SANDBOX_REQUESTS_PER_SECOND: u32 = 500;
/// Requests per second each connector allows itself during the demo (two REST systems
/// share the sandbox's REST budget: 2 × (200 + burst 20) < 500).
pub const DEMO_CONNECTOR_REQUESTS_PER_SECOND: u32 = 200;

/// The environment variable names the sandbox's credentials go by, as `flowgen sandbox`
/// prints them and a `flowgen.yaml` for the sandbox names them.
pub const CREDENTIAL_VARIABLES: [&str; 7] = [
    "CHARGEBEE_API_KEY",
    "POWEROFFICE_APPLICATION_KEY",
    "POWEROFFICE_CLIENT_KEY",
    "POWEROFFICE_SUBSCRIPTION_KEY",
    "WEBCRM_AUTH_CODE",
    "CUSTOMERP_TOKEN",
    "CUSTOMWEBSHOP_TOKEN",
];

/// The sandbox credential an environment variable of [`CREDENTIAL_VARIABLES`] stands for.
pub fn sandbox_credential(credentials: &Credentials, variable: &str) -> Option<String> {
    let value = match variable {
        "CHARGEBEE_API_KEY" => &credentials.chargebee_api_key,
        "POWEROFFICE_APPLICATION_KEY" => &credentials.poweroffice_application_key,
        "POWEROFFICE_CLIENT_KEY" => &credentials.poweroffice_client_key,
        "POWEROFFICE_SUBSCRIPTION_KEY" => &credentials.poweroffice_subscription_key,
        "WEBCRM_AUTH_CODE" => &credentials.webcrm_auth_code,
        "CUSTOMERP_TOKEN" | "CUSTOMWEBSHOP_TOKEN" => &credentials.rest_token,
        _ => return None,
    };
    Some(value.clone())
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Records per entity seeded in the sandbox.
    #[arg(long, default_value_t = 25, value_name = "N")]
    pub records: usize,
    /// Seed of the sandbox's dataset and fault sequence.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// The SQLite state file (default: a new one in a temporary folder).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Faults to inject, e.g. `latency=5ms,5xx=2%,429=1%,retry_after=1`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<String>,
    /// Keep the temporary state file, and keep the sandbox serving after the runs until
    /// Ctrl-C (to look around with `flowgen status --state …` or curl).
    #[arg(long)]
    pub keep: bool,
}

/// What the demo runs against.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub records: usize,
    pub seed: u64,
    pub faults: Faults,
    /// The SQLite state file (created if missing).
    pub state: PathBuf,
    /// Draw progress bars (on standard error).
    pub progress: bool,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("sandbox: {0}")]
    Sandbox(#[from] flowgen_sandbox::SandboxError),
    #[error(transparent)]
    Connector(#[from] crate::connectors::ConfigError),
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("sync: {0}")]
    Engine(#[from] EngineError),
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

/// The two runs of a demo, and the sandbox they ran against (still serving).
#[derive(Debug)]
pub struct DemoOutcome {
    pub sandbox: Sandbox,
    pub first: RunReport,
    pub second: RunReport,
    /// Creates, updates and deletes the sandbox saw during the second run.
    pub second_run_changes: u64,
    pub stats: flowgen_sandbox::StatsSnapshot,
}

impl DemoOutcome {
    /// Whether the second run left every system as it was.
    pub fn second_run_wrote_nothing(&self) -> bool {
        self.second.total().writes == 0 && self.second_run_changes == 0
    }
}

/// The sandbox's configuration for a demo: rate limits on, raised.
pub fn sandbox_config(records: usize, seed: u64, faults: Faults) -> SandboxConfig {
    let limit = RateLimit::per_second(DEMO_SANDBOX_REQUESTS_PER_SECOND);
    SandboxConfig {
        records,
        seed,
        faults,
        rate_limits: RateLimits {
            enforce: true,
            chargebee: limit,
            poweroffice: limit,
            webcrm: limit,
            rest: limit,
            ..RateLimits::default()
        },
        ..SandboxConfig::default()
    }
}

fn limits() -> Value {
    json!({
        "requests": DEMO_CONNECTOR_REQUESTS_PER_SECOND,
        "period_secs": 1.0,
        "burst": DEMO_CONNECTOR_REQUESTS_PER_SECOND / 10,
        "backoff_base_ms": 50,
        "backoff_max_ms": 2000,
        "max_retry_after_secs": 5.0,
    })
}

/// The documented entities of `system` (the documents' spelling).
fn entities_of(registry: &Registry, system: &str) -> Vec<&'static str> {
    registry
        .entities()
        .into_iter()
        .filter(|e| e.system == system)
        .map(|e| e.entity)
        .collect()
}

/// Where a sandbox's APIs listen, and the Chargebee customer orders without one are booked
/// to: what a configuration for it needs (from a [`Sandbox`] in process, or printed by one
/// in another process).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SandboxEndpoints {
    pub chargebee: String,
    pub poweroffice: String,
    pub poweroffice_token: String,
    pub webcrm: String,
    /// Per REST system (`customerp`), its base URL.
    pub rest: BTreeMap<String, String>,
    pub walk_in_customer: Option<String>,
}

impl SandboxEndpoints {
    pub fn of(sandbox: &Sandbox) -> Self {
        SandboxEndpoints {
            chargebee: sandbox.base_url(Api::Chargebee),
            poweroffice: sandbox.base_url(Api::PowerOffice),
            poweroffice_token: sandbox.token_url(Api::PowerOffice).unwrap_or_default(),
            webcrm: sandbox.base_url(Api::Webcrm),
            rest: ["customerp", "customwebshop"]
                .into_iter()
                .filter_map(|slug| Some((slug.to_string(), sandbox.rest_base_url(slug)?)))
                .collect(),
            walk_in_customer: walk_in_customer(sandbox),
        }
    }
}

/// The systems of the documents the sandbox emulates, as `flowgen.yaml` spells them
/// (`systems.<name>`), pointed at `sandbox`, credentials named by [`CREDENTIAL_VARIABLES`],
/// with `limits` when given (else the APIs' documented limits). Systems the registry does
/// not mention are left out.
pub fn sandbox_systems(
    sandbox: &Sandbox,
    registry: &Registry,
    limits: Option<&Value>,
) -> BTreeMap<String, Value> {
    systems_at(&SandboxEndpoints::of(sandbox), registry, limits)
}

/// [`sandbox_systems`] for a sandbox known by its endpoints.
pub fn systems_at(
    endpoints: &SandboxEndpoints,
    registry: &Registry,
    limits: Option<&Value>,
) -> BTreeMap<String, Value> {
    let mut systems = BTreeMap::new();
    let mut chargebee_defaults = json!({
        "Item": {"name": ["{name}", "Item {$ref}"]},
        "Business_entity": {"name": ["{name}", "Business entity {$ref}"]},
    });
    if let Some(walk_in) = &endpoints.walk_in_customer {
        chargebee_defaults["Order"] = json!({"customer_id": walk_in});
    }
    let mut all = vec![
        (
            "Chargebee",
            json!({"kind": "chargebee", "base_url": endpoints.chargebee,
                   "api_key_env": "CHARGEBEE_API_KEY",
                   "defaults": chargebee_defaults}),
        ),
        (
            "Powerofficego",
            json!({"kind": "poweroffice", "base_url": endpoints.poweroffice,
            "token_url": endpoints.poweroffice_token,
            "application_key_env": "POWEROFFICE_APPLICATION_KEY",
            "client_key_env": "POWEROFFICE_CLIENT_KEY",
            "subscription_key_env": "POWEROFFICE_SUBSCRIPTION_KEY",
            "defaults": {
                "Customers person": {"Name": ["{FirstName} {LastName}", "{FirstName}", "{LastName}", "{EmailAddress}", "Person {$ref}"]},
                "Customers": {"Name": ["{Name}", "{EmailAddress}", "Customer {$ref}"]},
                "Product": {"Name": ["{Name}", "{Code}", "Product {$ref}"]},
            }}),
        ),
        (
            "Webcrm",
            json!({"kind": "webcrm", "base_url": endpoints.webcrm,
                   "auth_code_env": "WEBCRM_AUTH_CODE"}),
        ),
    ];
    for (name, slug, token) in [
        ("Customerp", "customerp", "CUSTOMERP_TOKEN"),
        ("Customwebshop", "customwebshop", "CUSTOMWEBSHOP_TOKEN"),
    ] {
        let Some(base_url) = endpoints.rest.get(slug) else {
            continue;
        };
        // The sandbox's collections are the documents' entity names, plural, lowercase.
        let entities: serde_json::Map<String, Value> = entities_of(registry, name)
            .iter()
            .map(|e| {
                (
                    e.to_string(),
                    json!({"path": format!("/{}s", e.to_lowercase()),
                           "read_only": ["created_at", "updated_at"]}),
                )
            })
            .collect();
        all.push((
            name,
            json!({"kind": "rest", "base_url": base_url,
                   "auth": {"type": "bearer", "token_env": token},
                   "entities": entities}),
        ));
    }
    for (name, mut value) in all {
        if entities_of(registry, name).is_empty() {
            continue;
        }
        if let (Some(limits), Some(object)) = (limits, value.as_object_mut()) {
            object.insert("limits".into(), limits.clone());
        }
        systems.insert(name.to_string(), value);
    }
    systems
}

/// Systems as [`sandbox_systems`] gives them, as connector configurations.
pub fn connector_configs(
    systems: BTreeMap<String, Value>,
) -> Result<BTreeMap<String, ConnectorConfig>, crate::connectors::ConfigError> {
    systems
        .into_iter()
        .map(|(name, value)| {
            serde_json::from_value::<ConnectorConfig>(value)
                .map(|config| (name.clone(), config))
                .map_err(|e| crate::connectors::ConfigError::invalid(&name, "kind", e.to_string()))
        })
        .collect()
}

/// The Chargebee customer that orders without one are booked to (shops book walk-in sales
/// to one such customer): the first customer of the sandbox's dataset. The documents map
/// no customer into the orders Customerp, Customwebshop and WebCRM create in Chargebee,
/// and a PowerOffice Go sales order needs one.
fn walk_in_customer(sandbox: &Sandbox) -> Option<String> {
    sandbox
        .records("chargebee", "Customer")
        .ok()?
        .iter()
        .filter_map(|c| c.get("id").and_then(Value::as_str))
        .min()
        .map(str::to_string)
}

/// [`sandbox_systems`] with the demo's limits, as connector configurations.
pub fn sandbox_connector_configs(
    sandbox: &Sandbox,
    registry: &Registry,
) -> Result<BTreeMap<String, ConnectorConfig>, crate::connectors::ConfigError> {
    connector_configs(sandbox_systems(sandbox, registry, Some(&limits())))
}

/// Per entity of `system`, the property names the documents use for it.
pub fn document_properties(registry: &Registry, system: &str) -> BTreeMap<String, Vec<String>> {
    let mut properties: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for flow in registry.flows() {
        let info = flow.info();
        for p in info.properties {
            if info.source.system == system {
                properties
                    .entry(info.source.entity.to_string())
                    .or_default()
                    .push(p.source.to_string());
            }
            if info.target.system == system {
                properties
                    .entry(info.target.entity.to_string())
                    .or_default()
                    .push(p.target.to_string());
            }
        }
        for m in info.match_rules {
            if info.target.system == system {
                properties
                    .entry(info.target.entity.to_string())
                    .or_default()
                    .push(m.target.to_string());
            }
        }
    }
    for names in properties.values_mut() {
        names.sort();
        names.dedup();
    }
    properties
}

/// Per entity of `system`, the documented type of each property the documents write into
/// it (the types of properties only read are not stated; the generated code keeps them as
/// JSON values).
pub fn document_types(
    registry: &Registry,
    system: &str,
) -> crate::connectors::coerce::DocumentTypes {
    let mut types: BTreeMap<String, Vec<(&'static str, &'static str)>> = BTreeMap::new();
    for flow in registry.flows() {
        let info = flow.info();
        if info.target.system != system {
            continue;
        }
        for p in info.properties {
            if let Some(ty) = p.ty {
                types
                    .entry(info.target.entity.to_string())
                    .or_default()
                    .push((p.target, ty));
            }
        }
    }
    types
        .into_iter()
        .map(|(entity, pairs)| (entity, crate::connectors::coerce::EntityTypes::new(pairs)))
        .collect()
}

/// Progress bars per system, replaced before each run.
#[derive(Debug, Default)]
struct Progress {
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    fn bar(&self, system: &str) -> Option<ProgressBar> {
        self.bars.lock().ok().and_then(|b| b.get(system).cloned())
    }

    fn install(&self, bars: HashMap<String, ProgressBar>) {
        if let Ok(mut current) = self.bars.lock() {
            *current = bars;
        }
    }
}

/// A connector that moves its system's progress bar: records read, records written.
#[derive(Debug)]
struct Tracked {
    inner: Arc<dyn Connector>,
    progress: Arc<Progress>,
    written: std::sync::atomic::AtomicU64,
}

impl Tracked {
    fn wrote(&self) {
        let n = self
            .written
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if let Some(bar) = self.progress.bar(self.inner.system()) {
            bar.set_message(format!("{n} written"));
        }
    }
}

#[async_trait]
impl Connector for Tracked {
    fn system(&self) -> &str {
        self.inner.system()
    }

    fn idempotent_create(&self) -> bool {
        self.inner.idempotent_create()
    }

    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let page = self.inner.changes(entity, cursor, limit).await?;
        if let Some(bar) = self.progress.bar(self.inner.system()) {
            bar.inc(page.records.len() as u64);
        }
        Ok(page)
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        self.inner.get(entity, id).await
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let record = self.inner.create(entity, data, idempotency_key).await?;
        self.wrote();
        Ok(record)
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let record = self.inner.update(entity, id, data).await?;
        self.wrote();
        Ok(record)
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        self.inner.search(entity, property, value).await
    }
}

/// Creates, updates and deletes over every table of the sandbox.
fn table_changes(stats: &flowgen_sandbox::StatsSnapshot) -> u64 {
    stats
        .tables
        .values()
        .map(|t| t.creates + t.updates + t.deletes)
        .sum()
}

/// One run with a bar per system, sized by the records the sandbox holds for the
/// documented entities (the first run reads them all; later runs only changes).
async fn run_once(
    engine: &Engine,
    progress: &Arc<Progress>,
    sandbox: &Sandbox,
    systems: &[(String, Vec<&'static str>)],
    show: bool,
    label: &str,
) -> Result<RunReport, EngineError> {
    let multi = MultiProgress::with_draw_target(if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template(
        "{prefix:<22} [{bar:30}] {pos:>5}/{len:<5} read  {msg}  {elapsed}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let mut bars = HashMap::new();
    for (system, entities) in systems {
        let total: usize = entities
            .iter()
            .map(|e| {
                sandbox
                    .records(&system.to_lowercase(), e)
                    .map(|r| r.len())
                    .unwrap_or(0)
            })
            .sum();
        let bar = multi.add(ProgressBar::new(total as u64));
        bar.set_style(style.clone());
        bar.set_prefix(format!("{label} {system}"));
        bar.set_message("0 written");
        bars.insert(system.clone(), bar);
    }
    progress.install(bars.clone());
    let report = engine.sync_once().await;
    for bar in bars.values() {
        bar.finish();
    }
    progress.install(HashMap::new());
    let _ = multi.clear();
    report
}

/// The summary per flow; with `quiet_too` false, flows that read nothing are counted, not listed.
fn write_table(out: &mut dyn Write, report: &RunReport, quiet_too: bool) -> std::io::Result<()> {
    let width = report
        .flows
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        out,
        "  {:<width$} {:>6} {:>7} {:>7} {:>6} {:>8} {:>13}",
        "flow", "read", "created", "updated", "linked", "deferred", "dead-lettered"
    )?;
    let mut quiet = 0;
    for (name, c) in &report.flows {
        if !quiet_too && c.read + c.deferred + c.writes + c.dead_lettered == 0 {
            quiet += 1;
            continue;
        }
        writeln!(
            out,
            "  {:<width$} {:>6} {:>7} {:>7} {:>6} {:>8} {:>13}",
            name, c.read, c.created, c.updated, c.linked, c.deferred, c.dead_lettered
        )?;
    }
    if quiet > 0 {
        writeln!(
            out,
            "  ({quiet} more flows: nothing changed, nothing to read)"
        )?;
    }
    let t = report.total();
    writeln!(
        out,
        "  {:<width$} {:>6} {:>7} {:>7} {:>6} {:>8} {:>13}",
        "total", t.read, t.created, t.updated, t.linked, t.deferred, t.dead_lettered
    )?;
    writeln!(
        out,
        "  {} writes, {} unchanged, {} skipped (condition or no create), {} conflicts, {} still deferred",
        t.writes, t.unchanged, t.skipped, t.conflicts, report.still_deferred
    )?;
    for error in &report.read_errors {
        writeln!(out, "  read error (entity skipped this run): {error}")?;
    }
    Ok(())
}

async fn write_dead_letters(
    out: &mut dyn Write,
    store: &Arc<dyn StateStore>,
) -> Result<(), DemoError> {
    let letters = store.dead_letters().await?;
    if letters.is_empty() {
        return Ok(());
    }
    // The same cause repeats per record: group by flow and error, ids left out.
    let mut groups: BTreeMap<(String, String), usize> = BTreeMap::new();
    for l in &letters {
        let cause = l
            .error
            .split(": HTTP")
            .nth(1)
            .map_or(l.error.clone(), |rest| format!("HTTP{rest}"));
        let cause = without_values(&cause);
        *groups.entry((l.direction.clone(), cause)).or_default() += 1;
    }
    writeln!(
        out,
        "  {} dead letters so far (`flowgen dead-letters list --state …` with --keep), by flow and cause:",
        letters.len()
    )?;
    for ((direction, cause), n) in &groups {
        writeln!(out, "    {n:>4} × {direction}: {cause}")?;
    }
    Ok(())
}

/// `text` with the values quoted in backticks elided, and cut short: one line per cause.
fn without_values(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        out.push_str(if i % 2 == 1 { "…" } else { part });
    }
    match out.char_indices().nth(140) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

fn write_stats(out: &mut dyn Write, stats: &flowgen_sandbox::StatsSnapshot) -> std::io::Result<()> {
    writeln!(
        out,
        "  {:<12} {:>8} {:>12} {:>16} {:>14}",
        "api", "requests", "rate-limited", "peak per window", "faults served"
    )?;
    for api in Api::ALL {
        let s = stats.api(api);
        let faults = s.faults.too_many_requests
            + s.faults.malformed
            + s.faults.dropped
            + s.statuses
                .iter()
                .filter(|(code, _)| **code >= 500)
                .map(|(_, n)| n)
                .sum::<u64>();
        writeln!(
            out,
            "  {:<12} {:>8} {:>12} {:>9}/{:<6} {:>14}",
            api.name(),
            s.requests,
            s.rate_limited,
            s.rate_limit.max_in_window,
            s.rate_limit.requests,
            faults
        )?;
    }
    Ok(())
}

/// Runs the demo: starts the sandbox, syncs twice, writes the report to `out`. The
/// sandbox keeps serving until the returned outcome is dropped.
pub async fn run_demo(
    options: &DemoOptions,
    registry: Registry,
    out: &mut dyn Write,
) -> Result<DemoOutcome, DemoError> {
    let started = Instant::now();
    let sandbox = flowgen_sandbox::start(sandbox_config(
        options.records,
        options.seed,
        options.faults.clone(),
    ))
    .await?;
    writeln!(
        out,
        "sandbox: {} records per entity (seed {}), rate limits enforced but raised to {}/s per API for the demo (the real APIs allow 2.5-20/s); connectors keep to {}/s{}",
        options.records,
        options.seed,
        DEMO_SANDBOX_REQUESTS_PER_SECOND,
        DEMO_CONNECTOR_REQUESTS_PER_SECOND,
        if options.faults.is_none() {
            String::new()
        } else {
            "; faults injected".to_string()
        }
    )?;
    writeln!(out, "{}", sandbox.describe())?;

    let configs = sandbox_connector_configs(&sandbox, &registry)?;
    let credentials = sandbox.config().credentials.clone();
    let env = move |name: &str| sandbox_credential(&credentials, name);
    let progress = Arc::new(Progress::default());
    let mut connectors: Connectors = HashMap::new();
    let mut systems = Vec::new();
    for (name, config) in &configs {
        let build = BuildOptions {
            env: &env,
            properties: document_properties(&registry, name),
            types: document_types(&registry, name),
        };
        let inner = build_with(name, config, &build)?;
        connectors.insert(
            name.clone(),
            Arc::new(Tracked {
                inner,
                progress: Arc::clone(&progress),
                written: Default::default(),
            }) as Arc<dyn Connector>,
        );
        systems.push((name.clone(), entities_of(&registry, name)));
    }
    let documented: Vec<String> = {
        let mut all: Vec<String> = registry
            .entities()
            .into_iter()
            .map(|e| e.system.to_string())
            .collect();
        all.dedup();
        all
    };
    for system in documented.iter().filter(|s| !configs.contains_key(*s)) {
        writeln!(
            out,
            "skipped: {system} (the sandbox does not emulate it); its flows do not run"
        )?;
    }

    let store = Arc::new(SqliteStore::open(&options.state).await?) as Arc<dyn StateStore>;
    let engine = Engine::new(
        registry,
        connectors,
        Arc::clone(&store),
        EngineOptions::default(),
    );
    writeln!(
        out,
        "state: {}\n{} flows in both directions over {} systems; each run reads again the entities it wrote to, so what one system's records create in another reaches the rest in the same run",
        options.state.display(),
        engine.topology().directions.len(),
        configs.len(),
    )?;

    let first = run_once(
        &engine,
        &progress,
        &sandbox,
        &systems,
        options.progress,
        "run 1",
    )
    .await?;
    writeln!(
        out,
        "\nrun 1 ({:.1} s since start):",
        started.elapsed().as_secs_f64()
    )?;
    write_table(out, &first, true)?;
    write_dead_letters(out, &store).await?;

    let before = table_changes(&sandbox.stats());
    let second_started = Instant::now();
    let second = run_once(
        &engine,
        &progress,
        &sandbox,
        &systems,
        options.progress,
        "run 2",
    )
    .await?;
    let second_run_changes = table_changes(&sandbox.stats()).saturating_sub(before);
    writeln!(
        out,
        "\nrun 2 ({:.1} s):",
        second_started.elapsed().as_secs_f64()
    )?;
    write_table(out, &second, false)?;
    let stats = sandbox.stats();
    let outcome = DemoOutcome {
        sandbox,
        first,
        second,
        second_run_changes,
        stats,
    };
    if outcome.second_run_wrote_nothing() {
        writeln!(
            out,
            "run 2 wrote nothing: every system already matched (0 writes by the engine, 0 changes in the sandbox)"
        )?;
    } else {
        writeln!(
            out,
            "run 2 WROTE: {} writes by the engine, {} changes in the sandbox; a second run over unchanged data must write nothing",
            outcome.second.total().writes,
            outcome.second_run_changes
        )?;
    }
    writeln!(out, "\nsandbox counters:")?;
    write_stats(out, &outcome.stats)?;
    writeln!(out, "\ndone in {:.1} s", started.elapsed().as_secs_f64())?;
    Ok(outcome)
}

/// A temporary folder removed on drop unless kept.
struct TempState {
    dir: PathBuf,
    keep: bool,
}

impl Drop for TempState {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn temp_state(keep: bool) -> std::io::Result<TempState> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("flowgen-demo-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(TempState { dir, keep })
}

/// `flowgen demo`.
pub fn demo(args: DemoArgs, registry: fn() -> Registry) -> u8 {
    let faults = match args.faults.as_deref().map(str::parse::<Faults>) {
        None => Faults::none(),
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            eprintln!("error: --faults: {e}");
            return EXIT_USAGE;
        }
    };
    if args.records == 0 || args.records > flowgen_sandbox::config::MAX_RECORDS {
        eprintln!(
            "error: --records: {} is not between 1 and {}",
            args.records,
            flowgen_sandbox::config::MAX_RECORDS
        );
        return EXIT_USAGE;
    }
    let temp = match args.state {
        Some(_) => None,
        None => match temp_state(args.keep) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: cannot create a temporary folder for the state: {e}");
                return EXIT_FINDINGS;
            }
        },
    };
    let state = match (&args.state, &temp) {
        (Some(path), _) => path.clone(),
        (None, Some(t)) => t.dir.join("flowgen.db"),
        (None, None) => PathBuf::from(super::config::DEFAULT_STATE),
    };
    let options = DemoOptions {
        records: args.records,
        seed: args.seed,
        faults,
        state,
        progress: std::io::stdout().is_terminal(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_FINDINGS;
        }
    };
    rt.block_on(async {
        let mut stdout = std::io::stdout();
        let outcome = match run_demo(&options, registry(), &mut stdout).await {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FINDINGS;
            }
        };
        let _ = stdout.flush();
        let code = if outcome.second_run_wrote_nothing() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        };
        if args.keep {
            println!(
                "\n--keep: state kept at {}; the sandbox serves until Ctrl-C (credentials: the sandbox defaults, see `flowgen sandbox`)",
                options.state.display()
            );
            let _ = stdout.flush();
            let _ = tokio::signal::ctrl_c().await;
        }
        outcome.sandbox.shutdown().await;
        code
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_names_a_credential_and_others_none() {
        let credentials = Credentials::default();
        for variable in CREDENTIAL_VARIABLES {
            let value = sandbox_credential(&credentials, variable);
            assert!(value.is_some_and(|v| !v.is_empty()), "{variable}");
        }
        assert_eq!(sandbox_credential(&credentials, "HOME"), None);
        assert_eq!(
            sandbox_credential(&credentials, "CUSTOMERP_TOKEN"),
            Some(credentials.rest_token.clone())
        );
    }

    #[test]
    fn causes_lose_their_values_and_length() {
        assert_eq!(
            without_values("invalid integer `10.0` in `x`"),
            "invalid integer … in …"
        );
        let long = "x".repeat(300);
        let cut = without_values(&long);
        assert_eq!(cut.chars().count(), 141);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn demo_limits_stay_under_the_sandbox() {
        // Two REST systems share one budget: each at most requests + burst per second.
        let per_connector = DEMO_CONNECTOR_REQUESTS_PER_SECOND * 11 / 10;
        assert!(2 * per_connector < DEMO_SANDBOX_REQUESTS_PER_SECOND);
        let config = sandbox_config(5, 1, Faults::none());
        assert!(config.rate_limits.enforce);
        assert_eq!(
            config.rate_limits.chargebee,
            RateLimit::per_second(DEMO_SANDBOX_REQUESTS_PER_SECOND)
        );
    }
}
