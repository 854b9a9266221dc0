//! Flow sections → [`Flow`]s: creation rules, match rules, property rows, and the merge of
//! sections that describe the same (source, target) pair.

use crate::ast::{self, Spanned};
use crate::model::{self, Create, Diagnostic, Endpoint, Flow, Location, MatchRule, Property};

use super::FastMap;

/// The sentences of the sections merged into one flow (first occurrence of each).
#[derive(Debug, Default)]
struct Sentences {
    every: Option<Location>,
    link_required: Option<Location>,
    condition: Option<Spanned<String>>,
    merge: Option<Location>,
    create_if_no_match: Option<Location>,
}

/// Builds the flows of all documents, fed one document at a time in file-name order.
/// The table cells go to the catalog separately ([`super::catalog::CatalogBuilder::feed`]).
#[derive(Debug, Default)]
pub(super) struct FlowBuilder {
    /// Keyed by a hash of the four names, so that a lookup allocates nothing; the names
    /// are compared on a hit.
    index: FastMap<u64, Vec<usize>>,
    flows: Vec<Flow>,
    /// Per flow.
    sentences: Vec<Sentences>,
}

impl FlowBuilder {
    /// A builder with room for `sections` sections.
    pub fn with_capacity(sections: usize) -> Self {
        let mut index = FastMap::default();
        index.reserve(sections);
        FlowBuilder {
            index,
            flows: Vec::with_capacity(sections),
            sentences: Vec::with_capacity(sections),
        }
    }

    /// Adds the sections of document `doc` (whose system names are resolved), moving
    /// their rows into the flows.
    pub fn add(
        &mut self,
        doc: &model::Document,
        sections: Vec<ast::Section>,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let flows = &mut self.flows;
        for mut section in sections {
            let (ss, ts) = (&doc.source_system, &doc.target_system);
            let (se, te) = (&section.source_entity.value, &section.target_entity.value);
            let key = pair_hash(ss, se, ts, te);
            let existing = self.index.get(&key).and_then(|candidates| {
                candidates.iter().copied().find(|&i| {
                    flows.get(i).is_some_and(|f| {
                        f.source.system == *ss
                            && f.source.entity == *se
                            && f.target.system == *ts
                            && f.target.entity == *te
                    })
                })
            });
            let i = match existing {
                Some(i) => {
                    if let Some(first) = flows.get_mut(i) {
                        diagnostics.push(
                            Diagnostic::warning(format!(
                                "flow {} → {} is described twice, at {} and at {}; the sections are merged into one flow",
                                first.source, first.target, first.location, section.location
                            ))
                            .at(&section.location)
                            .label("second description")
                            .related("first described here", &first.location)
                            .help("keep one section per flow"),
                        );
                        first.also_at.push(section.location.clone());
                    }
                    i
                }
                None => {
                    let i = flows.len();
                    self.index.entry(key).or_default().push(i);
                    let source = Endpoint {
                        system: ss.clone(),
                        entity: std::mem::take(&mut section.source_entity.value),
                    };
                    let target = Endpoint {
                        system: ts.clone(),
                        entity: std::mem::take(&mut section.target_entity.value),
                    };
                    flows.push(Flow {
                        source,
                        target,
                        create: Create::Never,
                        connected_via: Vec::new(),
                        condition: None,
                        merge: false,
                        match_rules: Vec::new(),
                        properties: Vec::new(),
                        location: section.location.clone(),
                        also_at: Vec::new(),
                        inverse: None,
                    });
                    self.sentences.push(Sentences::default());
                    i
                }
            };
            if let (Some(flow), Some(said)) = (flows.get_mut(i), self.sentences.get_mut(i)) {
                merge_section(flow, said, section, diagnostics);
            }
        }
    }

    /// The flows, with their creation rules decided.
    pub fn finish(mut self, diagnostics: &mut Vec<Diagnostic>) -> Vec<Flow> {
        for (flow, said) in self.flows.iter_mut().zip(self.sentences) {
            decide_create(flow, said, diagnostics);
        }
        self.flows
    }
}

fn pair_hash(a: &str, b: &str, c: &str, d: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<super::FxHasher>::default().hash_one((a, b, c, d))
}

