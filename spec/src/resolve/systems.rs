//! Blank and variant system names.
//!
//! A blank side of a title (`Powerofficego to  Dataflow`) is named by `overrides.yaml` if
//! it says so, else by evidence: the blank side's entities and properties are compared
//! with what the *other* documents say about every system named in a title; the unique
//! best match (most entities, then most properties) wins and a note prints the evidence.
//! Variant spellings were already mapped by the reader; they only get a note here.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::ast::{self, Side};
use crate::model::{Diagnostic, Location};
use crate::overrides::Overrides;

use super::{FastMap as HashMap, normalize};

/// The resolved system names of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DocSystems {
    pub source: String,
    pub target: String,
}

/// Documents that mention a name: enough to ask "does any document other than `d`?".
#[derive(Debug, Clone, Copy)]
struct DocSet {
    first: usize,
    more: bool,
}

impl DocSet {
    fn new(doc: usize) -> Self {
        DocSet {
            first: doc,
            more: false,
        }
    }
    fn add(&mut self, doc: usize) {
        if doc != self.first {
            self.more = true;
        }
    }
    fn outside(&self, doc: usize) -> bool {
        self.first != doc || self.more
    }
}

#[derive(Debug)]
struct EntityEvidence {
    docs: DocSet,
    properties: HashMap<String, DocSet>,
}

/// What the named sides of all documents say: system → normalized entity → evidence.
type Evidence = BTreeMap<String, HashMap<String, EntityEvidence>>;

/// One side of one document: its entities and (entity, property) pairs, normalized.
#[derive(Debug, Default)]
struct SideFacts {
    entities: BTreeSet<String>,
    properties: BTreeSet<(String, String)>,
}

fn side_facts(doc: &ast::Document, side: Side) -> SideFacts {
    let mut facts = SideFacts::default();
    for s in &doc.sections {
        let entity = match side {
            Side::Source => &s.source_entity.value,
            Side::Target => &s.target_entity.value,
        };
        let e = normalize(entity);
        facts.entities.insert(e.clone());
        let mut cells: Vec<&str> = Vec::new();
        for r in &s.property_rows {
            cells.push(match side {
                Side::Source => &r.source.value,
                Side::Target => &r.target.value,
            });
        }
        for r in &s.match_rows {
            cells.push(match side {
                Side::Source => &r.source.value,
                Side::Target => &r.target.value,
            });
        }
        for c in cells {
            facts.properties.insert((e.clone(), normalize(c)));
        }
        if side == Side::Source {
            for via in &s.connected_via {
                facts.entities.insert(normalize(&via.value));
            }
        }
    }
    facts
}

fn build_evidence(documents: &[ast::Document]) -> Evidence {
    let mut evidence: Evidence = BTreeMap::new();
    for (d, doc) in documents.iter().enumerate() {
        for (side, system) in [
            (Side::Source, &doc.source_system.value),
            (Side::Target, &doc.target_system.value),
        ] {
            if system.is_empty() {
                continue;
            }
            let facts = side_facts(doc, side);
            let entities = evidence.entry(system.clone()).or_default();
            for e in facts.entities {
                entities
                    .entry(e)
                    .and_modify(|ev| ev.docs.add(d))
                    .or_insert_with(|| EntityEvidence {
                        docs: DocSet::new(d),
                        properties: HashMap::default(),
                    });
            }
            for (e, p) in facts.properties {
                if let Some(ev) = entities.get_mut(&e) {
                    ev.properties
                        .entry(p)
                        .and_modify(|s| s.add(d))
                        .or_insert(DocSet::new(d));
                }
            }
        }
    }
    evidence
}

/// How well a blank side matches one known system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    entities: usize,
    properties: usize,
}

fn score(facts: &SideFacts, known: &HashMap<String, EntityEvidence>, doc: usize) -> Score {
    let mut s = Score {
        entities: 0,
        properties: 0,
    };
    for e in &facts.entities {
        if known.get(e).is_some_and(|ev| ev.docs.outside(doc)) {
            s.entities += 1;
        }
    }
    for (e, p) in &facts.properties {
        let found = known
            .get(e)
            .and_then(|ev| ev.properties.get(p))
            .is_some_and(|ds| ds.outside(doc));
        if found {
            s.properties += 1;
        }
    }
    s
}

