//! Findings that need the whole resolved spec. Codegen turns every error into a
//! `compile_error!` naming the row, so each finding points at a document row.
//!
//! - A row whose source type cannot convert into its target type (the target not being a
//!   reference) is an error: `"string" into "integer"`. Widening and formatting are fine
//!   (integer → float/decimal/string, float ↔ decimal, anything → string but string itself
//!   into anything else, date → datetime); an unknown type on either side is not checked.
//! - A row into a reference must come from a reference, and the two referenced entities
//!   must be linked by some flow (either direction), since references are translated
//!   through links. A reference copied into a plain property is a warning: the raw
//!   foreign id would be written.
//! - Several rows into one target property: a note (the first non-empty value in document
//!   order wins).
//! - Mapped source properties no document gives a type: one note per flow listing them
//!   (conversions from them are checked at run time only). Notes, not warnings, because
//!   documents state target types only, and a source that is never a target is common.

use std::collections::BTreeMap;

use crate::model::{CatalogProperty, DataType, Diagnostic, Endpoint, Entity, Flow, Spec, System};
use crate::resolve::{FastMap as HashMap, FastSet as HashSet};

/// Adds the findings that need the whole spec.
pub fn check(spec: &mut Spec) {
    let found = findings(&spec.flows, &spec.systems);
    spec.diagnostics.extend(found);
}

/// The findings about `flows` and the catalog `systems`, in flow order.
pub(crate) fn findings(flows: &[Flow], systems: &BTreeMap<String, System>) -> Vec<Diagnostic> {
    let linked: HashSet<(&Endpoint, &Endpoint)> = flows
        .iter()
        .flat_map(|f| [(&f.source, &f.target), (&f.target, &f.source)])
        .collect();
    // Hashing beats the catalog's ordered maps for tens of thousands of lookups.
    let entities: HashMap<(&str, &str), &Entity> = systems
        .iter()
        .flat_map(|(s, sys)| {
            sys.entities
                .iter()
                .map(move |(e, entity)| ((s.as_str(), e.as_str()), entity))
        })
        .collect();
    let entity = |at: &Endpoint| {
        entities
            .get(&(at.system.as_str(), at.entity.as_str()))
            .copied()
    };
    let catalog = Catalog::new(systems);
    let mut found = Vec::new();
    for flow in flows {
        let (source, target) = (entity(&flow.source), entity(&flow.target));
        check_rows(&catalog, source, target, flow, &linked, &mut found);
        check_fan_in(flow, &mut found);
        note_untyped_sources(&catalog, source, flow, &mut found);
    }
    found
}

/// Every catalog property by (entity, name): a hashed lookup per row instead of a walk
/// down the entity's ordered map comparing names. Entities are keyed by address (they
/// stay in place while the spec is borrowed).
struct Catalog<'s> {
    properties: HashMap<(usize, &'s str), &'s CatalogProperty>,
}

impl<'s> Catalog<'s> {
    fn new(systems: &'s BTreeMap<String, System>) -> Self {
        let count = systems
            .values()
            .flat_map(|sys| sys.entities.values())
            .map(|e| e.properties.len())
            .sum();
        let mut properties = HashMap::default();
        properties.reserve(count);
        for entity in systems.values().flat_map(|sys| sys.entities.values()) {
            let at = entity_key(entity);
            for (name, property) in &entity.properties {
                properties.insert((at, name.as_str()), property);
            }
        }
        Catalog { properties }
    }

    fn get(&self, entity: Option<&Entity>, property: &str) -> Option<&'s CatalogProperty> {
        self.properties
            .get(&(entity_key(entity?), property))
            .copied()
    }
}

fn entity_key(entity: &Entity) -> usize {
    std::ptr::from_ref(entity) as usize
}

/// Whether a value of type `from` can be written into a property of type `to`.
pub fn converts(from: DataType, to: DataType) -> bool {
    use DataType::*;
    from == to
        || matches!(
            (from, to),
            (Integer, Float | Decimal | String)
                | (Float | Decimal, String)
                | (Float, Decimal)
                | (Decimal, Float)
                | (Boolean, String)
                | (Date | Datetime, String)
                | (Date, Datetime)
        )
}

