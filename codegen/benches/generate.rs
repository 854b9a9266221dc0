//! Code generation for a 1,000-document corpus (target: ≤ 1 s). The spec is built once
//! outside the measurement (reading and resolving are the spec crate's benchmarks); what
//! is measured is `generate` (tokens) and `generate_file` (tokens + prettyplease).

use criterion::{Criterion, criterion_group, criterion_main};
use flowgen_codegen::{Options, generate, generate_file};
use flowgen_spec::{Severity, Sources};

fn corpus_spec(documents: usize) -> flowgen_spec::Spec {
    let docs = flowgen_spec::corpus::generate(documents, 7);
    let sources = Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    let spec = flowgen_spec::build_spec(&sources);
    let errors = spec
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    assert_eq!(errors, 0, "the corpus must generate");
    spec
}

fn bench(c: &mut Criterion) {
    let spec = corpus_spec(1000);
    eprintln!(
        "corpus: {} documents, {} flows, {} systems",
        spec.documents.len(),
        spec.flows.len(),
        spec.systems.len()
    );
    let options = Options::default();
    let mut group = c.benchmark_group("codegen_1000_documents");
    group.sample_size(10);
    group.bench_function("generate_tokens", |b| {
        b.iter(|| generate(&spec, &options).map(|t| t.is_empty()))
    });
    group.bench_function("generate_file_formatted", |b| {
        b.iter(|| generate_file(&spec, &options, None).map(|s| s.len()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
