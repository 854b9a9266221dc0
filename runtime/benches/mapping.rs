//! Mapping speed, side by side on the same records (Chargebee customers as the API returns
//! them, ~25 fields): the typed flow (JSON bytes → struct → mapped struct → JSON bytes),
//! the same flow through `DynFlow::forward_json` (the engine's path, `Value` in and out),
//! the spec interpreter over `serde_json::Value`, jaq running the equivalent filter, and a
//! serde_json pass-through without mapping.
//!
//! `cargo bench -p flowgen-runtime --bench mapping` (criterion), then a summary of the
//! ratios measured in the same run.

/// The five documents' flows, generated at compile time (the same as the `dataflows`
/// crate's, which this crate cannot depend on).
mod generated {
    flowgen_macros::dataflows!("../generated/dataflows");
}

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use flowgen_runtime::flow::{DynFlow, Flow, NoLinks};
use flowgen_runtime::interpret::Interpreter;
use serde_json::Value;

const RECORDS: usize = 1000;
const JQ: &str = "{EmailAddress: .email, FirstName: .first_name, LastName: .last_name}";

fn records() -> Vec<Vec<u8>> {
    (0..RECORDS)
        .map(|i| {
            serde_json::to_vec(&serde_json::json!({
                "id": format!("16CHRsUBp7mW{i:05}"),
                "first_name": format!("First{i}"),
                "last_name": format!("Last name {i}"),
                "email": format!("person{i}@example.com"),
                "phone": "+47 900 00 000",
                "company": "Example AS",
                "auto_collection": "on",
                "net_term_days": 0,
                "allow_direct_debit": false,
                "created_at": 1_700_000_000 + i,
                "updated_at": 1_700_000_100 + i,
                "taxability": "taxable",
                "pii_cleared": "active",
                "channel": "web",
                "resource_version": 1_700_000_100_000u64 + i as u64,
                "deleted": false,
                "object": "customer",
                "card_status": "no_card",
                "promotional_credits": 0,
                "refundable_credits": 0,
                "excess_payments": 0,
                "unbilled_charges": 0,
                "preferred_currency_code": "NOK",
                "mrr": 0,
                "billing_address": {
                    "first_name": format!("First{i}"), "last_name": "Last", "line1": "Gate 1",
                    "city": "Oslo", "country": "NO", "zip": "0150", "validation_status": "not_validated",
                    "object": "billing_address"
                }
            }))
            .unwrap_or_default()
        })
        .collect()
}

struct Jaq {
    filter: jaq_core::Filter<jaq_core::data::JustLut<jaq_json::Val>>,
}

impl Jaq {
    fn new(code: &str) -> Jaq {
        use jaq_core::load::{Arena, File, Loader};
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = match loader.load(&arena, File { code, path: () }) {
            Ok(m) => m,
            Err(e) => panic!("jaq filter does not parse: {e:?}"),
        };
        let filter = match jaq_core::Compiler::default()
            .with_funs(funs)
            .compile(modules)
        {
            Ok(f) => f,
            Err(e) => panic!("jaq filter does not compile: {e:?}"),
        };
        Jaq { filter }
    }

    fn run(&self, input: &[u8]) -> String {
        use jaq_core::{Ctx, Vars, data, unwrap_valr};
        let input = match jaq_json::read::parse_single(input) {
            Ok(v) => v,
            Err(e) => panic!("jaq cannot read a record: {e:?}"),
        };
        let ctx = Ctx::<data::JustLut<jaq_json::Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = String::new();
        for v in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            match v {
                Ok(v) => out.push_str(&v.to_string()),
                Err(e) => panic!("jaq failed: {e:?}"),
            }
        }
        out
    }
}

type Variant<'a> = (&'static str, Box<dyn Fn(&[u8]) -> usize + 'a>);

