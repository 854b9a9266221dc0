//! Joins the documents into one [`Spec`]: system names, flows, the catalog, references,
//! inverses and cascades (DESIGN.md §3).
//!
//! The steps run in a fixed order because each needs the previous one's results:
//! blank and variant system names first (flows and the catalog use the resolved names),
//! then flows and the catalog together (one pass over the tables), then references (they
//! need every entity of a system), inverses (they need every flow) and cascades (they need
//! inverses). Everything is deterministic: documents are taken in file-name order and
//! flows in document order.

mod cascades;
mod catalog;
mod flows;
mod inverses;
mod references;
mod systems;

use std::sync::mpsc;

use crate::ast;
use crate::model::{self, Diagnostic, SPEC_VERSION, Spec};
use crate::overrides::Overrides;

/// Joins the documents into a spec. `diagnostics` are the reader's findings, kept first.
pub fn resolve(
    documents: Vec<ast::Document>,
    overrides: Option<&Overrides>,
    diagnostics: Vec<Diagnostic>,
) -> Spec {
    run(documents, overrides, diagnostics, false)
}

/// [`resolve`], then [`crate::check::check`]: the same spec, sooner on a machine with
/// several cores (the cascade search runs beside the checks).
pub fn resolve_and_check(
    documents: Vec<ast::Document>,
    overrides: Option<&Overrides>,
    diagnostics: Vec<Diagnostic>,
) -> Spec {
    run(documents, overrides, diagnostics, true)
}

fn run(
    mut documents: Vec<ast::Document>,
    overrides: Option<&Overrides>,
    mut diagnostics: Vec<Diagnostic>,
    check: bool,
) -> Spec {
    documents.sort_by(|a, b| a.file.cmp(&b.file));
    let names = systems::resolve_names(&documents, overrides, &mut diagnostics);
    // The documents are consumed: their strings and locations move into the spec, which
    // saves several hundred thousand allocations on a thousand documents.
    let mut sections = Vec::with_capacity(documents.len());
    let documents: Vec<model::Document> = documents
        .into_iter()
        .zip(names)
        .map(|(d, n)| {
            sections.push(d.sections);
            model::Document {
                file: d.file,
                title: d.title.value,
                generated: d.generated.map(|g| g.value),
                source_system: n.source,
                target_system: n.target,
            }
        })
        .collect();
    let parallel =
        sections.iter().map(Vec::len).sum::<usize>() >= PARALLEL_MIN_FLOWS && crate::cores() > 1;
    let (catalog, mut flows, links) =
        catalog_and_flows(sections, &documents, parallel, &mut diagnostics);
    // From here on the catalog side (types, references, checks) and the flow side
    // (cascades) only read the flows: with enough of them, the flow side runs on a second
    // thread. The findings are joined in the order of running it all in turn.
    let flow_side = || {
        let mut found = Vec::new();
        let inverse = inverses::by_flow(flows.len(), &links.pairs);
        let cascades = cascades::find(&flows, &inverse, &mut found);
        (cascades, found)
    };
    let catalog_side = || {
        let mut found = Vec::new();
        let mut systems = catalog.finish(&mut found);
        references::assign(&mut systems, overrides, &mut found);
        let checked = if check {
            crate::check::findings(&flows, &systems)
        } else {
            Vec::new()
        };
        (systems, found, checked)
    };
    let ((cascades, cascade_findings), (systems, catalog_findings, checked)) =
        beside(parallel, flow_side, catalog_side);
    inverses::apply(&mut flows, &links.pairs);
    diagnostics.extend(catalog_findings);
    diagnostics.extend(links.found);
    diagnostics.extend(cascade_findings);
    diagnostics.extend(checked);
    Spec {
        version: SPEC_VERSION,
        documents,
        flows,
        systems,
        cascades,
        diagnostics,
    }
}

/// The flows that are each other's inverse, and the findings about them.
struct Links {
    pairs: Vec<(usize, usize)>,
    found: Vec<Diagnostic>,
}

