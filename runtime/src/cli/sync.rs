//! The runtime commands: `sync`, `plan`, `status`, `links`, `dead-letters list|retry`.
//! Systems and the state file come from `flowgen.yaml` ([`super::config`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

use super::config::{Config, DEFAULT_CONFIG, StateLocation, Systems};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::engine::{Engine, EngineOptions, Plan, RunReport, Topology};
use crate::flow::Registry;
use crate::state::{Leases, StateStore};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// Where the configuration and the state are.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The configuration file (systems and state).
    #[arg(long, default_value = DEFAULT_CONFIG, value_name = "PATH")]
    pub config: PathBuf,
    /// The state: a SQLite file, or a postgres://… URL (overrides `state:` of the configuration).
    #[arg(long, value_name = "PATH|URL", value_parser = state_flag)]
    pub state: Option<StateLocation>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub common: Common,
    /// Run once and exit (otherwise run every `--interval` seconds until interrupted).
    #[arg(long)]
    pub once: bool,
    /// Seconds between runs without `--once`.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub interval: u64,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct LinksArgs {
    #[command(flatten)]
    pub common: Common,
    /// Only the links of this flow (its name as `flowgen status` prints it).
    #[arg(long, value_name = "NAME")]
    pub flow: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    pub command: DeadLettersCommand,
}

#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List the dead letters with their payload and error.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Read the records again and synchronize them; the ones that succeed leave the list.
    Retry {
        #[command(flatten)]
        common: Common,
        /// Only these dead letters (ids from `list`).
        #[arg(long = "id", value_name = "ID")]
        ids: Vec<i64>,
    },
}

/// `--state`: a path is relative to the working directory (the configuration's `state:` to
/// its file). Kept as a [`StateLocation`], whose `Debug` hides a password.
fn state_flag(text: &str) -> Result<StateLocation, String> {
    if text.trim().is_empty() {
        return Err("give a SQLite file path or a postgres:// URL".into());
    }
    Ok(StateLocation::parse(text, Path::new("")))
}

/// A loaded configuration, its systems and the engine over them.
pub(super) struct Loaded {
    pub(super) engine: Engine,
    pub(super) systems: Systems,
    pub(super) leases: Arc<dyn Leases>,
    pub(super) config: Config,
    pub(super) state: StateLocation,
}

pub(super) fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("error: {message}");
    EXIT_FINDINGS
}

fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))
}

fn load_config(common: &Common, registry: &Registry) -> Result<Config, u8> {
    let config = Config::load(&common.config).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_USAGE
    })?;
    let unknown: Vec<&String> = config
        .prefer
        .keys()
        .filter(|name| registry.get(name).is_none())
        .collect();
    if let Some(name) = unknown.first() {
        eprintln!(
            "error: {}: prefer.{name}: no flow has this name",
            common.config.display()
        );
        return Err(EXIT_USAGE);
    }
    Ok(config)
}

/// What the commands that only read the state need: the flows of the configured systems
/// and the store. No connector is built, so no credential has to be set.
pub(super) struct Inspected {
    pub(super) topology: Topology,
    pub(super) store: Arc<dyn StateStore>,
}

pub(super) async fn load_state(
    common: &Common,
    registry: fn() -> Registry,
) -> Result<Inspected, u8> {
    let registry = registry();
    let config = load_config(common, &registry)?;
    let state = common.state.clone().unwrap_or_else(|| config.state.clone());
    let backend = state
        .open()
        .await
        .map_err(|e| fail(format!("{state}: {e}")))?;
    let topology = Topology::new(
        &registry,
        |system| config.systems.contains_key(system),
        &config.prefer,
        None,
    );
    Ok(Inspected {
        topology,
        store: backend.store,
    })
}

pub(super) async fn load(common: &Common, registry: fn() -> Registry) -> Result<Loaded, u8> {
    let registry = registry();
    let config = load_config(common, &registry)?;
    let (systems, connectors) = Systems::open_for(&config, &registry).map_err(fail)?;
    let state = common.state.clone().unwrap_or_else(|| config.state.clone());
    let backend = state
        .open()
        .await
        .map_err(|e| fail(format!("{state}: {e}")))?;
    let mut options = EngineOptions {
        prefer: config.prefer.clone(),
        ..EngineOptions::default()
    };
    if let Some(page_size) = config.page_size {
        options.page_size = page_size;
    }
    let engine = Engine::new(registry, connectors, backend.store, options);
    Ok(Loaded {
        engine,
        systems,
        leases: backend.leases,
        config,
        state,
    })
}

