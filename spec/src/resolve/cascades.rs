//! Cascades: a record created by one flow is the source of the next flow.
//!
//! Nodes are (system, entity); edges are flows that may create (`always`,
//! `when_connected`). A cascade is a maximal chain of at least two edges in which no step
//! goes straight back through the inverse of the step before (that is the same link, not a
//! new record). Chains that are a proper suffix of a listed chain are dropped, and of the
//! rotations of one cycle only the one starting at the smallest entity is kept. A chain
//! that comes back to an entity already in it is a cycle: records could be created
//! forever, which is a warning.
//!
//! The search is bounded (chains of at most [`MAX_EDGES`] edges, [`STEP_BUDGET`] steps,
//! [`MAX_LISTED`] chains listed) so that large document sets stay fast; a note says when a
//! bound was hit.

use std::collections::HashSet;

use super::FastMap as HashMap;

use crate::model::{Cascade, Create, Diagnostic, Endpoint, Flow};

const MAX_EDGES: usize = 8;
const STEP_BUDGET: usize = 100_000;
const MAX_LISTED: usize = 250;

struct Graph<'a> {
    nodes: Vec<&'a Endpoint>,
    /// Each flow's inverse (the flows' own `inverse` may not be set yet).
    inverse: &'a [Option<usize>],
    /// Per node: (next node, flow index), in node order.
    edges: Vec<Vec<(usize, usize)>>,
    /// Per node: (previous node, flow index).
    incoming: Vec<Vec<(usize, usize)>>,
    flows: &'a [Flow],
}

#[derive(Debug)]
struct Chain {
    nodes: Vec<usize>,
    flows: Vec<usize>,
    cycle: bool,
}

struct Search {
    /// The listed chains (at most [`MAX_LISTED`]).
    chains: Vec<Chain>,
    /// Chains found but not listed because the list was full.
    unlisted: usize,
    steps: usize,
    out_of_budget: bool,
    cut_by_length: bool,
}

