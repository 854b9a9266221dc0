//! The resolver over generated corpora: never panics, one flow per (source, target) pair,
//! inverses point back, and the corpus resolves with no errors.

use std::collections::HashSet;

use flowgen_spec::{Severity, Sources, build_spec, corpus};
use proptest::prelude::*;

fn sources(docs: &[(String, String)]) -> Sources {
    Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn resolves_any_generated_corpus(documents in 1usize..60, seed in any::<u64>()) {
        let docs = corpus::generate(documents, seed);
        let spec = build_spec(&sources(&docs));
        let errors: Vec<String> = spec.diagnostics.iter()
            .filter(|d| d.severity == Severity::Error).map(|d| d.to_string()).collect();
        prop_assert!(errors.is_empty(), "{:#?}", errors);
        prop_assert_eq!(spec.documents.len(), documents);

        // One flow per distinct (source, target), however many sections describe it.
        let pairs: HashSet<_> = spec.flows.iter().map(|f| (&f.source, &f.target)).collect();
        prop_assert_eq!(pairs.len(), spec.flows.len());

        for (i, f) in spec.flows.iter().enumerate() {
            if let Some(j) = f.inverse {
                let g = &spec.flows[j];
                prop_assert_eq!(g.inverse, Some(i));
                prop_assert_eq!((&g.source, &g.target), (&f.target, &f.source));
            } else {
                prop_assert!(!pairs.contains(&(&f.target, &f.source)) || f.source == f.target);
            }
            // Every endpoint is in the catalog.
            prop_assert!(spec.entity(&f.source.system, &f.source.entity).is_some());
            prop_assert!(spec.entity(&f.target.system, &f.target.entity).is_some());
        }
        for c in &spec.cascades {
            prop_assert!(c.chain.len() >= 3 && c.chain.len() <= 9);
        }
    }

    /// Documents cut or shuffled at random still resolve without a panic (errors allowed).
    #[test]
    fn damaged_corpora_never_panic(documents in 1usize..12, seed in any::<u64>(), cut in 0usize..8_000, drop_line in 0usize..200) {
        let mut docs = corpus::generate(documents, seed);
        for (i, (_, text)) in docs.iter_mut().enumerate() {
            let mut lines: Vec<&str> = text.lines().collect();
            if drop_line < lines.len() && i % 2 == 0 {
                lines.remove(drop_line);
            }
            let mut joined = lines.join("\n");
            if i % 3 == 0 && cut < joined.len() && joined.is_char_boundary(cut) {
                joined.truncate(cut);
            }
            *text = joined;
        }
        let spec = build_spec(&sources(&docs));
        for f in &spec.flows {
            if let Some(j) = f.inverse {
                prop_assert!(j < spec.flows.len());
            }
        }
    }
}

#[test]
fn the_corpus_has_every_feature() {
    let docs = corpus::generate(300, 1);
    let spec = build_spec(&sources(&docs));
    assert!(!spec.has_errors());
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    assert!(bytes > 300 * 4_000, "{bytes}");
    assert!(
        spec.flows
            .iter()
            .any(|f| f.create == flowgen_spec::Create::WhenConnected)
    );
    assert!(spec.flows.iter().any(|f| f.condition.is_some()));
    assert!(
        spec.flows
            .iter()
            .any(|f| f.merge && !f.match_rules.is_empty())
    );
    assert!(
        spec.flows
            .iter()
            .any(|f| f.create == flowgen_spec::Create::Never)
    );
    assert!(spec.flows.iter().filter(|f| f.inverse.is_some()).count() > spec.flows.len() / 4);
    let references = spec
        .systems
        .values()
        .flat_map(|s| s.entities.values())
        .flat_map(|e| e.properties.iter())
        .filter(|(_, p)| p.reference.is_some())
        .count();
    assert!(references > 20, "{references}");
    assert!(
        spec.systems
            .values()
            .flat_map(|s| s.entities.values())
            .flat_map(|e| e.properties.keys())
            .any(|k| k.contains('.'))
    );
    assert!(
        spec.diagnostics
            .iter()
            .any(|d| d.message.starts_with("heading spells"))
    );
    assert!(
        spec.diagnostics
            .iter()
            .any(|d| d.message.contains("first non-empty value"))
    );
    assert!(!spec.cascades.is_empty());
}
