//! Inverses: a flow X→Y and a flow Y→X describe one bidirectional link.
//!
//! Both flows get `inverse` set to each other. Their tables should be mirror images (the
//! set of (source, target) pairs of one is the other's reversed); when they are not, a
//! warning shows both places, and each direction keeps its own table. A self-link
//! (`Tripletex Customer → Tripletex Customer`) has no documented inverse.

use std::collections::BTreeSet;

use super::FastMap;

use crate::model::{Diagnostic, Endpoint, Flow};

/// How many differing rows a warning spells out before it says "and N more".
const SHOWN_DIFFERENCES: usize = 4;

/// Finds the flows that are each other's inverse, as pairs `(i, j)` with `i < j`, and
/// reports pairs whose tables do not mirror each other. The flows are only read (so this
/// can run beside other work); [`apply`] sets `inverse`.
pub(super) fn pairs(flows: &[Flow], diagnostics: &mut Vec<Diagnostic>) -> Vec<(usize, usize)> {
    let index: FastMap<(&Endpoint, &Endpoint), usize> = flows
        .iter()
        .enumerate()
        .map(|(i, f)| ((&f.source, &f.target), i))
        .collect();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for (i, f) in flows.iter().enumerate() {
        if f.source == f.target {
            continue;
        }
        if let Some(&j) = index.get(&(&f.target, &f.source))
            && i < j
        {
            pairs.push((i, j));
        }
    }
    for &(i, j) in &pairs {
        if let (Some(a), Some(b)) = (flows.get(i), flows.get(j))
            && let Some(d) = disagreement(a, b)
        {
            diagnostics.push(d);
        }
    }
    pairs
}

/// Each flow's inverse by the `pairs` of [`pairs`], for `count` flows.
pub(super) fn by_flow(count: usize, pairs: &[(usize, usize)]) -> Vec<Option<usize>> {
    let mut inverse = vec![None; count];
    for &(i, j) in pairs {
        if let Some(slot) = inverse.get_mut(i) {
            *slot = Some(j);
        }
        if let Some(slot) = inverse.get_mut(j) {
            *slot = Some(i);
        }
    }
    inverse
}

/// Points both flows of each pair at each other.
pub(super) fn apply(flows: &mut [Flow], pairs: &[(usize, usize)]) {
    for &(i, j) in pairs {
        if let Some(f) = flows.get_mut(i) {
            f.inverse = Some(j);
        }
        if let Some(f) = flows.get_mut(j) {
            f.inverse = Some(i);
        }
    }
}

/// [`pairs`], then [`apply`].
#[cfg(test)]
fn link(flows: &mut [Flow], diagnostics: &mut Vec<Diagnostic>) {
    let found = pairs(flows, diagnostics);
    apply(flows, &found);
}

fn disagreement(a: &Flow, b: &Flow) -> Option<Diagnostic> {
    let mut forward: Vec<(&str, &str)> = a
        .properties
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    // b's rows read in a's direction.
    let mut backward: Vec<(&str, &str)> = b
        .properties
        .iter()
        .map(|p| (p.target.as_str(), p.source.as_str()))
        .collect();
    forward.sort_unstable();
    forward.dedup();
    backward.sort_unstable();
    backward.dedup();
    if forward == backward {
        return None;
    }
    let forward: BTreeSet<(&str, &str)> = forward.into_iter().collect();
    let backward: BTreeSet<(&str, &str)> = backward.into_iter().collect();
    let only_forward: Vec<String> = forward
        .difference(&backward)
        .map(|(s, t)| format!("`{s}` → `{t}`"))
        .collect();
    let only_backward: Vec<String> = backward
        .difference(&forward)
        .map(|(s, t)| format!("`{t}` → `{s}`"))
        .collect();
    let mut parts = Vec::new();
    if !only_forward.is_empty() {
        parts.push(format!(
            "only {} → {} maps {}",
            a.source,
            a.target,
            list(&only_forward)
        ));
    }
    if !only_backward.is_empty() {
        parts.push(format!(
            "only {} → {} maps {}",
            b.source,
            b.target,
            list(&only_backward)
        ));
    }
    Some(
        Diagnostic::warning(format!(
            "flows {} → {} and {} → {} are one link but their tables are not inverses: {}; each direction uses its own table",
            a.source,
            a.target,
            b.source,
            b.target,
            parts.join("; ")
        ))
        .at(&a.location)
        .label("this direction")
        .related("the other direction", &b.location)
        .help("map the same properties in both documents, mirrored"),
    )
}

fn list(items: &[String]) -> String {
    let shown: Vec<&str> = items
        .iter()
        .take(SHOWN_DIFFERENCES)
        .map(String::as_str)
        .collect();
    let rest = items.len().saturating_sub(SHOWN_DIFFERENCES);
    if rest == 0 {
        shown.join(", ")
    } else {
        format!("{} and {rest} more", shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Create, Location, Property};

    fn flow(s: (&str, &str), t: (&str, &str), rows: &[(&str, &str)], line: u32) -> Flow {
        let location = Location {
            file: "x.rst".into(),
            line,
            column: 1,
        };
        Flow {
            source: Endpoint {
                system: s.0.into(),
                entity: s.1.into(),
            },
            target: Endpoint {
                system: t.0.into(),
                entity: t.1.into(),
            },
            create: Create::Always,
            connected_via: vec![],
            condition: None,
            merge: false,
            match_rules: vec![],
            properties: rows
                .iter()
                .map(|(a, b)| Property {
                    source: a.to_string(),
                    target: b.to_string(),
                    ty: None,
                    location: location.clone(),
                })
                .collect(),
            location,
            also_at: vec![],
            inverse: None,
        }
    }

    #[test]
    fn mirrored_flows_pair_up_silently() {
        let mut flows = vec![
            flow(("A", "E"), ("B", "F"), &[("x", "y"), ("z", "y")], 10),
            flow(("A", "E"), ("B", "G"), &[], 20),
            flow(("B", "F"), ("A", "E"), &[("y", "z"), ("y", "x")], 30),
            flow(("A", "E"), ("A", "E"), &[], 40),
        ];
        let mut diags = Vec::new();
        link(&mut flows, &mut diags);
        assert_eq!(flows[0].inverse, Some(2));
        assert_eq!(flows[2].inverse, Some(0));
        assert_eq!(flows[1].inverse, None);
        assert_eq!(flows[3].inverse, None);
        assert!(diags.is_empty(), "{diags:?}");
    }

    #[test]
    fn a_disagreement_warns_with_both_places() {
        let mut flows = vec![
            flow(("Chargebee", "Item"), ("Powerofficego", "Product"), &[], 10),
            flow(
                ("Powerofficego", "Product"),
                ("Chargebee", "Item"),
                &[("name", "name")],
                30,
            ),
        ];
        let mut diags = Vec::new();
        link(&mut flows, &mut diags);
        assert_eq!(diags.len(), 1);
        let d = &diags[0];
        assert!(
            d.message
                .contains("only Powerofficego Product → Chargebee Item maps `name` → `name`"),
            "{}",
            d.message
        );
        assert_eq!(d.line, Some(10));
        assert_eq!(d.related[0].line, 30);
    }
}