/// `sync` and `dead-letters retry` create without claims (see `crate::state::claims`): beside
/// running workers they could create what a worker is creating, so they refuse.
async fn refuse_beside_workers(loaded: &Loaded) -> Result<(), u8> {
    match loaded.leases.workers().await {
        Ok(workers) if workers.is_empty() => Ok(()),
        Ok(workers) => {
            eprintln!(
                "error: {} `flowgen run` worker{} running on {} ({}): stop them first (they sync already)",
                workers.len(),
                if workers.len() == 1 { " is" } else { "s are" },
                loaded.state,
                workers.join(", ")
            );
            Err(EXIT_USAGE)
        }
        Err(e) => Err(fail(e)),
    }
}

fn print_json(value: &impl serde::Serialize) -> u8 {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            EXIT_OK
        }
        Err(e) => fail(e),
    }
}

/// A report as a table: one row per flow that did something.
pub fn render_report(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<60} {:>6} {:>7} {:>7} {:>6} {:>8} {:>5} {:>9} {:>6}",
        "flow", "read", "created", "updated", "linked", "deferred", "dead", "conflicts", "writes"
    );
    for (name, c) in &report.flows {
        if c.read + c.created + c.updated + c.deferred + c.dead_lettered == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<60} {:>6} {:>7} {:>7} {:>6} {:>8} {:>5} {:>9} {:>6}",
            name,
            c.read,
            c.created,
            c.updated,
            c.linked,
            c.deferred,
            c.dead_lettered,
            c.conflicts,
            c.writes
        );
    }
    let t = report.total();
    let _ = writeln!(
        out,
        "total: {} created, {} updated, {} linked, {} deferred ({} still waiting), {} dead letters, {} conflicts, {} writes",
        t.created,
        t.updated,
        t.linked,
        t.deferred,
        report.still_deferred,
        t.dead_lettered,
        t.conflicts,
        t.writes
    );
    for error in &report.read_errors {
        let _ = writeln!(out, "read error: {error}");
    }
    out
}

/// A plan as text.
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.is_empty() {
        out.push_str("nothing to do\n");
        return out;
    }
    for c in &plan.creates {
        let _ = writeln!(
            out,
            "create {} from {} ({}): {}",
            c.target, c.source_id, c.direction, c.values
        );
    }
    for u in &plan.updates {
        let _ = writeln!(
            out,
            "update {} {} from {} ({}){}",
            u.target,
            u.target_id,
            u.source_id,
            u.direction,
            if u.conflict { " [conflict]" } else { "" }
        );
        for d in &u.changes {
            let _ = writeln!(out, "    {}: {} -> {}", d.property, d.old, d.new);
        }
    }
    for l in &plan.links {
        let _ = writeln!(
            out,
            "link {} to {} {} ({}; {})",
            l.source_id, l.target, l.target_id, l.direction, l.rule
        );
    }
    for d in &plan.deferrals {
        let _ = writeln!(out, "defer {} ({}): {}", d.source_id, d.direction, d.reason);
    }
    for f in &plan.failures {
        let _ = writeln!(out, "fail {} ({}): {}", f.source_id, f.direction, f.reason);
    }
    let _ = writeln!(
        out,
        "{} creates, {} updates, {} links, {} deferrals, {} failures",
        plan.creates.len(),
        plan.updates.len(),
        plan.links.len(),
        plan.deferrals.len(),
        plan.failures.len()
    );
    out
}

fn finish_report(loaded: &Loaded, report: &RunReport, output: Output) -> u8 {
    if let Err(e) = loaded.systems.save() {
        return fail(e);
    }
    let code = match output {
        Output::Json => print_json(report),
        Output::Text => {
            print!("{}", render_report(report));
            let _ = std::io::stdout().flush();
            EXIT_OK
        }
    };
    if report.total().dead_lettered > 0 || !report.read_errors.is_empty() {
        EXIT_FINDINGS
    } else {
        code
    }
}

pub fn sync(args: SyncArgs, registry: fn() -> Registry) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let loaded = match load(&args.common, registry).await {
            Ok(l) => l,
            Err(code) => return code,
        };
        if let Err(code) = refuse_beside_workers(&loaded).await {
            return code;
        }
        loop {
            let code = match loaded.engine.sync_once().await {
                Ok(report) => finish_report(&loaded, &report, args.common.output),
                Err(e) => {
                    let _ = loaded.systems.save();
                    fail(e)
                }
            };
            if args.once {
                return code;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(args.interval.max(1))) => {}
                _ = tokio::signal::ctrl_c() => return code,
            }
        }
    })
}

pub fn plan(args: PlanArgs, registry: fn() -> Registry) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let loaded = match load(&args.common, registry).await {
            Ok(l) => l,
            Err(code) => return code,
        };
        match loaded.engine.plan().await {
            Ok(plan) => match args.common.output {
                Output::Json => print_json(&plan),
                Output::Text => {
                    print!("{}", render_plan(&plan));
                    EXIT_OK
                }
            },
            Err(e) => fail(e),
        }
    })
}

/// One row of `flowgen status`.
#[derive(Debug, serde::Serialize)]
struct FlowStatus {
    flow: String,
    linked: i64,
    deferred: i64,
    dead_letters: i64,
    conflicts: i64,
}

