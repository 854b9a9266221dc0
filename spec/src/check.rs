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
    // Hashing beats the catalog's ordered maps for tens of thousands of lookups.
    let entities: HashMap<(&str, &str), &Entity> = systems
        .iter()
        .flat_map(|(s, sys)| {
            sys.entities
                .iter()
                .map(move |(e, entity)| ((s.as_str(), e.as_str()), entity))
        })
        .collect();
    let entity = |system: &str, name: &str| entities.get(&(system, name)).copied();
    // Each flow's entities, and the pairs of endpoints some flow links (either way) by
    // number: a catalog entity's address, or for an endpoint the catalog lacks (not in a
    // resolved spec, but `check` takes any spec) a number past every address.
    let ends: Vec<(Option<&Entity>, Option<&Entity>)> = flows
        .iter()
        .map(|f| {
            (
                entity(&f.source.system, &f.source.entity),
                entity(&f.target.system, &f.target.entity),
            )
        })
        .collect();
    let mut uncataloged: HashMap<&Endpoint, usize> = HashMap::default();
    for (f, &(s, t)) in flows.iter().zip(&ends) {
        for (end, found) in [(&f.source, s), (&f.target, t)] {
            if found.is_none() {
                let next = usize::MAX - uncataloged.len();
                uncataloged.entry(end).or_insert(next);
            }
        }
    }
    let number = |end: &Endpoint, found: Option<&Entity>| {
        found
            .map(entity_key)
            .or_else(|| uncataloged.get(end).copied())
    };
    let linked: HashSet<(usize, usize)> = flows
        .iter()
        .zip(&ends)
        .filter_map(|(f, &(s, t))| Some((number(&f.source, s)?, number(&f.target, t)?)))
        .flat_map(|(s, t)| [(s, t), (t, s)])
        .collect();
    let links = |a: &Endpoint, b: &Endpoint| {
        let a = number(a, entity(&a.system, &a.entity));
        let b = number(b, entity(&b.system, &b.entity));
        a.zip(b).is_some_and(|pair| linked.contains(&pair))
    };
    let catalog = Catalog::new(systems);
    let mut found = Vec::new();
    let mut sources = Vec::new();
    for (flow, &(source, target)) in flows.iter().zip(&ends) {
        sources.clear();
        sources.extend(
            flow.properties
                .iter()
                .map(|row| catalog.get(source, &row.source)),
        );
        check_rows(&catalog, &sources, target, flow, &links, &mut found);
        check_fan_in(flow, &mut found);
        note_untyped_sources(&sources, flow, &mut found);
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

/// `sources` are the catalog entries of the rows' source properties; `links(a, b)` says
/// whether some flow links `a` and `b`, either way.
fn check_rows(
    catalog: &Catalog<'_>,
    sources: &[Option<&CatalogProperty>],
    target_entity: Option<&Entity>,
    flow: &Flow,
    links: &impl Fn(&Endpoint, &Endpoint) -> bool,
    found: &mut Vec<Diagnostic>,
) {
    for (row, &source) in flow.properties.iter().zip(sources) {
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
                        if !links(&se, &te) {
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

/// `sources` are the catalog entries of the rows' source properties.
fn note_untyped_sources(
    sources: &[Option<&CatalogProperty>],
    flow: &Flow,
    found: &mut Vec<Diagnostic>,
) {
    let mut untyped: Vec<&str> = Vec::new();
    for (row, known) in flow.properties.iter().zip(sources) {
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

    fn endpoint(system: &str, entity: &str) -> Endpoint {
        Endpoint {
            system: system.into(),
            entity: entity.into(),
        }
    }

    fn flow(source: Endpoint, target: Endpoint, rows: &[(&str, &str)]) -> Flow {
        let location = crate::model::Location {
            file: "d.rst".into(),
            line: 1,
            column: 1,
        };
        Flow {
            source,
            target,
            create: crate::model::Create::Always,
            connected_via: Vec::new(),
            condition: None,
            merge: false,
            match_rules: Vec::new(),
            properties: rows
                .iter()
                .map(|(s, t)| crate::model::Property {
                    source: (*s).into(),
                    target: (*t).into(),
                    ty: None,
                    location: location.clone(),
                })
                .collect(),
            location,
            also_at: Vec::new(),
            inverse: None,
        }
    }

    /// A reference row is fine when some flow links the two referenced entities, even
    /// when the catalog lacks them (`check` takes any spec, not only resolved ones).
    #[test]
    fn links_between_entities_the_catalog_lacks_count() {
        let reference = |to: &str| CatalogProperty {
            reference: Some(to.into()),
            ..CatalogProperty::default()
        };
        let mut systems = BTreeMap::new();
        for (system, entity, property, to) in [
            ("S", "Order", "customer_id", "Customer"),
            ("T", "Invoice", "client", "Client"),
        ] {
            let mut e = Entity::default();
            e.properties.insert(property.into(), reference(to));
            let mut sys = System::default();
            sys.entities.insert(entity.into(), e);
            systems.insert(system.to_string(), sys);
        }
        let orders = flow(
            endpoint("S", "Order"),
            endpoint("T", "Invoice"),
            &[("customer_id", "client")],
        );
        let unlinked = findings(std::slice::from_ref(&orders), &systems);
        assert_eq!(unlinked.len(), 1, "{unlinked:?}");
        assert!(
            unlinked[0]
                .message
                .contains("references between S Customer and T Client need a flow")
        );
        // The link, either way round.
        let back = flow(endpoint("T", "Client"), endpoint("S", "Customer"), &[]);
        assert!(findings(&[orders, back], &systems).is_empty());
    }

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
