//! The spec of the benchmark corpus (`corpus::generate(1000, 1)`, 6.25 MB), serialized, is
//! pinned byte for byte: speed work on the reader and the resolver must not change what
//! they produce. The digests were taken from commit 9f4e800, before that work.
//!
//! When the output changes on purpose (a new field, a new finding), re-pin the digests
//! from the new output and say why in the commit.

use flowgen_spec::{Sources, Spec, build_spec, check, corpus, read, resolve};

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn corpus_spec() -> Spec {
    let docs = corpus::generate(1000, 1);
    let sources = Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    build_spec(&sources)
}

#[test]
fn the_corpus_spec_is_unchanged() {
    let spec = corpus_spec();
    let json = serde_json::to_string_pretty(&spec).expect("spec serializes to JSON");
    assert_eq!(
        (json.len(), fnv1a(json.as_bytes())),
        (21_734_771, 0xd30e_c109_879b_3406),
        "the corpus spec's JSON changed"
    );
    let yaml = serde_yaml::to_string(&spec).expect("spec serializes to YAML");
    assert_eq!(
        (yaml.len(), fnv1a(yaml.as_bytes())),
        (13_298_230, 0x906d_f0d0_a82a_624e),
        "the corpus spec's YAML changed"
    );
    // The shared file names read back as they were written.
    let back: Spec = serde_json::from_str(&json).expect("spec deserializes");
    assert!(back == spec, "the spec does not survive a JSON round trip");
}

/// `build_spec` reads documents on several threads and resolves on two (the catalog side
/// beside the flow side); the spec must be the one of doing everything in order on one
/// thread.
#[test]
fn threads_give_the_spec_of_one_thread() {
    // Large enough for both parallel parts (≥ 256 KB of documents, ≥ 1,000 sections).
    let docs = corpus::generate(400, 7);
    let sources = Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    let parallel = build_spec(&sources);
    assert!(parallel.flows.len() >= 1_000, "{}", parallel.flows.len());

    let mut diagnostics = Vec::new();
    let mut documents = Vec::new();
    for file in &sources.documents {
        let (document, found) = read::read_document(&file.name, &file.bytes);
        diagnostics.extend(found);
        documents.extend(document);
    }
    let mut sequential = resolve::resolve(documents, None, diagnostics);
    check::check(&mut sequential);
    assert_eq!(parallel.diagnostics.len(), sequential.diagnostics.len());
    assert!(
        parallel == sequential,
        "the specs differ; first differing diagnostic: {:?}",
        parallel
            .diagnostics
            .iter()
            .zip(&sequential.diagnostics)
            .find(|(a, b)| a != b)
    );
}
