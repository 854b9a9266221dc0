//! Connectors against the sandbox over loopback HTTP. One binary (harness = false), one
//! mode per argument:
//!
//! - (none): criterion micro-benchmarks: a full Chargebee scan of 1000 customers (pages of
//!   100, limits off on both sides: the HTTP layer's and the connector's own cost),
//!   Chargebee form encoding of an order with 50 lines, a PowerOffice Go JSON Patch.
//!   `cargo bench -p flowgen-runtime --bench connectors`
//! - `rate [SECONDS]`: the request rate achieved against each API's documented limit, with
//!   20 ms latency (`connectors/rate.rs`). `… --bench connectors -- rate`
//! - `sync [--records N] [--subset]`: the five documents' flows synced end to end with
//!   limits off, records/s and where the time goes (`connectors/sync.rs`); the sandbox runs
//!   in a process of its own. `… --bench connectors -- sync --records 1000`
//! - `memory [N…]`: peak memory (VmHWM) of the sync for 10,000 and 100,000 records per
//!   entity, each size in its own process. `… --bench connectors -- memory`
//! - `serve-sandbox CONFIG`: the sandbox process the two above start.

#[path = "connectors/child.rs"]
mod child;
#[path = "connectors/proc.rs"]
mod proc;
#[path = "connectors/rate.rs"]
mod rate;
#[path = "connectors/sync.rs"]
mod sync;
#[path = "connectors/timed.rs"]
mod timed;

/// The five documents' flows, generated at compile time (the same as the `dataflows`
/// crate's, which this crate cannot depend on).
mod generated {
    flowgen_macros::dataflows!("../generated/dataflows");
}

fn registry() -> flowgen_runtime::flow::Registry {
    generated::registry()
}

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use flowgen_runtime::connector::Connector;
use flowgen_runtime::connectors::config::{ChargebeeConfig, LimitsConfig};
use flowgen_runtime::connectors::{BuildOptions, ChargebeeConnector, form, poweroffice};
use flowgen_sandbox::{Api, RateLimits, SandboxConfig};
use serde_json::json;

const CUSTOMERS: usize = 1000;

fn scan(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sandbox = runtime
        .block_on(flowgen_sandbox::start(SandboxConfig {
            records: CUSTOMERS,
            rate_limits: RateLimits {
                enforce: false,
                ..RateLimits::default()
            },
            ..SandboxConfig::default()
        }))
        .expect("sandbox");
    let key = sandbox.config().credentials.chargebee_api_key.clone();
    let env = move |name: &str| (name == "CB").then(|| key.clone());
    let config = ChargebeeConfig {
        site: None,
        base_url: Some(sandbox.base_url(Api::Chargebee)),
        api_key_env: "CB".into(),
        business_entity_id: None,
        include_deleted: false,
        entities: Default::default(),
        defaults: Default::default(),
        markers: Default::default(),
        limits: LimitsConfig {
            requests: Some(1_000_000),
            burst: Some(1000),
            ..LimitsConfig::default()
        },
    };
    let chargebee = ChargebeeConnector::new(
        "Chargebee",
        &config,
        &BuildOptions {
            env: &env,
            properties: Default::default(),
            types: Default::default(),
        },
    )
    .expect("connector");
    let total = sandbox
        .records("chargebee", "Customer")
        .expect("records")
        .len();
    let mut group = c.benchmark_group("connectors");
    group.sample_size(10);
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("chargebee_full_scan", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut cursor = None;
                let mut count = 0;
                loop {
                    let page = chargebee
                        .changes("Customer", cursor.as_deref(), 100)
                        .await
                        .expect("page");
                    count += page.records.len();
                    cursor = page.cursor;
                    if !page.more {
                        break;
                    }
                }
                assert_eq!(count, total);
                count
            })
        })
    });
    group.finish();
}

fn encodings(c: &mut Criterion) {
    let lines: Vec<_> = (0..50).map(|i| json!({"item_price_id": format!("p{i}"), "unit_price": 100 + i, "quantity": 2, "amount": 200 + i})).collect();
    let order = json!({"customer_id": "cust_1", "currency_code": "NOK", "shipping_address": {"first_name": "Ada", "city": "Oslo"}, "order_line_items": lines});
    let patch = json!({"emailAddress": "a@b.no", "firstName": "Ada", "MailAddress": {"city": "Oslo", "zipCode": "0150"}});
    let mut group = c.benchmark_group("encodings");
    group.bench_function("chargebee_form_order_50_lines", |b| {
        b.iter(|| form::to_body(&form::encode(black_box(&order), form::Nulls::Skip)))
    });
    group.bench_function("poweroffice_json_patch", |b| {
        b.iter(|| poweroffice::json_patch(&poweroffice::to_api_names(black_box(&patch))))
    });
    group.finish();
}

fn main() {
    // `cargo bench` adds `--bench`; criterion reads its own arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("serve-sandbox") => child::serve(args.get(1).map_or("{}", String::as_str)),
        Some("rate") => rate::run(&args[1..]),
        Some("sync") => sync::run(&args[1..]),
        Some("memory") => sync::memory(&args[1..]),
        _ => {
            let mut criterion = Criterion::default().configure_from_args();
            scan(&mut criterion);
            encodings(&mut criterion);
            criterion.final_summary();
        }
    }
}