/// The cascades of `flows`, whose inverses are `inverse` (by flow index).
pub(super) fn find(
    flows: &[Flow],
    inverse: &[Option<usize>],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Cascade> {
    let graph = Graph::new(flows, inverse);
    let mut search = Search {
        chains: Vec::new(),
        unlisted: 0,
        steps: 0,
        out_of_budget: false,
        cut_by_length: false,
    };
    let mut on_path = vec![false; graph.nodes.len()];
    for start in 0..graph.nodes.len() {
        if search.out_of_budget {
            break;
        }
        let mut nodes = vec![start];
        let mut path_flows = Vec::new();
        if let Some(slot) = on_path.get_mut(start) {
            *slot = true;
        }
        graph.walk(&mut nodes, &mut path_flows, &mut on_path, &mut search);
        if let Some(slot) = on_path.get_mut(start) {
            *slot = false;
        }
    }
    report(&graph, &search, diagnostics);
    search
        .chains
        .iter()
        .map(|c| Cascade {
            chain: c
                .nodes
                .iter()
                .filter_map(|&n| graph.nodes.get(n).map(|e| (*e).clone()))
                .collect(),
            cycle: c.cycle,
        })
        .collect()
}

impl<'a> Graph<'a> {
    fn new(flows: &'a [Flow], inverse: &'a [Option<usize>]) -> Self {
        // Deduplicate by hash first: sorting thousands of endpoints by name is slow.
        let unique: super::FastSet<&Endpoint> = flows
            .iter()
            .filter(|f| f.create != Create::Never)
            .flat_map(|f| [&f.source, &f.target])
            .collect();
        let mut nodes: Vec<&Endpoint> = unique.into_iter().collect();
        nodes.sort_unstable();
        let id: HashMap<&Endpoint, usize> =
            nodes.iter().enumerate().map(|(i, e)| (*e, i)).collect();
        let mut edges = vec![Vec::new(); nodes.len()];
        let mut incoming = vec![Vec::new(); nodes.len()];
        for (i, f) in flows.iter().enumerate() {
            if f.create == Create::Never {
                continue;
            }
            if let (Some(&s), Some(&t)) = (id.get(&f.source), id.get(&f.target))
                && let Some(out) = edges.get_mut(s)
            {
                out.push((t, i));
                if let Some(into) = incoming.get_mut(t) {
                    into.push((s, i));
                }
            }
        }
        for out in &mut edges {
            out.sort_unstable();
        }
        Graph {
            nodes,
            inverse,
            edges,
            incoming,
            flows,
        }
    }

    /// True when flow `next` goes straight back through the link `previous` just used.
    fn straight_back(&self, previous: usize, next: usize) -> bool {
        let inverse = self.inverse.get(previous).copied().flatten();
        // Only a self-link goes straight back through itself; its endpoints are compared
        // only then (this runs for every step of the search).
        inverse == Some(next)
            || (previous == next
                && self
                    .flows
                    .get(previous)
                    .is_some_and(|f| f.source == f.target))
    }

    fn walk(
        &self,
        nodes: &mut Vec<usize>,
        path_flows: &mut Vec<usize>,
        on_path: &mut [bool],
        search: &mut Search,
    ) {
        let Some(&here) = nodes.last() else { return };
        let mut extended = false;
        for &(next, flow) in self.edges.get(here).map_or(&[][..], Vec::as_slice) {
            if path_flows
                .last()
                .is_some_and(|&p| self.straight_back(p, flow))
            {
                continue;
            }
            if search.steps >= STEP_BUDGET {
                search.out_of_budget = true;
                return;
            }
            search.steps += 1;
            extended = true;
            if path_flows.len() >= MAX_EDGES {
                search.cut_by_length = true;
                break;
            }
            nodes.push(next);
            path_flows.push(flow);
            if on_path.get(next).copied().unwrap_or(false) {
                self.record(nodes, path_flows, true, search);
            } else {
                if let Some(slot) = on_path.get_mut(next) {
                    *slot = true;
                }
                self.walk(nodes, path_flows, on_path, search);
                if let Some(slot) = on_path.get_mut(next) {
                    *slot = false;
                }
            }
            nodes.pop();
            path_flows.pop();
            if search.out_of_budget {
                return;
            }
        }
        let cut = extended && path_flows.len() >= MAX_EDGES;
        if !extended || cut {
            self.record(nodes, path_flows, false, search);
        }
    }

    /// Lists a maximal chain unless it is a proper suffix of another maximal chain (one
    /// step before its start is possible) or a rotation of a cycle that is listed from its
    /// smallest entity.
    fn record(&self, nodes: &[usize], path_flows: &[usize], cycle: bool, search: &mut Search) {
        if path_flows.len() < 2 || self.is_suffix(nodes, path_flows) {
            return;
        }
        let pure_cycle = cycle && nodes.first() == nodes.last();
        if pure_cycle && nodes.first() != nodes.iter().min() {
            return;
        }
        if search.chains.len() < MAX_LISTED {
            search.chains.push(Chain {
                nodes: nodes.to_vec(),
                flows: path_flows.to_vec(),
                cycle,
            });
        } else {
            search.unlisted += 1;
        }
    }

    /// True when a step into the chain's first entity could come before it: the walk from
    /// that step's source finds the longer chain, which ends the same way (the chain's
    /// last entity has no further step, or closes a cycle, in both walks).
    fn is_suffix(&self, nodes: &[usize], path_flows: &[usize]) -> bool {
        if path_flows.len() >= MAX_EDGES {
            return false;
        }
        let (Some(&first), Some(&first_flow)) = (nodes.first(), path_flows.first()) else {
            return false;
        };
        let before_end = nodes
            .get(..nodes.len().saturating_sub(1))
            .unwrap_or_default();
        self.incoming.get(first).is_some_and(|into| {
            into.iter()
                .any(|&(p, f)| !self.straight_back(f, first_flow) && !before_end.contains(&p))
        })
    }
}

/// The chain's entities joined by arrows (`A x → B y → …`).
fn describe(graph: &Graph<'_>, nodes: &[usize]) -> String {
    let mut text = String::new();
    for e in nodes.iter().filter_map(|&n| graph.nodes.get(n)) {
        if !text.is_empty() {
            text.push_str(" → ");
        }
        push_endpoint(&mut text, e);
    }
    text
}

/// `<prefix><source> → <target>`, as `format!` would write it (there are a few thousand
/// of these, and the formatting machinery was a fifth of the cascade search).
fn step(prefix: &str, flow: &Flow) -> String {
    let mut text = String::with_capacity(
        prefix.len()
            + flow.source.system.len()
            + flow.source.entity.len()
            + flow.target.system.len()
            + flow.target.entity.len()
            + 7,
    );
    text.push_str(prefix);
    push_endpoint(&mut text, &flow.source);
    text.push_str(" → ");
    push_endpoint(&mut text, &flow.target);
    text
}

/// An endpoint as its `Display` writes it.
fn push_endpoint(text: &mut String, e: &Endpoint) {
    text.push_str(&e.system);
    text.push(' ');
    text.push_str(&e.entity);
}

fn report(graph: &Graph<'_>, search: &Search, diagnostics: &mut Vec<Diagnostic>) {
    let mut warned: HashSet<Vec<usize>> = HashSet::new();
    for chain in &search.chains {
        let first = chain.flows.first().and_then(|&f| graph.flows.get(f));
        let Some(first) = first else { continue };
        let text = describe(graph, &chain.nodes);
        let mut note = Diagnostic::note(format!(
            "cascade: a record created by one flow is the source of the next: {text}"
        ))
        .at(&first.location)
        .label("first flow of the chain");
        for f in chain
            .flows
            .iter()
            .skip(1)
            .filter_map(|&f| graph.flows.get(f))
        {
            note = note.related(step("then ", f), &f.location);
        }
        diagnostics.push(note);
        if chain.cycle && warned.insert(cycle_key(chain)) {
            let mut warning = Diagnostic::warning(format!(
                "records could be created forever: the cascade {text} comes back to an entity it started from"
            ))
            .at(&first.location)
            .label("the cycle starts here")
            .help("make one of the flows `when_connected` or match-only (`Before any synchronization can take place, …`)");
            for f in chain
                .flows
                .iter()
                .skip(1)
                .filter_map(|&f| graph.flows.get(f))
            {
                warning = warning.related(step("", f), &f.location);
            }
            diagnostics.push(warning);
        }
    }
    if search.unlisted > 0 {
        diagnostics.push(Diagnostic::note(format!(
            "{} further cascades are not listed (at most {MAX_LISTED} are)",
            search.unlisted
        )));
    }
    if search.out_of_budget {
        diagnostics.push(Diagnostic::note(format!(
            "the search for cascades stopped after {STEP_BUDGET} steps; some chains may be missing"
        )));
    }
    if search.cut_by_length {
        diagnostics.push(Diagnostic::note(format!(
            "cascades longer than {MAX_EDGES} flows are cut at {MAX_EDGES}"
        )));
    }
}

/// The cycle part of a chain (from the first visit of the repeated entity), rotated to
/// start at its smallest entity: the same cycle reached from different places is one key.
fn cycle_key(chain: &Chain) -> Vec<usize> {
    let Some(&end) = chain.nodes.last() else {
        return Vec::new();
    };
    let start = chain.nodes.iter().position(|&n| n == end).unwrap_or(0);
    let mut ring: Vec<usize> = chain
        .nodes
        .get(start..chain.nodes.len().saturating_sub(1))
        .unwrap_or_default()
        .to_vec();
    if let Some(min_at) = ring
        .iter()
        .enumerate()
        .min_by_key(|(_, n)| **n)
        .map(|(i, _)| i)
    {
        ring.rotate_left(min_at);
    }
    ring
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Location, Severity};

    fn flow(s: (&str, &str), t: (&str, &str), create: Create, line: u32) -> Flow {
        Flow {
            source: Endpoint {
                system: s.0.into(),
                entity: s.1.into(),
            },
            target: Endpoint {
                system: t.0.into(),
                entity: t.1.into(),
            },
            create,
            connected_via: vec![],
            condition: None,
            merge: false,
            match_rules: vec![],
            properties: vec![],
            location: Location {
                file: "x.rst".into(),
                line,
                column: 1,
            },
            also_at: vec![],
            inverse: None,
        }
    }

    fn chains(c: &[Cascade]) -> Vec<String> {
        c.iter()
            .map(|c| {
                c.chain
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join(" > ")
                    + if c.cycle { " (cycle)" } else { "" }
            })
            .collect()
    }

    fn inverses(flows: &[Flow]) -> Vec<Option<usize>> {
        flows.iter().map(|f| f.inverse).collect()
    }

    #[test]
    fn chains_skip_inverses_and_suffixes() {
        let mut flows = vec![
            flow(("P", "Employees"), ("C", "Customer"), Create::Always, 1),
            flow(("C", "Customer"), ("P", "Person"), Create::Always, 2),
            flow(("P", "Person"), ("C", "Customer"), Create::Always, 3),
            flow(("C", "Customer"), ("P", "Contact"), Create::Never, 4),
        ];
        flows[1].inverse = Some(2);
        flows[2].inverse = Some(1);
        let mut diags = Vec::new();
        let c = find(&flows, &inverses(&flows), &mut diags);
        assert_eq!(chains(&c), ["P Employees > C Customer > P Person"]);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].severity, Severity::Note);
        assert_eq!(diags[0].related[0].line, 2);
    }

    #[test]
    fn a_cycle_is_listed_once_and_warned_once() {
        let flows = vec![
            flow(("A", "X"), ("B", "Y"), Create::Always, 1),
            flow(("B", "Y"), ("C", "Z"), Create::WhenConnected, 2),
            flow(("C", "Z"), ("A", "X"), Create::Always, 3),
            flow(("D", "W"), ("A", "X"), Create::Always, 4),
        ];
        let mut diags = Vec::new();
        let c = find(&flows, &inverses(&flows), &mut diags);
        // The pure cycle is a suffix of the chain from D W, and its rotations are one cycle.
        assert_eq!(chains(&c), ["D W > A X > B Y > C Z > A X (cycle)"]);
        let warnings: Vec<_> = diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .collect();
        assert_eq!(warnings.len(), 1, "{diags:#?}");
        assert!(
            warnings[0]
                .message
                .contains("records could be created forever")
        );
        assert_eq!(warnings[0].related.len(), 3);
    }

    #[test]
    fn a_pure_cycle_is_listed_in_one_rotation() {
        let flows = vec![
            flow(("B", "Y"), ("C", "Z"), Create::Always, 2),
            flow(("A", "X"), ("B", "Y"), Create::Always, 1),
            flow(("C", "Z"), ("A", "X"), Create::Always, 3),
        ];
        let mut diags = Vec::new();
        let c = find(&flows, &inverses(&flows), &mut diags);
        assert_eq!(chains(&c), ["A X > B Y > C Z > A X (cycle)"]);
    }

    #[test]
    fn dense_graphs_stay_bounded() {
        // A complete graph of 30 nodes: far more chains than the budget allows.
        let mut flows = Vec::new();
        for a in 0..30 {
            for b in 0..30 {
                if a != b {
                    flows.push(flow(
                        ("S", &format!("E{a}")),
                        ("S", &format!("E{b}")),
                        Create::Always,
                        1,
                    ));
                }
            }
        }
        let mut diags = Vec::new();
        let c = find(&flows, &inverses(&flows), &mut diags);
        assert!(c.len() <= MAX_LISTED);
        assert!(diags.iter().any(|d| d.message.contains("stopped after")));
    }
}
