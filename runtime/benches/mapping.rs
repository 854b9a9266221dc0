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

    /// Maps one record, writing the outputs (one here) to `out`.
    fn run(&self, input: &[u8], out: &mut Vec<u8>) {
        use jaq_core::{Ctx, Vars, data, unwrap_valr};
        use std::io::Write as _;
        let input = match jaq_json::read::parse_single(input) {
            Ok(v) => v,
            Err(e) => panic!("jaq cannot read a record: {e:?}"),
        };
        let ctx = Ctx::<data::JustLut<jaq_json::Val>>::new(&self.filter.lut, Vars::new([]));
        for v in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            match v {
                Ok(v) => write!(out, "{v}").unwrap_or_else(|e| panic!("jaq output: {e}")),
                Err(e) => panic!("jaq failed: {e:?}"),
            }
        }
    }
}

/// One variant: a record's JSON bytes in, the mapped record's JSON bytes written to the
/// output buffer (cleared by the caller and reused across records, for every variant).
type Variant<'a> = (&'static str, Box<dyn Fn(&[u8], &mut Vec<u8>) + 'a>);

/// A record's text: the bytes are checked to be UTF-8 once, so that serde_json does not
/// validate string by string (every serde_json variant does this).
fn text(rec: &[u8]) -> &str {
    std::str::from_utf8(rec).unwrap_or_default()
}

fn variants<'a>(jaq: &'a Jaq, interpreter: &'a Interpreter) -> Vec<Variant<'a>> {
    let flow = generated::flows::ChargebeeCustomerToPowerofficegoCustomersPerson;
    vec![
        (
            "typed (generated Flow)",
            Box::new(move |rec: &[u8], out: &mut Vec<u8>| {
                let source: generated::chargebee::Customer =
                    serde_json::from_str(text(rec)).unwrap_or_default();
                let target = flow.forward(&source, &NoLinks).unwrap_or_default();
                serde_json::to_writer(out, &target).unwrap_or_default();
            }),
        ),
        (
            "typed via DynFlow::forward_json",
            Box::new(move |rec: &[u8], out: &mut Vec<u8>| {
                let source: Value = serde_json::from_str(text(rec)).unwrap_or_default();
                let target = flow.forward_json(&source, &NoLinks).unwrap_or_default();
                serde_json::to_writer(out, &target).unwrap_or_default();
            }),
        ),
        (
            "interpreter over serde_json::Value",
            Box::new(move |rec: &[u8], out: &mut Vec<u8>| {
                let source: Value = serde_json::from_str(text(rec)).unwrap_or_default();
                let target = interpreter
                    .forward_json(&source, &NoLinks)
                    .unwrap_or_default();
                serde_json::to_writer(out, &target).unwrap_or_default();
            }),
        ),
        (
            "jaq (jaq-core 3)",
            Box::new(move |rec: &[u8], out: &mut Vec<u8>| jaq.run(rec, out)),
        ),
        (
            "serde_json pass-through (no mapping)",
            Box::new(|rec: &[u8], out: &mut Vec<u8>| {
                let v: Value = serde_json::from_str(text(rec)).unwrap_or_default();
                serde_json::to_writer(out, &v).unwrap_or_default();
            }),
        ),
    ]
}

/// Runs every variant over all records, as the bench does.
fn pass(f: &dyn Fn(&[u8], &mut Vec<u8>), records: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    records
        .iter()
        .map(|r| {
            out.clear();
            f(black_box(r), out);
            out.len()
        })
        .sum()
}

/// Typed, DynFlow, interpreter and jaq write the same records (compared as JSON values).
fn check_same_output(variants: &[Variant<'_>], records: &[Vec<u8>]) {
    let mut out = Vec::new();
    for rec in records {
        let outputs: Vec<Value> = variants[..4]
            .iter()
            .map(|(name, f)| {
                out.clear();
                f(rec, &mut out);
                serde_json::from_slice(&out)
                    .unwrap_or_else(|e| panic!("{name} wrote no JSON record: {e}"))
            })
            .collect();
        assert!(
            outputs[0]
                .as_object()
                .is_some_and(|o| o.len() == 3 && o.values().all(Value::is_string)),
            "typed mapping gives the three properties: {}",
            outputs[0]
        );
        for (i, output) in outputs.iter().enumerate().skip(1) {
            assert_eq!(
                &outputs[0], output,
                "typed and {} mappings differ",
                variants[i].0
            );
        }
    }
}

fn main() {
    let records = records();
    let jaq = Jaq::new(JQ);
    let interpreter = Interpreter::new(Flow::info(
        &generated::flows::ChargebeeCustomerToPowerofficegoCustomersPerson,
    ));
    let variants = variants(&jaq, &interpreter);
    check_same_output(&variants, &records);

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    {
        let mut group =
            c.benchmark_group("map Chargebee Customer -> Powerofficego Customers person");
        group.throughput(Throughput::Elements(RECORDS as u64));
        let mut out = Vec::new();
        for (name, f) in &variants {
            group.bench_function(*name, |b| b.iter(|| pass(f.as_ref(), &records, &mut out)));
        }
        group.finish();
    }
    c.final_summary();

    // Side by side in this run: the best of several timed passes per variant.
    let mut best = Vec::new();
    let mut out = Vec::new();
    for (name, f) in &variants {
        let mut fastest = Duration::MAX;
        for _ in 0..15 {
            let start = Instant::now();
            black_box(pass(f.as_ref(), &records, &mut out));
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