/// Adds one section to its flow, moving its rows.
fn merge_section(
    flow: &mut Flow,
    said: &mut Sentences,
    section: ast::Section,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let (source, target) = (&flow.source, &flow.target);
    said.every = said.every.take().or(section.every);
    said.link_required = said.link_required.take().or(section.link_required);
    said.merge = said.merge.take().or(section.merge);
    said.create_if_no_match = said
        .create_if_no_match
        .take()
        .or(section.create_if_no_match);
    match (&said.condition, section.condition) {
        (None, Some(c)) => said.condition = Some(c),
        (Some(first), Some(c)) if first.value != c.value => diagnostics.push(
            Diagnostic::warning(format!(
                "flow {source} → {target} states two conditions; the first one (`{}`) is kept",
                first.value
            ))
            .at(&c.location)
            .label("second condition")
            .related("first condition", &first.location)
            .help("state one condition per flow"),
        ),
        _ => {}
    }
    for via in section.connected_via {
        if !flow.connected_via.contains(&via.value) {
            flow.connected_via.push(via.value);
        }
    }
    let match_rows = section.match_rows;
    let property_rows = section.property_rows;
    flow.match_rules.reserve(match_rows.len());
    for row in match_rows {
        let (s, t) = (row.source.value, row.target.value);
        if !flow
            .match_rules
            .iter()
            .any(|m| m.source == s && m.target == t)
        {
            flow.match_rules.push(MatchRule {
                source: s,
                target: t,
                location: row.location,
            });
        }
    }
    // Rows before `own` came from earlier sections of the same flow.
    let own = flow.properties.len();
    flow.properties.reserve(property_rows.len());
    for row in property_rows {
        let (s, t, ty) = (row.source, row.target, row.ty);
        let same = flow
            .properties
            .iter()
            .position(|p| p.source == s.value && p.target == t.value && p.ty == ty.value);
        match same {
            // Rows repeated inside one section are worth a warning; rows repeated by a
            // duplicate section are covered by the warning about the section.
            Some(at) if at >= own => {
                if let Some(first) = flow.properties.get(at) {
                    diagnostics.push(
                        Diagnostic::warning(format!(
                            "row `{}` → `{}` repeats the row at {}; it is kept once",
                            s.value, t.value, first.location
                        ))
                        .at(&row.location)
                        .label("repeated row")
                        .related("first row", &first.location)
                        .help("remove the repeated row"),
                    );
                }
            }
            Some(_) => {}
            None => flow.properties.push(Property {
                source: s.value,
                target: t.value,
                ty: ty.value,
                location: row.location,
            }),
        }
    }
}