fn side_word(side: Side) -> &'static str {
    match side {
        Side::Source => "source",
        Side::Target => "target",
    }
}

fn override_help(file: &str, side: Side) -> String {
    format!(
        "name it in overrides.yaml next to the documents:\n\nsystems:\n  {file}: {{ {}: <System name> }}",
        side_word(side)
    )
}

/// Resolves every document's system names; notes and errors go to `diagnostics`.
pub(super) fn resolve_names(
    documents: &[ast::Document],
    overrides: Option<&Overrides>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<DocSystems> {
    if let Some(o) = overrides {
        let files: HashSet<&str> = documents.iter().map(|d| d.file.as_str()).collect();
        for (file, names) in &o.systems {
            if !files.contains(file.as_str()) {
                diagnostics.push(
                    Diagnostic::warning(format!(
                        "overrides.yaml names systems for `{file}`, which is not among the documents read"
                    ))
                    .at(&names.location)
                    .label("no such document")
                    .help("remove the entry, or correct the file name"),
                );
            }
        }
    }
    let any_blank = documents
        .iter()
        .any(|d| d.source_system.value.is_empty() || d.target_system.value.is_empty());
    let evidence = if any_blank {
        build_evidence(documents)
    } else {
        Evidence::new()
    };
    let mut resolved = Vec::with_capacity(documents.len());
    for (d, doc) in documents.iter().enumerate() {
        let names = overrides.and_then(|o| o.systems.get(&doc.file));
        let mut pick = |side: Side, title: &ast::Spanned<String>| {
            let named = names.and_then(|n| match side {
                Side::Source => n.source.as_ref(),
                Side::Target => n.target.as_ref(),
            });
            if !title.value.is_empty() {
                if let Some(n) = named.filter(|n| n.value != title.value) {
                    diagnostics.push(
                        Diagnostic::warning(format!(
                            "overrides.yaml names the {} system of {} `{}`, but the title names it `{}`; the title wins",
                            side_word(side),
                            doc.file,
                            n.value,
                            title.value
                        ))
                        .at(&n.location)
                        .related("the title", &title.location)
                        .help("overrides only name blank systems; remove this entry"),
                    );
                }
                return title.value.clone();
            }
            resolve_blank(doc, d, side, &title.location, named, &evidence, diagnostics)
        };
        let source = pick(Side::Source, &doc.source_system);
        let target = pick(Side::Target, &doc.target_system);
        note_spellings(doc, &source, &target, diagnostics);
        resolved.push(DocSystems { source, target });
    }
    resolved
}

fn resolve_blank(
    doc: &ast::Document,
    d: usize,
    side: Side,
    title: &Location,
    named: Option<&ast::Spanned<String>>,
    evidence: &Evidence,
    diagnostics: &mut Vec<Diagnostic>,
) -> String {
    let facts = side_facts(doc, side);
    let mut scores: Vec<(Score, &String)> = evidence
        .iter()
        .map(|(system, known)| (score(&facts, known, d), system))
        .collect();
    // Best first; ties keep name order, so messages are stable.
    scores.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let best = scores.first().filter(|(s, _)| s.entities > 0);
    let runner_up = scores.get(1).filter(|(s, _)| s.entities > 0);
    let what = format!("blank {} system of {}", side_word(side), doc.file);
    let evidence_text = |s: &Score, system: &str| {
        format!(
            "{}/{} entities, {}/{} properties match {system}",
            s.entities,
            facts.entities.len(),
            s.properties,
            facts.properties.len()
        )
    };
    if let Some(n) = named {
        let mut message = format!("{what} is {} (named in overrides.yaml)", n.value);
        if let Some((s, system)) = best
            && system.as_str() != n.value
            && runner_up.is_none_or(|(r, _)| r != s)
        {
            message.push_str(&format!(
                "; the evidence alone would pick {system}: {}",
                evidence_text(s, system)
            ));
        }
        diagnostics.push(
            Diagnostic::note(message)
                .at(title)
                .related("named here", &n.location),
        );
        return n.value.clone();
    }
    match (best, runner_up) {
        (Some((s, system)), r) if r.is_none_or(|(r, _)| r != s) => {
            diagnostics.push(
                Diagnostic::note(format!(
                    "{what} resolved to {system}: {}",
                    evidence_text(s, system)
                ))
                .at(title)
                .label("blank system name"),
            );
            system.to_string()
        }
        (Some((s, first)), Some(_)) => {
            let tied: Vec<&str> = scores
                .iter()
                .take_while(|(t, _)| t == s)
                .map(|(_, n)| n.as_str())
                .collect();
            diagnostics.push(
                Diagnostic::error(format!(
                    "{what} is ambiguous: {} match equally well ({})",
                    tied.join(", "),
                    evidence_text(s, first)
                ))
                .at(title)
                .label("blank system name")
                .help(override_help(&doc.file, side)),
            );
            String::new()
        }
        _ => {
            let entities: Vec<&str> = match side {
                Side::Source => doc
                    .sections
                    .iter()
                    .map(|s| s.source_entity.value.as_str())
                    .collect(),
                Side::Target => doc
                    .sections
                    .iter()
                    .map(|s| s.target_entity.value.as_str())
                    .collect(),
            };
            let mut entities = entities;
            entities.sort_unstable();
            entities.dedup();
            diagnostics.push(
                Diagnostic::error(format!(
                    "{what} cannot be resolved: no other document names a system with its entities ({})",
                    entities.join(", ")
                ))
                .at(title)
                .label("blank system name")
                .help(override_help(&doc.file, side)),
            );
            String::new()
        }
    }
}

/// One note per document and spelling: headings that spell a title system differently.
fn note_spellings(
    doc: &ast::Document,
    source: &str,
    target: &str,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut seen: Vec<(&str, &str, usize, &Location)> = Vec::new();
    for s in &doc.sections {
        for (spelling, system) in [(&s.source_spelling, source), (&s.target_spelling, target)] {
            let Some(spelling) = spelling.as_deref() else {
                continue;
            };
            match seen
                .iter_mut()
                .find(|(sp, sys, _, _)| *sp == spelling && *sys == system)
            {
                Some(entry) => entry.2 += 1,
                None => seen.push((spelling, system, 1, &s.location)),
            }
        }
    }
    for (spelling, system, count, location) in seen {
        let times = if count == 1 {
            String::new()
        } else {
            format!(" ({count} headings)")
        };
        diagnostics.push(
            Diagnostic::note(format!("heading spells {system} as {spelling}{times}"))
                .at(location)
                .label(format!("read as {system}")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::resolve::test_support::*;

    fn docs() -> Vec<ast::Document> {
        let s = |ty| Some(ty);
        use crate::model::DataType::String as S;
        vec![
            doc(
                "a-to-b.rst",
                "Alpha",
                "Beta",
                vec![
                    section(
                        "a-to-b.rst",
                        10,
                        "Customer",
                        "Person",
                        &[("email", "mail", s(S))],
                    ),
                    section("a-to-b.rst", 30, "Order", "Sale", &[("total", "sum", s(S))]),
                ],
            ),
            doc(
                "b-to-unnamed.rst",
                "Beta",
                "",
                vec![
                    section(
                        "b-to-unnamed.rst",
                        10,
                        "Person",
                        "Customer",
                        &[("mail", "email", s(S))],
                    ),
                    section(
                        "b-to-unnamed.rst",
                        30,
                        "Sale",
                        "Order",
                        &[("sum", "total", s(S)), ("x", "y", s(S))],
                    ),
                ],
            ),
        ]
    }

    #[test]
    fn blank_target_resolved_by_evidence_with_counts() {
        let mut diags = Vec::new();
        let names = resolve_names(&docs(), None, &mut diags);
        assert_eq!(names[1].target, "Alpha");
        assert_eq!(names[1].source, "Beta");
        let note = diags.iter().find(|d| d.severity == Severity::Note).unwrap();
        assert_eq!(
            note.message,
            "blank target system of b-to-unnamed.rst resolved to Alpha: 2/2 entities, 2/3 properties match Alpha"
        );
        assert_eq!(note.line, Some(2));
    }

    #[test]
    fn own_document_is_not_evidence() {
        // Only one document: its named side cannot vouch for its blank side.
        let mut d = docs();
        d.remove(0);
        let mut diags = Vec::new();
        let names = resolve_names(&d, None, &mut diags);
        assert_eq!(names[0].target, "");
        assert!(
            diags[0].message.contains("cannot be resolved"),
            "{}",
            diags[0].message
        );
        assert!(
            diags[0]
                .help
                .as_deref()
                .unwrap()
                .contains("b-to-unnamed.rst: { target:")
        );
    }
}