fn links(flows: &[model::Flow]) -> Links {
    let mut found = Vec::new();
    let pairs = inverses::pairs(flows, &mut found);
    Links { pairs, found }
}

/// The catalog, fed every table cell, and the flows of `sections` (`sections[d]` are
/// `documents[d]`'s) with their inverses. When `parallel`, the catalog is fed on a second
/// thread, a batch of documents ahead of this one, which builds the flows (taking the
/// rows over) and pairs the inverses meanwhile.
fn catalog_and_flows(
    sections: Vec<Vec<ast::Section>>,
    documents: &[model::Document],
    parallel: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> (catalog::CatalogBuilder, Vec<model::Flow>, Links) {
    let count = sections.iter().map(Vec::len).sum();
    let mut flows = flows::FlowBuilder::with_capacity(count);
    let one_thread = |sections: Vec<Vec<ast::Section>>,
                      mut flows: flows::FlowBuilder,
                      diagnostics: &mut Vec<Diagnostic>| {
        let mut catalog = catalog::CatalogBuilder::default();
        for (d, (doc_sections, doc)) in sections.into_iter().zip(documents).enumerate() {
            catalog.feed(d, doc, &doc_sections);
            flows.add(doc, doc_sections, diagnostics);
        }
        let flows = flows.finish(diagnostics);
        let links = links(&flows);
        (catalog, flows, links)
    };
    if !parallel {
        return one_thread(sections, flows, diagnostics);
    }
    std::thread::scope(|scope| {
        // All the sections go over in one message; they come back fed, in batches (a
        // message per document would wake this thread a thousand times).
        let (to_feeder, feeder_input) = mpsc::channel::<Vec<Vec<ast::Section>>>();
        let (to_flows, fed) = mpsc::channel::<Vec<Vec<ast::Section>>>();
        let feeder = std::thread::Builder::new().spawn_scoped(scope, move || {
            let mut catalog = catalog::CatalogBuilder::default();
            let Ok(sections) = feeder_input.recv() else {
                return catalog;
            };
            let mut batch = Vec::with_capacity(FEED_BATCH);
            for (d, (doc_sections, doc)) in sections.into_iter().zip(documents).enumerate() {
                catalog.feed(d, doc, &doc_sections);
                batch.push(doc_sections);
                if batch.len() == FEED_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(FEED_BATCH));
                    if to_flows.send(full).is_err() {
                        return catalog;
                    }
                }
            }
            // The receiver is gone only if this thread's results are no longer wanted.
            let _ = to_flows.send(batch);
            catalog
        });
        let Ok(feeder) = feeder else {
            return one_thread(sections, flows, diagnostics);
        };
        // A send fails only when the feeder has stopped: its join says why.
        let _ = to_feeder.send(sections);
        let mut documents = documents.iter();
        for batch in fed.iter() {
            for (doc_sections, doc) in batch.into_iter().zip(documents.by_ref()) {
                flows.add(doc, doc_sections, diagnostics);
            }
        }
        let flows = flows.finish(diagnostics);
        let links = links(&flows);
        match feeder.join() {
            Ok(catalog) => (catalog, flows, links),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Documents the catalog thread hands over at a time.
const FEED_BATCH: usize = 32;

/// Below this many sections resolution stays on one thread: a thread costs more to
/// start than the work it would take over.
const PARALLEL_MIN_FLOWS: usize = 1_000;

/// `(helper(), here())`: `helper` on a second thread when `parallel` (and a thread can be
/// had), `here` on this one.
fn beside<A: Send, B>(
    parallel: bool,
    helper: impl Fn() -> A + Sync,
    here: impl FnOnce() -> B,
) -> (A, B) {
    if !parallel {
        return (helper(), here());
    }
    std::thread::scope(|scope| {
        let started = std::thread::Builder::new().spawn_scoped(scope, &helper);
        let b = here();
        let a = match started {
            Ok(thread) => match thread.join() {
                Ok(a) => a,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => helper(),
        };
        (a, b)
    })
}

/// FxHash (as in rustc): several times faster than SipHash on the short names resolution
/// hashes by the hundred thousand. Hash flooding is no concern for local documents.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            if let Some(head) = word.get_mut(..rest.len()) {
                head.copy_from_slice(rest);
            }
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        // The multiply only carries low input bits upward; hashbrown indexes buckets by the
        // low bits, so fold the high bits down (as rustc-hash 2 does) or similar names
        // collide.
        let h = self.hash;
        (h ^ (h >> 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (h >> 29)
    }
}

pub(crate) type FastMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FxHasher>>;

/// A name compared case- and separator-insensitively: `Customers person`,
/// `customers_person` and `CustomersPerson` are all `customersperson`.
pub(crate) fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Hand-built documents for the resolver's unit tests (they do not need the reader).
    use crate::ast::{Document, MatchRow, PropertyRow, Section, Spanned};
    use crate::model::{DataType, Location};

    pub fn loc(file: &str, line: u32) -> Location {
        Location {
            file: file.into(),
            line,
            column: 1,
        }
    }

    pub fn sp(value: &str, file: &str, line: u32) -> Spanned<String> {
        Spanned::new(value.to_string(), loc(file, line))
    }

    pub fn doc(file: &str, source: &str, target: &str, sections: Vec<Section>) -> Document {
        Document {
            file: file.to_string(),
            title: sp(&format!("{source} to {target} Dataflow"), file, 2),
            source_system: sp(source, file, 2),
            target_system: sp(target, file, 2),
            generated: Some(sp("2024-09-09T00:00:00", file, 5)),
            sections,
        }
    }

    /// A section with `every`, and rows `(source, target, type)`.
    pub fn section(
        file: &str,
        line: u32,
        source: &str,
        target: &str,
        rows: &[(&str, &str, Option<DataType>)],
    ) -> Section {
        let mut s = bare(file, line, source, target);
        s.every = Some(loc(file, line + 2));
        s.property_table = Some(loc(file, line + 4));
        s.property_rows = rows
            .iter()
            .enumerate()
            .map(|(i, (src, tgt, ty))| {
                let l = line + 10 + 3 * i as u32;
                PropertyRow {
                    source: Spanned::new(
                        src.to_string(),
                        Location {
                            column: 7,
                            ..loc(file, l)
                        },
                    ),
                    target: Spanned::new(
                        tgt.to_string(),
                        Location {
                            column: 7,
                            ..loc(file, l + 1)
                        },
                    ),
                    ty: Spanned::new(
                        *ty,
                        Location {
                            column: 7,
                            ..loc(file, l + 2)
                        },
                    ),
                    location: Location {
                        column: 4,
                        ..loc(file, l)
                    },
                }
            })
            .collect();
        s
    }

    /// A section with no sentences and no rows.
    pub fn bare(file: &str, line: u32, source: &str, target: &str) -> Section {
        Section {
            location: loc(file, line),
            source_entity: sp(source, file, line),
            target_entity: sp(target, file, line),
            source_spelling: None,
            target_spelling: None,
            every: None,
            link_required: None,
            connected_via: Vec::new(),
            condition: None,
            merge: None,
            create_if_no_match: None,
            bidirectional: None,
            match_rows: Vec::new(),
            property_rows: Vec::new(),
            property_table: None,
        }
    }

    pub fn match_row(file: &str, line: u32, source: &str, target: &str) -> MatchRow {
        MatchRow {
            source: sp(source, file, line),
            target: sp(target, file, line + 1),
            location: loc(file, line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_ignores_case_and_separators() {
        assert_eq!(normalize("Customers person"), "customersperson");
        assert_eq!(normalize("customers_person"), "customersperson");
        assert_eq!(normalize("Contact-Person"), "contactperson");
        assert_eq!(normalize("Wix.com"), "wixcom");
    }
}
