//! End to end: the five documents' generated flows synced against the sandbox (in its own
//! process) over HTTP, rate limits off, with a SQLite state file. Reports records/s, where
//! the wall time goes (each connector call timed, per system and operation; the rest is
//! the engine and the state store), CPU time per thread kind and of the sandbox, and peak
//! memory (VmHWM).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgen_runtime::cli::demo::{
    connector_configs, document_properties, document_types, sandbox_credential, systems_at,
};
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::{BuildOptions, build_with};
use flowgen_runtime::engine::{Engine, EngineOptions};
use flowgen_runtime::state::{SqliteStore, StateStore};
use flowgen_sandbox::Credentials;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::child::{ChildConfig, SandboxProcess};
use super::proc;
use super::timed::{Timed, Timings};

/// What one sync measured (printed as the last line, `RESULT {json}`).
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncResult {
    pub records_per_entity: usize,
    pub subset: bool,
    pub records_read: u64,
    pub writes: u64,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub sandbox_cpu_s: f64,
    pub second_run_s: f64,
    pub second_run_writes: u64,
    pub vm_hwm_kib: u64,
    pub dead_letters: u64,
    /// The SQLite state file after the runs (its page cache is capped at 32 MiB).
    pub state_kib: u64,
}

/// The tables the `--subset` run seeds: a flow each way between two APIs (Chargebee
/// customers become PowerOffice Go persons; PowerOffice Go products become Chargebee
/// items); every other table is empty.
fn subset(records: usize) -> BTreeMap<String, usize> {
    [
        ("chargebee/Customer".to_string(), records),
        ("powerofficego/Product".to_string(), records),
    ]
    .into_iter()
    .collect()
}