fn check_rows(
    catalog: &Catalog<'_>,
    source_entity: Option<&Entity>,
    target_entity: Option<&Entity>,
    flow: &Flow,
    linked: &HashSet<(&Endpoint, &Endpoint)>,
    found: &mut Vec<Diagnostic>,
) {
    for row in &flow.properties {
        let source = catalog.get(source_entity, &row.source);
        let target = catalog.get(target_entity, &row.target);
        let source_ref = source.and_then(|p| p.reference.as_deref());
        let target_ref = target.and_then(|p| p.reference.as_deref());
        // Formatted only for a finding: most rows have none.
        let what = || {
            format!(
                "row `{}` → `{}` of {} → {}",
                row.source, row.target, flow.source, flow.target
            )
        };
        match (source_ref, target_ref) {
            (_, Some(te)) => {
                let te = Endpoint { system: flow.target.system.clone(), entity: te.to_string() };
                match source_ref {
                    None => found.push(
                        Diagnostic::error(format!(
                            "{}: {} `{}` holds a {te} id, but {} `{}` is not a reference",
                            what(),
                            flow.target, row.target, flow.source, row.source
                        ))
                        .at(&row.location)
                        .label("reference from a plain value")
                        .help(format!(
                            "map a {} reference to an entity that a flow links to {te}, or declare `{}` a reference in overrides.yaml",
                            flow.source.system, row.source
                        )),
                    ),
                    Some(se) => {
                        let se = Endpoint { system: flow.source.system.clone(), entity: se.to_string() };
                        if !linked.contains(&(&se, &te)) {
                            found.push(
                                Diagnostic::error(format!(
                                    "{}: references between {se} and {te} need a flow linking them",
                                    what()
                                ))
                                .at(&row.location)
                                .label("no link to translate this reference")
                                .help(format!("add a flow `{se} to {te}` to one of the documents")),
                            );
                        }
                    }
                }
            }
            (Some(se), None) => found.push(
                Diagnostic::warning(format!(
                    "{}: {} `{}` holds a {} {se} id, which would be written raw into `{}`",
                    what(),
                    flow.source, row.source, flow.source.system, row.target
                ))
                .at(&row.location)
                .label("raw foreign id")
                .help("make the target a reference (overrides.yaml `references`) or map another property"),
            ),
            (None, None) => {
                let from = source.and_then(|p| p.ty);
                let to = row.ty.or(target.and_then(|p| p.ty));
                if let (Some(from), Some(to)) = (from, to)
                    && !converts(from, to)
                {
                    found.push(
                        Diagnostic::error(format!(
                            "{}: cannot convert \"{from}\" into \"{to}\"",
                            what()
                        ))
                        .at(&row.location)
                        .label(format!("\"{from}\" into \"{to}\""))
                        .help(format!(
                            "map a property whose type converts into \"{to}\", or state the target type as \"{from}\"{}",
                            if from == DataType::String { "" } else { " or \"string\"" }
                        )),
                    );
                }
            }
        }
    }
}

fn check_fan_in(flow: &Flow, found: &mut Vec<Diagnostic>) {
    // Tables are short: a quadratic scan beats building a map per flow.
    for (i, row) in flow.properties.iter().enumerate() {
        let earlier = flow.properties.get(..i).unwrap_or_default();
        let first_of_target = !earlier.iter().any(|p| p.target == row.target);
        let later = flow.properties.get(i + 1..).unwrap_or_default();
        if !first_of_target || !later.iter().any(|p| p.target == row.target) {
            continue;
        }
        let rows: Vec<_> = flow
            .properties
            .iter()
            .filter(|p| p.target == row.target)
            .collect();
        let sources: Vec<String> = rows.iter().map(|p| format!("`{}`", p.source)).collect();
        let mut note = Diagnostic::note(format!(
            "{} rows of {} → {} write `{}` ({}): the first non-empty value in document order wins",
            rows.len(),
            flow.source,
            flow.target,
            row.target,
            sources.join(", ")
        ))
        .at(&row.location)
        .label("first row");
        for other in rows.iter().skip(1) {
            note = note.related(format!("also from `{}`", other.source), &other.location);
        }
        found.push(note);
    }
}

fn note_untyped_sources(
    catalog: &Catalog<'_>,
    source_entity: Option<&Entity>,
    flow: &Flow,
    found: &mut Vec<Diagnostic>,
) {
    let mut untyped: Vec<&str> = Vec::new();
    for row in &flow.properties {
        let known = catalog.get(source_entity, &row.source);
        if known.is_some_and(|p| p.ty.is_none() && p.reference.is_none())
            && !untyped.contains(&row.source.as_str())
        {
            untyped.push(&row.source);
        }
    }
    if untyped.is_empty() {
        return;
    }
    let names: Vec<String> = untyped.iter().map(|p| format!("`{p}`")).collect();
    found.push(
        Diagnostic::note(format!(
            "no document states the type of {} {}; conversions from {} into {} are checked at run time only",
            flow.source,
            names.join(", "),
            if untyped.len() == 1 { "it" } else { "them" },
            flow.target
        ))
        .at(&flow.location)
        .help(format!("a document with a flow into {} would state the types", flow.source)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn conversion_rules() {
        for t in DataType::ALL {
            assert!(converts(t, t));
            assert!(converts(t, String), "{t} into string");
        }
        assert!(converts(Integer, Float) && converts(Integer, Decimal));
        assert!(converts(Float, Decimal) && converts(Decimal, Float));
        assert!(converts(Date, Datetime));
        assert!(!converts(String, Integer));
        assert!(!converts(String, Boolean));
        assert!(!converts(Float, Integer));
        assert!(!converts(Datetime, Date));
        assert!(!converts(Boolean, Integer));
        assert!(!converts(Integer, Boolean));
        assert!(!converts(Integer, Date));
    }
}
