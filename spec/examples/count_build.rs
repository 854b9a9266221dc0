//! Runs `build_spec` once over the 1,000-document benchmark corpus, for instruction counts:
//! `valgrind --tool=callgrind --toggle-collect='*build_spec*' --toggle-collect='*thread_start*'
//! target/release/examples/count_build` (the second pattern adds the threads `build_spec`
//! starts; without it only the calling thread's share is counted).
//! The spec is leaked, as the benchmark leaves freeing it out.

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let docs = flowgen_spec::corpus::generate(n, 1);
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let sources =
        flowgen_spec::Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    let spec = flowgen_spec::build_spec(std::hint::black_box(&sources));
    println!(
        "{n} documents, {bytes} bytes: {} flows, {} diagnostics",
        spec.flows.len(),
        spec.diagnostics.len()
    );
    std::mem::forget(spec);
}