fn variants<'a>(jaq: &'a Jaq, interpreter: &'a Interpreter) -> Vec<Variant<'a>> {
    let flow = generated::flows::ChargebeeCustomerToPowerofficegoCustomersPerson;
    vec![
        (
            "typed (generated Flow)",
            Box::new(move |rec: &[u8]| {
                let source: generated::chargebee::Customer =
                    serde_json::from_slice(rec).unwrap_or_default();
                let target = flow.forward(&source, &NoLinks).unwrap_or_default();
                serde_json::to_vec(&target).map_or(0, |v| v.len())
            }),
        ),
        (
            "typed via DynFlow::forward_json",
            Box::new(move |rec: &[u8]| {
                let source: Value = serde_json::from_slice(rec).unwrap_or_default();
                let target = flow.forward_json(&source, &NoLinks).unwrap_or_default();
                serde_json::to_vec(&target).map_or(0, |v| v.len())
            }),
        ),
        (
            "interpreter over serde_json::Value",
            Box::new(move |rec: &[u8]| {
                let source: Value = serde_json::from_slice(rec).unwrap_or_default();
                let target = interpreter
                    .forward_json(&source, &NoLinks)
                    .unwrap_or_default();
                serde_json::to_vec(&target).map_or(0, |v| v.len())
            }),
        ),
        (
            "jaq (jaq-core 3)",
            Box::new(move |rec: &[u8]| jaq.run(rec).len()),
        ),
        (
            "serde_json pass-through (no mapping)",
            Box::new(|rec: &[u8]| {
                let v: Value = serde_json::from_slice(rec).unwrap_or_default();
                serde_json::to_vec(&v).map_or(0, |v| v.len())
            }),
        ),
    ]
}

fn check_same_output(jaq: &Jaq, interpreter: &Interpreter, records: &[Vec<u8>]) {
    let flow = generated::flows::ChargebeeCustomerToPowerofficegoCustomersPerson;
    for rec in records {
        let source: generated::chargebee::Customer =
            serde_json::from_slice(rec).unwrap_or_default();
        let typed = serde_json::to_value(flow.forward(&source, &NoLinks).unwrap_or_default())
            .unwrap_or_default();
        let value: Value = serde_json::from_slice(rec).unwrap_or_default();
        let interpreted = interpreter
            .forward_json(&value, &NoLinks)
            .unwrap_or_default();
        let jaq_out: Value = serde_json::from_str(&jaq.run(rec)).unwrap_or_default();
        assert_eq!(typed, interpreted, "typed and interpreted mappings differ");
        assert_eq!(typed, jaq_out, "typed and jaq mappings differ");
    }
}

fn main() {
    let records = records();
    let jaq = Jaq::new(JQ);
    let interpreter = Interpreter::new(Flow::info(
        &generated::flows::ChargebeeCustomerToPowerofficegoCustomersPerson,
    ));
    check_same_output(&jaq, &interpreter, &records);
    let variants = variants(&jaq, &interpreter);

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    {
        let mut group =
            c.benchmark_group("map Chargebee Customer -> Powerofficego Customers person");
        group.throughput(Throughput::Elements(RECORDS as u64));
        for (name, f) in &variants {
            group.bench_function(*name, |b| {
                b.iter(|| records.iter().map(|r| f(black_box(r))).sum::<usize>())
            });
        }
        group.finish();
    }
    c.final_summary();

    // Side by side in this run: the best of several timed passes per variant.
    let mut best = Vec::new();
    for (name, f) in &variants {
        let mut fastest = Duration::MAX;
        for _ in 0..15 {
            let start = Instant::now();
            black_box(records.iter().map(|r| f(black_box(r))).sum::<usize>());
            fastest = fastest.min(start.elapsed());
        }
        best.push((*name, fastest));
    }
    let typed = best[0].1.as_secs_f64();
    println!("\nsummary ({RECORDS} records per pass, best of 15):");
    for (name, t) in &best {
        println!(
            "  {name:<40} {:>9.1} ns/record  {:>12.0} records/s  typed is {:.2}x faster",
            t.as_secs_f64() * 1e9 / RECORDS as f64,
            RECORDS as f64 / t.as_secs_f64(),
            t.as_secs_f64() / typed
        );
    }
}
