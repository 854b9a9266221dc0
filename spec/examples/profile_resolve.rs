//! Times each stage of `build_spec` over a generated corpus: `profile_resolve [N]`.
//! A development aid for the benchmark in `benches/read.rs`.

use std::time::Instant;

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let docs = flowgen_spec::corpus::generate(n, 1);
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let sources =
        flowgen_spec::Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    for _ in 0..3 {
        let t = Instant::now();
        let mut diagnostics = Vec::new();
        let mut documents = Vec::new();
        for f in &sources.documents {
            let (d, diags) = flowgen_spec::read::read_document(&f.name, &f.bytes);
            documents.extend(d);
            diagnostics.extend(diags);
        }
        let read = t.elapsed();
        let t = Instant::now();
        let mut spec = flowgen_spec::resolve::resolve(documents, None, diagnostics);
        let resolve = t.elapsed();
        let t = Instant::now();
        flowgen_spec::check::check(&mut spec);
        let check = t.elapsed();
        println!(
            "{n} documents, {bytes} bytes: read {read:?}, resolve {resolve:?}, check {check:?}; {} flows, {} cascades, {} diagnostics",
            spec.flows.len(),
            spec.cascades.len(),
            spec.diagnostics.len()
        );
    }
}
