//! Joins the documents into one [`Spec`]: system names, flows, the catalog, references,
//! inverses and cascades (DESIGN.md §3).
//!
//! The steps run in a fixed order because each needs the previous one's results:
//! blank and variant system names first (flows and the catalog use the resolved names),
//! then the catalog (every table cell) and the flows, then references (they need every
//! entity of a system), inverses (they need every flow) and cascades (they need
//! inverses). Everything is deterministic: documents are taken in file-name order and
//! flows in document order. With enough sections the catalog side and the flow side run
//! on two threads once the catalog is fed; their findings are joined in the order above.

mod cascades;
mod catalog;
mod flows;
mod inverses;
mod references;
mod systems;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, mpsc};

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
/// several cores (the catalog is finished and the flows checked on a second thread while
/// the flows are built and the cascades searched).
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
    let count: usize = sections.iter().map(Vec::len).sum();
    let parallel = count >= PARALLEL_MIN_SECTIONS && crate::cores() > 1;
    let mut done = resolve_sections(sections, &documents, overrides, check, parallel);
    inverses::apply(&mut done.flows, &done.links.pairs);
    // In the order of running it all in turn.
    diagnostics.extend(done.flow_findings);
    diagnostics.extend(done.catalog_findings);
    diagnostics.extend(done.links.found);
    diagnostics.extend(done.cascade_findings);
    diagnostics.extend(done.checked);
    Spec {
        version: SPEC_VERSION,
        documents,
        flows: done.flows,
        systems: done.systems,
        cascades: done.cascades,
        diagnostics,
    }
}

/// Below this many sections resolution stays on one thread: a thread costs more to
/// start than the work it would take over.
const PARALLEL_MIN_SECTIONS: usize = 1_000;

/// What resolution makes of the sections, with the findings of each step.
struct Resolved {
    flows: Vec<model::Flow>,
    flow_findings: Vec<Diagnostic>,
    systems: BTreeMap<String, model::System>,
    /// The catalog's type conflicts and the references' findings.
    catalog_findings: Vec<Diagnostic>,
    links: Links,
    cascades: Vec<model::Cascade>,
    cascade_findings: Vec<Diagnostic>,
    /// The checks' findings (none unless asked for).
    checked: Vec<Diagnostic>,
}

/// The flows that are each other's inverse, and the findings about them.
struct Links {
    pairs: Vec<(usize, usize)>,
    found: Vec<Diagnostic>,
}

fn pair_inverses(flows: &[model::Flow]) -> Links {
    let mut found = Vec::new();
    let pairs = inverses::pairs(flows, &mut found);
    Links { pairs, found }
}

fn cascades_of(flows: &[model::Flow], links: &Links) -> (Vec<model::Cascade>, Vec<Diagnostic>) {
    let mut found = Vec::new();
    let inverse = inverses::by_flow(flows.len(), &links.pairs);
    let chains = cascades::find(flows, &inverse, &mut found);
    (chains, found)
}

/// The catalog, its type conflicts, then the references.
fn systems_of(
    catalog: catalog::CatalogBuilder,
    overrides: Option<&Overrides>,
) -> (BTreeMap<String, model::System>, Vec<Diagnostic>) {
    let mut found = Vec::new();
    let mut systems = catalog.finish(&mut found);
    references::assign(&mut systems, overrides, &mut found);
    (systems, found)
}

fn checks(
    check: bool,
    flows: &[model::Flow],
    systems: &BTreeMap<String, model::System>,
) -> Vec<Diagnostic> {
    if check {
        crate::check::findings(flows, systems)
    } else {
        Vec::new()
    }
}

/// What the catalog side hands back: the catalog with its findings, and the checks'.
type CatalogSide = (
    BTreeMap<String, model::System>,
    Vec<Diagnostic>,
    Vec<Diagnostic>,
);

/// Resolves `sections` (`sections[d]` are `documents[d]`'s), on two threads when
/// `parallel` (and a second thread can be had).
///
/// The catalog is fed every table cell first. Then a second thread finishes it (types,
/// references) while this one builds the flows, and checks the flows while this one pairs
/// the inverses and searches the cascades. The two never work on the sections at once:
/// when they did (the flows built a batch of documents behind the catalog), both ran at
/// half speed.
fn resolve_sections(
    sections: Vec<Vec<ast::Section>>,
    documents: &[model::Document],
    overrides: Option<&Overrides>,
    check: bool,
    parallel: bool,
) -> Resolved {
    let mut catalog = catalog::CatalogBuilder::default();
    for (d, (doc_sections, doc)) in sections.iter().zip(documents).enumerate() {
        catalog.feed(d, doc, doc_sections);
    }
    // Taken by whichever thread finishes it.
    let catalog = Mutex::new(Some(catalog));
    let take_catalog = || {
        catalog
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    };
    std::thread::scope(|scope| {
        let (share_flows, built) = mpsc::channel::<Arc<Vec<model::Flow>>>();
        let catalog_side = move || -> CatalogSide {
            let (systems, catalog_findings) = systems_of(take_catalog(), overrides);
            let checked = match built.recv() {
                Ok(flows) => checks(check, &flows, &systems),
                Err(_) => Vec::new(),
            };
            (systems, catalog_findings, checked)
        };
        let helper = if parallel {
            std::thread::Builder::new()
                .spawn_scoped(scope, catalog_side)
                .ok()
        } else {
            None
        };
        let mut builder = flows::FlowBuilder::with_capacity(sections.iter().map(Vec::len).sum());
        let mut flow_findings = Vec::new();
        for (doc_sections, doc) in sections.into_iter().zip(documents) {
            builder.add(doc, doc_sections, &mut flow_findings);
        }
        let flows = Arc::new(builder.finish(&mut flow_findings));
        let (systems, catalog_findings, checked, links, cascades, cascade_findings);
        match helper {
            Some(helper) => {
                // A send fails only when the other thread has stopped: its join says why.
                let _ = share_flows.send(Arc::clone(&flows));
                links = pair_inverses(&flows);
                (cascades, cascade_findings) = cascades_of(&flows, &links);
                (systems, catalog_findings, checked) = match helper.join() {
                    Ok(done) => done,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
            }
            None => {
                (systems, catalog_findings) = systems_of(take_catalog(), overrides);
                links = pair_inverses(&flows);
                (cascades, cascade_findings) = cascades_of(&flows, &links);
                checked = checks(check, &flows, &systems);
            }
        }
        // The other thread, if any, has ended and dropped its share of the flows.
        let flows = Arc::try_unwrap(flows).unwrap_or_else(|shared| (*shared).clone());
        Resolved {
            flows,
            flow_findings,
            systems,
            catalog_findings,
            links,
            cascades,
            cascade_findings,
            checked,
        }
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
