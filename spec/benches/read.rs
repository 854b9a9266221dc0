//! Reading and resolving a generated corpus of 1,000 documents (about 6 MB).
//!
//! `cargo bench -p flowgen-spec --bench read`. The throughput is in bytes of documents.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowgen_spec::{Sources, build_spec, corpus, read, resolve};

fn corpus_sources(documents: usize) -> (Sources, u64) {
    let docs = corpus::generate(documents, 1);
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let sources = Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    (sources, bytes as u64)
}

fn bench(c: &mut Criterion) {
    let (sources, bytes) = corpus_sources(1_000);
    let mut group = c.benchmark_group("corpus_1000");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(20);
    // Freeing the spec is left out (`iter_with_large_drop`): a CLI exits without freeing,
    // and the macro keeps it to the end of the build.
    group.bench_function("build_spec", |b| {
        b.iter_with_large_drop(|| build_spec(black_box(&sources)))
    });
    group.bench_function("read_only", |b| {
        b.iter(|| {
            for f in &sources.documents {
                black_box(read::read_document(&f.name, &f.bytes));
            }
        })
    });
    let documents: Vec<_> = sources
        .documents
        .iter()
        .filter_map(|f| read::read_document(&f.name, &f.bytes).0)
        .collect();
    group.bench_function("resolve_and_check", |b| {
        b.iter_batched(
            || documents.clone(),
            |docs| resolve::resolve_and_check(docs, None, Vec::new()),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
