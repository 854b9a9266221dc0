//! The request rate the connectors achieve against each API's documented limit: the
//! sandbox adds 20 ms latency to every request and enforces the real limits (Chargebee
//! 150/min, PowerOffice Go 10/s, WebCRM 250/min, sliding windows); the connectors run at
//! their default limits. Eight tasks per API ask for records as fast as the connector lets
//! them, for about `seconds` (default 65: longer than the one-minute windows); the three
//! APIs run at once. The sandbox's counters prove no limit was exceeded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flowgen_runtime::cli::demo::{
    SandboxEndpoints, connector_configs, sandbox_credential, systems_at,
};
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::{BuildOptions, build_with};
use flowgen_runtime::flow::RecordId;
use flowgen_sandbox::{Api, Credentials, Faults, RateLimits, SandboxConfig};
use serde_json::Value;

const TASKS: usize = 8;

pub fn run(args: &[String]) {
    let seconds: f64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(65.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(measure(seconds));
}

struct Target {
    api: Api,
    system: &'static str,
    entity: &'static str,
    sandbox_name: &'static str,
    id_field: &'static str,
}

const TARGETS: [Target; 3] = [
    Target {
        api: Api::Chargebee,
        system: "Chargebee",
        entity: "Customer",
        sandbox_name: "chargebee",
        id_field: "id",
    },
    Target {
        api: Api::PowerOffice,
        system: "Powerofficego",
        entity: "Customers",
        sandbox_name: "powerofficego",
        id_field: "Id",
    },
    Target {
        api: Api::Webcrm,
        system: "Webcrm",
        entity: "Persons",
        sandbox_name: "webcrm",
        id_field: "PersonId",
    },
];

async fn measure(seconds: f64) {
    let limits = RateLimits::default();
    let sandbox = flowgen_sandbox::start(SandboxConfig {
        records: 20,
        faults: Faults {
            latency: Duration::from_millis(20),
            ..Faults::none()
        },
        rate_limits: limits.clone(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap_or_else(|e| panic!("sandbox: {e}"));
    let registry = super::registry();
    // No `limits` in the configuration: the connectors keep to the documented defaults.
    let configs = connector_configs(systems_at(&SandboxEndpoints::of(&sandbox), &registry, None))
        .unwrap_or_else(|e| panic!("configs: {e}"));
    let credentials = Credentials::default();
    let env = move |name: &str| sandbox_credential(&credentials, name);
    println!(
        "request rate against the sandbox's enforced limits, 20 ms latency per request, {TASKS} tasks per API, ~{seconds:.0} s:"
    );
    println!(
        "  {:<14} {:>9} {:>9} {:>10} {:>10} {:>8} {:>13} {:>8}",
        "api", "limit/s", "requests", "elapsed s", "achieved/s", "of limit", "peak/window", "429s"
    );
    let mut runs = Vec::new();
    for target in &TARGETS {
        let config = configs
            .get(target.system)
            .unwrap_or_else(|| panic!("{} configured", target.system));
        let options = BuildOptions {
            env: &env,
            ..BuildOptions::default()
        };
        let connector = build_with(target.system, config, &options)
            .unwrap_or_else(|e| panic!("{}: {e}", target.system));
        let ids: Vec<RecordId> = sandbox
            .records(target.sandbox_name, target.entity)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .filter_map(|r| r.get(target.id_field).and_then(RecordId::from_json))
            .collect();
        let limit = limits.of(target.api);
        let per_second = f64::from(limit.requests) / limit.window.as_secs_f64();
        let count = (per_second * seconds).ceil() as usize;
        runs.push(tokio::spawn(drive(connector, target.entity, ids, count)));
    }
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    let stats = sandbox.stats();
    for (target, (count, elapsed)) in TARGETS.iter().zip(outcomes) {
        let limit = limits.of(target.api);
        let per_second = f64::from(limit.requests) / limit.window.as_secs_f64();
        let achieved = count as f64 / elapsed.as_secs_f64();
        let s = stats.api(target.api);
        println!(
            "  {:<14} {:>9.3} {:>9} {:>10.1} {:>10.3} {:>7.1}% {:>8}/{:<4} {:>8}",
            target.api.name(),
            per_second,
            count,
            elapsed.as_secs_f64(),
            achieved,
            100.0 * achieved / per_second,
            s.rate_limit.max_in_window,
            s.rate_limit.requests,
            s.rate_limited
        );
    }
    sandbox.shutdown().await;
}

/// `count` gets spread over the tasks; the time from the first send to the last answer.
async fn drive(
    connector: Arc<dyn Connector>,
    entity: &'static str,
    ids: Vec<RecordId>,
    count: usize,
) -> (usize, Duration) {
    let next = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(ids);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let connector = Arc::clone(&connector);
        let next = Arc::clone(&next);
        let ids = Arc::clone(&ids);
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || ids.is_empty() {
                    return done;
                }
                let record: Option<Value> = connector
                    .get(entity, &ids[i % ids.len()])
                    .await
                    .unwrap_or_else(|e| panic!("{entity}: {e}"))
                    .map(|r| r.data);
                assert!(record.is_some(), "{entity} found");
                done += 1;
            }
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await.unwrap_or_else(|e| panic!("task: {e}"));
    }
    (done, started.elapsed())
}
