//! The engine over many records: memory connectors, a SQLite state file, the five
//! documents' generated flows (those between Chargebee and Powerofficego run: the other
//! systems have no connector). Each size runs in its own process so that peak memory
//! (VmHWM from /proc/self/status) is that size's alone.
//!
//! Two bench binaries run this, one per allocator: `engine` with the allocator the `flowgen`
//! binary ships with (`flowgen_runtime::Allocator`, mimalloc) and `engine_system_alloc` with
//! glibc's malloc. `cargo bench -p flowgen-runtime --bench engine` runs 10,000 and 100,000
//! records, each twice: `full` (created records are kept and read back as changes, as in
//! production) and `sink` (the target system keeps only ids, so the figure is the engine's
//! own memory plus the source records). One size: `… --bench engine -- 100000 full`.

/// The five documents' flows, generated at compile time (the same as the `dataflows`
/// crate's, which this crate cannot depend on).
mod generated {
    flowgen_macros::dataflows!("../generated/dataflows");
}

/// CPU time and peak memory from /proc (shared with the connectors bench).
#[path = "../connectors/proc.rs"]
mod proc;

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use flowgen_runtime::connector::Connector;
use flowgen_runtime::engine::{Engine, EngineOptions};
use flowgen_runtime::memory::{IdKind, MemoryConnector};
use flowgen_runtime::state::{SqliteStore, StateStore};
use proc::{cpu_seconds, vm_kib};
use serde_json::json;

fn one(n: usize, sink: bool, allocator: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let cb = Arc::new(MemoryConnector::new("Chargebee", IdKind::Text { prefix: "cb_".into() }));
        let mut po = MemoryConnector::new("Powerofficego", IdKind::Int);
        if sink {
            po = po.discarding_writes();
        }
        let po = Arc::new(po);
        for i in 0..n {
            cb.insert(
                "Customer",
                json!({"email": format!("p{i}@example.com"), "first_name": format!("First{i}"),
                       "last_name": "Last", "phone": "+47 900 00 000", "company": "Example AS",
                       "preferred_currency_code": "NOK", "created_at": 1_700_000_000 + i}),
            );
        }
        let store = SqliteStore::open(&dir.path().join("flowgen.db"))
            .await
            .unwrap_or_else(|e| panic!("store: {e}"));
        let connectors: HashMap<String, Arc<dyn Connector>> = HashMap::from([
            ("Chargebee".to_string(), cb.clone() as Arc<dyn Connector>),
            ("Powerofficego".to_string(), po.clone() as Arc<dyn Connector>),
        ]);
        let engine = Engine::new(
            generated::registry(),
            connectors,
            Arc::new(store) as Arc<dyn StateStore>,
            EngineOptions::default(),
        );
        let before = vm_kib("VmHWM:");
        let cpu_before = cpu_seconds();
        let start = Instant::now();
        let report = engine.sync_once().await.unwrap_or_else(|e| panic!("sync: {e}"));
        let elapsed = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let after = vm_kib("VmHWM:");
        let created = report.flow("Chargebee Customer -> Powerofficego Customers person").created;
        assert_eq!(created as usize, n, "every customer gets a Customers person");
        let second = Instant::now();
        let again = engine.sync_once().await.unwrap_or_else(|e| panic!("sync: {e}"));
        assert_eq!(again.total().writes, 0);
        println!(
            "{allocator:<8} {n:>7} records {:<4}: {:>6.2} s wall, {:>8.0} records/s wall, {:>6.2} s CPU, {:>8.0} records/s CPU (records read incl. echoes: {}), quiet re-run {:.2} s; peak RSS before sync {} MiB, after {} MiB (+{} MiB)",
            if sink { "sink" } else { "full" },
            elapsed,
            n as f64 / elapsed,
            cpu,
            n as f64 / cpu,
            report.total().read,
            second.elapsed().as_secs_f64(),
            before / 1024,
            after / 1024,
            (after - before) / 1024,
        );
    });
}

pub fn main(allocator: &str) {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Some(n) = args.first().and_then(|a| a.parse::<usize>().ok()) {
        one(n, args.get(1).is_some_and(|m| m == "sink"), allocator);
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    for n in [10_000usize, 100_000] {
        for mode in ["full", "sink"] {
            let status = Command::new(&exe)
                .args([n.to_string(), mode.to_string()])
                .status()
                .unwrap_or_else(|e| panic!("run {n} {mode}: {e}"));
            assert!(status.success(), "{n} {mode} failed");
        }
    }
}