fn decide_create(flow: &mut Flow, said: Sentences, diagnostics: &mut Vec<Diagnostic>) {
    flow.merge = said.merge.is_some();
    flow.condition = said.condition.as_ref().map(|c| c.value.clone());
    flow.create =
        if said.every.is_some() || said.condition.is_some() || said.create_if_no_match.is_some() {
            Create::Always
        } else if !flow.connected_via.is_empty() {
            Create::WhenConnected
        } else {
            Create::Never
        };
    if let (Some(every), Some(link)) = (&said.every, &said.link_required) {
        diagnostics.push(
            Diagnostic::warning(format!(
                "flow {} → {} says both that every {} is synchronized and that a link must be established first; it is read as `create: always`",
                flow.source, flow.target, flow.source
            ))
            .at(every)
            .label("creates unconditionally")
            .related("requires a link first", link)
            .help("keep one of the two sentences"),
        );
    }
    let states_rule = said.every.is_some()
        || said.link_required.is_some()
        || said.condition.is_some()
        || said.merge.is_some()
        || said.create_if_no_match.is_some()
        || !flow.connected_via.is_empty()
        || !flow.match_rules.is_empty();
    if !states_rule {
        diagnostics.push(
            Diagnostic::warning(format!(
                "flow {} → {}: no creation rule stated; the flow only links",
                flow.source, flow.target
            ))
            .at(&flow.location)
            .label("no `Every …`, `Before any synchronization …` or `A new … will be created …` sentence")
            .help(format!(
                "add `Every {} will be synchronized with a {}.` if target records may be created",
                flow.source, flow.target
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DataType, Severity};
    use crate::resolve::catalog::CatalogBuilder;
    use crate::resolve::test_support::*;

    fn run(docs: &[ast::Document]) -> (Vec<Flow>, Vec<Diagnostic>) {
        let documents: Vec<model::Document> = docs
            .iter()
            .map(|d| model::Document {
                file: d.file.clone(),
                title: d.title.value.clone(),
                generated: None,
                source_system: d.source_system.value.clone(),
                target_system: d.target_system.value.clone(),
            })
            .collect();
        let mut catalog = CatalogBuilder::default();
        let mut builder = FlowBuilder::default();
        let mut diags = Vec::new();
        for (d, (doc, resolved)) in docs.iter().zip(&documents).enumerate() {
            catalog.feed(d, resolved, &doc.sections);
            builder.add(resolved, doc.sections.clone(), &mut diags);
        }
        (builder.finish(&mut diags), diags)
    }

    #[test]
    fn creation_rules_follow_the_sentences() {
        let f = "a.rst";
        let mut every = bare(f, 10, "E1", "F1");
        every.every = Some(loc(f, 11));
        let mut link_only = bare(f, 20, "E2", "F2");
        link_only.link_required = Some(loc(f, 21));
        let mut connected = bare(f, 30, "E3", "F3");
        connected.link_required = Some(loc(f, 31));
        connected.connected_via = vec![sp("Order", f, 32), sp("Invoice", f, 32)];
        let mut when = bare(f, 40, "E4", "F4");
        when.condition = Some(sp("the customer is active", f, 41));
        let mut matched = bare(f, 50, "E5", "F5");
        matched.match_rows = vec![match_row(f, 55, "email", "mail")];
        matched.merge = Some(loc(f, 58));
        matched.create_if_no_match = Some(loc(f, 59));
        let mut match_only = bare(f, 60, "E6", "F6");
        match_only.match_rows = vec![match_row(f, 65, "email", "mail")];
        let nothing = bare(f, 70, "E7", "F7");
        let (flows, diags) = run(&[doc(
            f,
            "A",
            "B",
            vec![
                every, link_only, connected, when, matched, match_only, nothing,
            ],
        )]);
        let creates: Vec<Create> = flows.iter().map(|f| f.create).collect();
        assert_eq!(
            creates,
            [
                Create::Always,
                Create::Never,
                Create::WhenConnected,
                Create::Always,
                Create::Always,
                Create::Never,
                Create::Never
            ]
        );
        assert_eq!(flows[2].connected_via, ["Order", "Invoice"]);
        assert_eq!(
            flows[3].condition.as_deref(),
            Some("the customer is active")
        );
        assert!(flows[4].merge && !flows[0].merge);
        assert_eq!(flows[4].match_rules[0].target, "mail");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert!(
            diags[0]
                .message
                .contains("no creation rule stated; the flow only links")
        );
        assert_eq!(diags[0].line, Some(70));
    }

    #[test]
    fn conflicting_rules_warn_and_every_wins() {
        let f = "a.rst";
        let mut s = bare(f, 10, "E", "F");
        s.every = Some(loc(f, 11));
        s.link_required = Some(loc(f, 12));
        let (flows, diags) = run(&[doc(f, "A", "B", vec![s])]);
        assert_eq!(flows[0].create, Create::Always);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, Severity::Warning);
        assert_eq!(diags[0].related[0].line, 12);
    }

    #[test]
    fn duplicate_sections_merge_in_order_with_rows_once() {
        let f = "a.rst";
        let s = Some(DataType::String);
        let one = section(f, 10, "E", "F", &[("a", "b", s), ("c", "d", s)]);
        let two = section(f, 50, "E", "F", &[("c", "d", s), ("e", "f", s)]);
        let other = section(f, 90, "E", "G", &[]);
        let (flows, diags) = run(&[doc(f, "A", "B", vec![one, other, two])]);
        assert_eq!(flows.len(), 2);
        let rows: Vec<(&str, &str)> = flows[0]
            .properties
            .iter()
            .map(|p| (p.source.as_str(), p.target.as_str()))
            .collect();
        assert_eq!(rows, [("a", "b"), ("c", "d"), ("e", "f")]);
        assert_eq!(flows[0].also_at, [loc(f, 50)]);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("a.rst:10:1") && diags[0].message.contains("a.rst:50:1"));
    }

    #[test]
    fn same_pair_in_two_documents_is_one_flow() {
        let s = Some(DataType::String);
        let a = doc(
            "a.rst",
            "A",
            "B",
            vec![section("a.rst", 10, "E", "F", &[("x", "y", s)])],
        );
        let b = doc(
            "b.rst",
            "A",
            "B",
            vec![section(
                "b.rst",
                10,
                "E",
                "F",
                &[("x", "y", s), ("z", "y", s)],
            )],
        );
        let (flows, diags) = run(&[a, b]);
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].properties.len(), 2);
        assert_eq!(flows[0].also_at[0].file.as_ref(), "b.rst");
        assert_eq!(diags.len(), 1);
    }

    #[test]
    fn a_row_repeated_in_one_section_is_kept_once_with_a_warning() {
        let s = Some(DataType::String);
        let a = doc(
            "a.rst",
            "A",
            "B",
            vec![section(
                "a.rst",
                10,
                "E",
                "F",
                &[("x", "y", s), ("x", "y", s)],
            )],
        );
        let (flows, diags) = run(&[a]);
        assert_eq!(flows[0].properties.len(), 1);
        assert!(diags[0].message.contains("repeats the row"));
    }
}
