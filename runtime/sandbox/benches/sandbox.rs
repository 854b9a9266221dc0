//! Sandbox speed: seeding, and requests over loopback (no limits, no faults), so that
//! benchmarks of the connectors know how much of their time is the sandbox's.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use flowgen_sandbox::{Api, SandboxConfig};
use serde_json::json;

fn config(records: usize) -> SandboxConfig {
    let mut c = SandboxConfig {
        records,
        ..SandboxConfig::default()
    };
    c.rate_limits.enforce = false;
    c
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    c.bench_function("start/1000 records per entity", |b| {
        b.iter(|| {
            rt.block_on(async {
                let sb = flowgen_sandbox::start(config(1000)).await.expect("start");
                black_box(sb.stats());
                sb.shutdown().await;
            })
        })
    });

    let sb = rt
        .block_on(flowgen_sandbox::start(config(1000)))
        .expect("start");
    let client = reqwest::Client::new();
    let key = sb.config().credentials.chargebee_api_key.clone();
    let list = format!(
        "{}/customers?limit=100&sort_by[asc]=updated_at",
        sb.base_url(Api::Chargebee)
    );
    c.bench_function("chargebee/list 100 of 1000 customers", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client
                    .get(&list)
                    .basic_auth(&key, Some(""))
                    .send()
                    .await
                    .expect("sent");
                black_box(r.bytes().await.expect("body"));
            })
        })
    });

    let token = sb.config().credentials.rest_token.clone();
    let create = format!(
        "{}/products",
        sb.rest_base_url("customwebshop").expect("system")
    );
    c.bench_function("rest/create product", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = client
                    .post(&create)
                    .bearer_auth(&token)
                    .json(&json!({"name": "Bench", "sku": "B-1", "price": 10.0}))
                    .send()
                    .await
                    .expect("sent");
                black_box(r.bytes().await.expect("body"));
            })
        })
    });
    rt.block_on(sb.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