pub fn run(args: &[String]) {
    let mut records = 1000;
    let mut subset_only = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--records" => {
                records = it
                    .next()
                    .and_then(|n| n.replace('_', "").parse().ok())
                    .unwrap_or_else(|| panic!("--records N"));
            }
            "--subset" => subset_only = true,
            _ => {}
        }
    }
    let child = SandboxProcess::spawn(&ChildConfig {
        records: if subset_only { 0 } else { records },
        overrides: if subset_only {
            subset(records)
        } else {
            BTreeMap::new()
        },
        latency_ms: 0,
        enforce_limits: false,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let result = runtime.block_on(sync(&child, records, subset_only));
    println!(
        "RESULT {}",
        serde_json::to_string(&result).unwrap_or_default()
    );
}

async fn sync(child: &SandboxProcess, records: usize, subset_only: bool) -> SyncResult {
    let registry = super::registry();
    // Limits off: the connectors may send as fast as the sandbox answers.
    let limits = json!({"requests": 1_000_000, "period_secs": 1.0, "margin_ms": 0});
    let configs = connector_configs(systems_at(&child.endpoints, &registry, Some(&limits)))
        .unwrap_or_else(|e| panic!("configs: {e}"));
    let credentials = Credentials::default();
    let env = move |name: &str| sandbox_credential(&credentials, name);
    let timings = Arc::new(Timings::default());
    let mut connectors: HashMap<String, Arc<dyn Connector>> = HashMap::new();
    for (name, config) in &configs {
        let options = BuildOptions {
            env: &env,
            properties: document_properties(&registry, name),
            types: document_types(&registry, name),
        };
        let inner = build_with(name, config, &options).unwrap_or_else(|e| panic!("{e}"));
        connectors.insert(
            name.clone(),
            Arc::new(Timed {
                inner,
                timings: Arc::clone(&timings),
            }),
        );
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("flowgen.db"))
            .await
            .unwrap_or_else(|e| panic!("store: {e}")),
    );
    let engine = Engine::new(
        registry,
        connectors,
        Arc::clone(&store) as Arc<dyn StateStore>,
        EngineOptions::default(),
    );
    let sandbox_cpu0 = child.cpu_seconds();
    let cpu0 = proc::cpu_seconds();
    let threads0 = proc::cpu_by_thread();
    let started = Instant::now();
    let report = engine
        .sync_once()
        .await
        .unwrap_or_else(|e| panic!("sync: {e}"));
    let wall = started.elapsed();
    let cpu = proc::cpu_seconds() - cpu0;
    let sandbox_cpu = child.cpu_seconds() - sandbox_cpu0;
    let threads = proc::cpu_by_thread();
    let calls = timings.snapshot();
    let read = timings.records_read();
    let total = report.total();

    let served = child.stats().await;

    let second_started = Instant::now();
    let second = engine
        .sync_once()
        .await
        .unwrap_or_else(|e| panic!("second sync: {e}"));
    let second_wall = second_started.elapsed();
    let dead = store
        .dead_letters()
        .await
        .map(|d| d.len() as u64)
        .unwrap_or(0);
    let state_kib = std::fs::read_dir(dir.path())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
                / 1024
        })
        .unwrap_or(0);

    println!(
        "sync, {} records per {}, limits off, no latency: run 1 {:.2} s wall, {:.2} s CPU (sync process), {:.2} s CPU (sandbox process)",
        records,
        if subset_only {
            "entity of Chargebee Customer and PowerOffice Go Product"
        } else {
            "entity"
        },
        wall.as_secs_f64(),
        cpu,
        sandbox_cpu
    );
    println!(
        "  {read} records read, {} writes ({} created, {} updated), {} dead letters: {:.0} records/s, {:.0} writes/s (wall)",
        total.writes,
        total.created,
        total.updated,
        dead,
        read as f64 / wall.as_secs_f64(),
        total.writes as f64 / wall.as_secs_f64()
    );
    println!(
        "  where the wall time goes (each connector call timed; creates include the marker lookup):"
    );
    let mut by_system: BTreeMap<&str, Duration> = BTreeMap::new();
    for ((system, operation), (count, took)) in &calls {
        *by_system.entry(system.as_str()).or_default() += *took;
        println!(
            "    {:<14} {:<8} {:>8} calls {:>8.2} s {:>5.1} %  {:>7.3} ms/call",
            system,
            operation,
            count,
            took.as_secs_f64(),
            100.0 * took.as_secs_f64() / wall.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / (*count).max(1) as f64
        );
    }
    let in_calls: Duration = by_system.values().sum();
    for (system, took) in &by_system {
        println!(
            "    {:<23} {:>15.2} s {:>5.1} %",
            format!("{system} (all)"),
            took.as_secs_f64(),
            100.0 * took.as_secs_f64() / wall.as_secs_f64()
        );
    }
    let rest = wall.saturating_sub(in_calls);
    println!(
        "    {:<23} {:>15.2} s {:>5.1} %",
        "engine + state store",
        rest.as_secs_f64(),
        100.0 * rest.as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "  requests the sandbox served: {}",
        flowgen_sandbox::Api::ALL
            .iter()
            .map(|api| format!("{} {}", api.name(), served.api(*api).requests))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  CPU of the sync process by thread (live threads):");
    for (name, seconds) in &threads {
        let delta = seconds - threads0.get(name).copied().unwrap_or(0.0);
        if delta >= 0.005 {
            println!("    {name:<22} {delta:>8.2} s");
        }
    }
    println!(
        "  run 2 (nothing changed): {:.2} s, {} writes; VmHWM {} KiB; state files {} KiB",
        second_wall.as_secs_f64(),
        second.total().writes,
        proc::vm_kib("VmHWM"),
        state_kib
    );
    SyncResult {
        records_per_entity: records,
        subset: subset_only,
        records_read: read,
        writes: total.writes,
        wall_s: wall.as_secs_f64(),
        cpu_s: cpu,
        sandbox_cpu_s: sandbox_cpu,
        second_run_s: second_wall.as_secs_f64(),
        second_run_writes: second.total().writes,
        vm_hwm_kib: proc::vm_kib("VmHWM"),
        dead_letters: dead,
        state_kib,
    }
}

/// `memory`: the subset synced at 10,000 and 100,000 records per entity, each in a process
/// of its own so that each peak is that size's alone.
pub fn memory(args: &[String]) {
    let sizes: Vec<usize> = {
        let given: Vec<usize> = args
            .iter()
            .filter_map(|a| a.replace('_', "").parse().ok())
            .collect();
        if given.is_empty() {
            vec![10_000, 100_000]
        } else {
            given
        }
    };
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    let mut results = Vec::new();
    for n in sizes {
        let output = std::process::Command::new(&exe)
            .args(["sync", "--subset", "--records", &n.to_string()])
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("sync process: {e}"));
        let text = String::from_utf8_lossy(&output.stdout);
        print!("{text}");
        let result: SyncResult = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_else(|| panic!("no result from the {n} run"));
        results.push(result);
    }
    println!("\npeak memory of the sync process (VmHWM), sandbox in another process:");
    println!(
        "  {:>10} {:>10} {:>8} {:>10} {:>10} {:>8} {:>10} {:>9}",
        "records", "read", "writes", "wall s", "rec/s", "CPU s", "state MiB", "VmHWM MiB"
    );
    for r in &results {
        println!(
            "  {:>10} {:>10} {:>8} {:>10.1} {:>10.0} {:>8.1} {:>10.1} {:>9.1}",
            r.records_per_entity,
            r.records_read,
            r.writes,
            r.wall_s,
            r.records_read as f64 / r.wall_s,
            r.cpu_s,
            r.state_kib as f64 / 1024.0,
            r.vm_hwm_kib as f64 / 1024.0
        );
    }
}
