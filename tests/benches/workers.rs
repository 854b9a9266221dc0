//! Throughput of 1, 2 and 4 `flowgen run` worker processes sharing a PostgreSQL state, each
//! with the same fixed request concurrency (one engine, requests one at a time), against the
//! sandbox with 20 ms latency per request and no rate limits: the documents' flows over a
//! seeded dataset, from the first request until the workers have nothing left to do.
//!
//! `FLOWGEN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p flowgen-tests --bench workers`
//! (`FLOWGEN_BENCH_RECORDS` records per entity, default 40; `FLOWGEN_BENCH_WORKERS`, default
//! `1,2,4`). Figures: sandbox changes (creates + updates) per second until the last change,
//! requests per second, and the worker processes' CPU time (user + system, from
//! `/proc/self/stat` after they exited).

use std::time::{Duration, Instant};

use flowgen_tests::cluster::{self, PgSchema, Process};

const BIN: &str = env!("CARGO_BIN_EXE_flowgen-e2e");
const SEED: u64 = 7;
const LATENCY: Duration = Duration::from_millis(20);
const PAGE_SIZE: usize = 25;

/// CPU seconds (user + system) of this process's waited-for children.
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which may hold spaces) end with ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // cutime and cstime are fields 16 and 17 of stat(5); `fields[0]` is field 3.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    match (ticks(16), ticks(17)) {
        // Linux reports clock ticks of 1/100 s (USER_HZ).
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

struct Figures {
    workers: usize,
    changes: u64,
    requests: u64,
    seconds: f64,
    cpu: f64,
    load: String,
}

async fn measure(url: &str, workers: usize, records: usize) -> Figures {
    let schema = PgSchema::create(url, "flowgen_cluster").await;
    let sandbox = cluster::sandbox(records, SEED, LATENCY).await;
    let registry = dataflows::registry();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = cluster::write_config(
        dir.path(),
        &sandbox,
        &registry,
        &schema.state_url(),
        PAGE_SIZE,
    );
    let config = config.to_str().expect("utf-8 path").to_string();
    let env = cluster::credentials(&sandbox);
    let store = schema.store().await;
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut processes: Vec<Process> = (0..workers)
        .map(|_| {
            Process::start(
                BIN,
                &[
                    "run",
                    "--config",
                    &config,
                    "--interval",
                    "0.5",
                    "--shards",
                    "8",
                    "--lease-ttl",
                    "10",
                ],
                &env,
            )
        })
        .collect();
    // The time of the last change (and the requests made until then), watched until the
    // workers settle.
    let requests = || -> u64 { sandbox.stats().apis.values().map(|a| a.requests).sum() };
    let mut last = (0u64, 0u64, Duration::ZERO);
    let mut next_check = Instant::now();
    let settled = loop {
        let now = cluster::sandbox_changes(&sandbox);
        if now != last.0 {
            last = (now, requests(), started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(900) {
            break false;
        }
        // Asking the state whether the workers settled costs queries: twice a second.
        if last.0 > 0 && Instant::now() >= next_check {
            next_check = Instant::now() + Duration::from_millis(500);
            if cluster::is_quiet(store.as_ref(), store.as_ref(), &[]).await {
                break true;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(settled, "{workers} workers did not settle");
    for p in &processes {
        p.signal("TERM");
    }
    for p in &mut processes {
        assert!(p.wait(Duration::from_secs(120)).success(), "{}", p.output());
    }
    let cpu = children_cpu() - cpu_before;
    Figures {
        workers,
        changes: last.0,
        requests: last.1,
        seconds: last.2.as_secs_f64(),
        cpu,
        load: load_average(),
    }
}

fn main() {
    let Some(url) = std::env::var("FLOWGEN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("FLOWGEN_TEST_POSTGRES_URL not set: the worker benchmark needs PostgreSQL");
        return;
    };
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then run nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let records: usize = std::env::var("FLOWGEN_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let counts: Vec<usize> = std::env::var("FLOWGEN_BENCH_WORKERS")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "workers: {records} records per entity, {} ms latency, no rate limits, page size {PAGE_SIZE}",
        LATENCY.as_millis()
    );
    println!(
        "{:>7} {:>8} {:>9} {:>10} {:>10} {:>8} {:>9} {:>8}  load average",
        "workers", "changes", "requests", "seconds", "changes/s", "req/s", "speed-up", "cpu s"
    );
    let mut base: Option<f64> = None;
    for workers in counts {
        let f = rt.block_on(measure(&url, workers, records));
        let rate = f.changes as f64 / f.seconds;
        let speedup = rate / *base.get_or_insert(rate);
        println!(
            "{:>7} {:>8} {:>9} {:>10.2} {:>10.1} {:>8.1} {:>8.2}x {:>8.2}  {}",
            f.workers,
            f.changes,
            f.requests,
            f.seconds,
            rate,
            f.requests as f64 / f.seconds,
            speedup,
            f.cpu,
            f.load
        );
    }
}