pub fn status(args: StatusArgs, registry: fn() -> Registry) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let loaded = match load_state(&args.common, registry).await {
            Ok(l) => l,
            Err(code) => return code,
        };
        let store = &loaded.store;
        let (counts, runs) = match (store.counts().await, store.runs(1).await) {
            (Ok(c), Ok(r)) => (c, r),
            (Err(e), _) | (_, Err(e)) => return fail(e),
        };
        let topology = &loaded.topology;
        let rows: Vec<FlowStatus> = topology
            .directions
            .iter()
            .map(|d| {
                let get = |m: &std::collections::HashMap<String, i64>, k: &str| {
                    m.get(k).copied().unwrap_or(0)
                };
                FlowStatus {
                    flow: d.name.clone(),
                    linked: get(&counts.links, &topology.pairs[d.pair].key),
                    deferred: get(&counts.deferred, &d.name),
                    dead_letters: get(&counts.dead_letters, &d.name),
                    conflicts: get(&counts.conflicts, &d.name),
                }
            })
            .collect();
        let last = runs.first();
        match args.common.output {
            Output::Json => print_json(&serde_json::json!({"flows": rows, "last_run": last})),
            Output::Text => {
                println!(
                    "{:<60} {:>7} {:>8} {:>12} {:>9}",
                    "flow", "linked", "deferred", "dead letters", "conflicts"
                );
                for r in &rows {
                    println!(
                        "{:<60} {:>7} {:>8} {:>12} {:>9}",
                        r.flow, r.linked, r.deferred, r.dead_letters, r.conflicts
                    );
                }
                match last {
                    Some(run) => println!(
                        "last run: #{} {} started {}{}",
                        run.id,
                        run.status,
                        run.started_at.to_rfc3339(),
                        run.finished_at
                            .map(|t| format!(", finished {}", t.to_rfc3339()))
                            .unwrap_or_default()
                    ),
                    None => println!("last run: never"),
                }
                EXIT_OK
            }
        }
    })
}

pub fn links(args: LinksArgs, registry: fn() -> Registry) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let loaded = match load_state(&args.common, registry).await {
            Ok(l) => l,
            Err(code) => return code,
        };
        let topology = &loaded.topology;
        let pair = match &args.flow {
            None => None,
            Some(name) => match topology.direction(name) {
                Some(d) => Some(topology.pairs[topology.directions[d].pair].key.clone()),
                None => {
                    eprintln!("error: --flow {name:?}: no such flow (see `flowgen status`)");
                    return EXIT_USAGE;
                }
            },
        };
        let links = match loaded.store.all_links(pair.as_deref()).await {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        match args.common.output {
            Output::Json => print_json(&links),
            Output::Text => {
                let mut by_pair: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for l in &links {
                    by_pair.entry(&l.pair).or_default().push(format!(
                        "  {} <-> {}{}",
                        l.a_id,
                        l.b_id,
                        if l.orphaned { " (orphaned)" } else { "" }
                    ));
                }
                for (pair, lines) in by_pair {
                    println!("{}", pair.replace('|', " <-> "));
                    for line in lines {
                        println!("{line}");
                    }
                }
                println!("{} links", links.len());
                EXIT_OK
            }
        }
    })
}

pub fn dead_letters(args: DeadLettersArgs, registry: fn() -> Registry) -> u8 {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        match args.command {
            DeadLettersCommand::List { common } => {
                let loaded = match load_state(&common, registry).await {
                    Ok(l) => l,
                    Err(code) => return code,
                };
                let letters = match loaded.store.dead_letters().await {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                match common.output {
                    Output::Json => print_json(&letters),
                    Output::Text => {
                        for l in &letters {
                            println!(
                                "#{} {} record {} (attempts {}, since {})\n    error: {}\n    payload: {}",
                                l.id,
                                l.direction,
                                l.record_id,
                                l.attempts,
                                l.created_at.to_rfc3339(),
                                l.error,
                                l.payload
                            );
                        }
                        println!("{} dead letters", letters.len());
                        EXIT_OK
                    }
                }
            }
            DeadLettersCommand::Retry { common, ids } => {
                let loaded = match load(&common, registry).await {
                    Ok(l) => l,
                    Err(code) => return code,
                };
                if let Err(code) = refuse_beside_workers(&loaded).await {
                    return code;
                }
                let ids = (!ids.is_empty()).then_some(ids.as_slice());
                match loaded.engine.retry_dead_letters(ids).await {
                    Ok(report) => {
                        let code = finish_report(&loaded, &report, common.output);
                        let left = loaded.engine.store().dead_letters().await.map(|l| l.len()).unwrap_or(0);
                        if common.output == Output::Text {
                            println!("{left} dead letters left");
                        }
                        code
                    }
                    Err(e) => {
                        let _ = loaded.systems.save();
                        fail(e)
                    }
                }
            }
        }
    })
}
