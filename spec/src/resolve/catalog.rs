//! The catalog: every (system, entity, property) named in a table, with its type.
//!
//! Documents state types only for targets (the third column is the target's data type).
//! A property's type is the type stated where it is a target; two different stated types
//! are an error listing both places. `inferred` marks a type that some document naming the
//! property does not state itself (it names the property only as a source, a match
//! column or an `N/A` target) and so takes from another document.

use std::collections::BTreeMap;

use super::FastMap as HashMap;

use crate::ast;
use crate::model::{self, CatalogProperty, DataType, Diagnostic, Entity, Location, System};

/// What one table cell says about the property it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cell {
    /// A source cell or a match cell: the type is not stated here.
    Named,
    /// A target cell of a property table, with its type cell.
    Target(Option<DataType>),
}

#[derive(Debug)]
struct PropertyBuilder {
    stated: Option<(DataType, Location)>,
    locations: Vec<Location>,
    /// The document being read, and whether it stated the type so far.
    current_doc: usize,
    current_stated: bool,
    /// Some finished document named the property without stating its type.
    unstated_doc: bool,
}

impl PropertyBuilder {
    fn finish_doc(&mut self) {
        if !self.current_stated {
            self.unstated_doc = true;
        }
    }
}

#[derive(Debug, Default)]
struct EntityBuilder {
    properties: HashMap<String, PropertyBuilder>,
}

/// Collects cells in document order; [`CatalogBuilder::finish`] makes the catalog.
#[derive(Debug, Default)]
pub(super) struct CatalogBuilder {
    /// A hash of (system, entity) → indexes into `entities`: a lookup allocates nothing
    /// and hashes once.
    index: HashMap<u64, Vec<usize>>,
    entities: Vec<(String, String, EntityBuilder)>,
    /// Stated-type conflicts, reported at finish so that they follow the catalog order.
    conflicts: Vec<Diagnostic>,
}

impl CatalogBuilder {
    /// Registers an entity (flows with empty tables, `connected_via` entities); its index,
    /// for [`CatalogBuilder::cells`].
    pub fn entity(&mut self, system: &str, entity: &str) -> usize {
        self.entity_index(system, entity)
    }

    /// The cells of the entity at index `i` (from [`CatalogBuilder::entity`]).
    pub fn cells(&mut self, i: usize) -> EntityCells<'_> {
        EntityCells {
            entity: self.entities.get_mut(i).map(|(_, _, e)| e),
            conflicts: &mut self.conflicts,
        }
    }

    /// Feeds the table cells of document `d`'s `sections` (the document's resolved names
    /// are in `doc`), in document order: per section its entities, then the source cells
    /// (match rows, property rows), then the target cells.
    pub fn feed(&mut self, d: usize, doc: &model::Document, sections: &[ast::Section]) {
        let (ss, ts) = (doc.source_system.as_str(), doc.target_system.as_str());
        for section in sections {
            let (se, te) = (
                section.source_entity.value.as_str(),
                section.target_entity.value.as_str(),
            );
            let source = self.entity(ss, se);
            let target = self.entity(ts, te);
            for via in &section.connected_via {
                self.entity(ss, &via.value);
            }
            let mut cells = self.cells(source);
            for row in &section.match_rows {
                let at = row.source.location.clone();
                cells.cell(
                    d,
                    (ss, se),
                    &row.source.value,
                    at,
                    Cell::Named,
                    &row.location,
                );
            }
            for row in &section.property_rows {
                let at = row.source.location.clone();
                let type_at = &row.ty.location;
                cells.cell(d, (ss, se), &row.source.value, at, Cell::Named, type_at);
            }
            let mut cells = self.cells(target);
            for row in &section.match_rows {
                let at = row.target.location.clone();
                cells.cell(
                    d,
                    (ts, te),
                    &row.target.value,
                    at,
                    Cell::Named,
                    &row.location,
                );
            }
            for row in &section.property_rows {
                let at = row.target.location.clone();
                let cell = Cell::Target(row.ty.value);
                cells.cell(d, (ts, te), &row.target.value, at, cell, &row.ty.location);
            }
        }
    }

    /// The index of an entity in `entities`, added if new.
    fn entity_index(&mut self, system: &str, entity: &str) -> usize {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let key = BuildHasherDefault::<super::FxHasher>::default().hash_one((system, entity));
        let entities = &self.entities;
        let found = self.index.get(&key).and_then(|candidates| {
            candidates.iter().copied().find(|&i| {
                entities
                    .get(i)
                    .is_some_and(|(s, e, _)| s == system && e == entity)
            })
        });
        match found {
            Some(i) => i,
            None => {
                let i = self.entities.len();
                let mut properties = HashMap::default();
                // Entities have tens of properties: avoid regrowing from one.
                properties.reserve(20);
                let fresh = (
                    system.to_string(),
                    entity.to_string(),
                    EntityBuilder { properties },
                );
                self.entities.push(fresh);
                self.index.entry(key).or_default().push(i);
                i
            }
        }
    }

    /// The catalog, in name order; type conflicts go to `diagnostics`.
    pub fn finish(self, diagnostics: &mut Vec<Diagnostic>) -> BTreeMap<String, System> {
        diagnostics.extend(self.conflicts);
        let mut systems: BTreeMap<String, System> = BTreeMap::new();
        for (system, name, e) in self.entities {
            let properties = e
                .properties
                .into_iter()
                .map(|(name, mut p)| {
                    p.finish_doc();
                    // Cells arrive per entity, not strictly in document order (a
                    // self-link's two sides); documents are in file-name order, so
                    // sorting restores document order.
                    p.locations.sort_unstable();
                    let ty = p.stated.map(|(t, _)| t);
                    let property = CatalogProperty {
                        ty,
                        inferred: ty.is_some() && p.unstated_doc,
                        reference: None,
                        locations: p.locations,
                    };
                    (name, property)
                })
                .collect();
            systems
                .entry(system)
                .or_default()
                .entities
                .insert(name, Entity { properties });
        }
        systems
    }
}

/// Registers the table cells of one entity.
#[derive(Debug)]
pub(super) struct EntityCells<'c> {
    entity: Option<&'c mut EntityBuilder>,
    conflicts: &'c mut Vec<Diagnostic>,
}

impl EntityCells<'_> {
    /// Registers one cell of document `doc` (documents must come in order) naming
    /// `property` of `owner` (system, entity). `type_location` is where a stated type is
    /// written.
    pub fn cell(
        &mut self,
        doc: usize,
        owner: (&str, &str),
        property: &str,
        location: Location,
        cell: Cell,
        type_location: &Location,
    ) {
        let Some(e) = self.entity.as_deref_mut() else {
            return;
        };
        let conflicts = &mut *self.conflicts;
        let update = |p: &mut PropertyBuilder| {
            if p.current_doc != doc {
                p.finish_doc();
                p.current_doc = doc;
                p.current_stated = false;
            }
            p.locations.push(location);
            let Cell::Target(Some(t)) = cell else { return };
            p.current_stated = true;
            match &p.stated {
                None => p.stated = Some((t, type_location.clone())),
                Some((first, first_at)) if *first != t => {
                    conflicts.push(
                        Diagnostic::error(format!(
                            "{} {} `{property}` is stated as \"{t}\" here and as \"{first}\" at {first_at}",
                            owner.0, owner.1
                        ))
                        .at(type_location)
                        .label(format!("\"{t}\""))
                        .related(format!("stated as \"{first}\" here"), first_at)
                        .help("state one type for the property in every document"),
                    );
                }
                Some(_) => {}
            }
        };
        match e.properties.get_mut(property) {
            Some(p) => update(p),
            None => {
                let mut p = PropertyBuilder {
                    stated: None,
                    // Half the properties are named in five cells or more (a thousand
                    // documents): avoid regrowing from one.
                    locations: Vec::with_capacity(8),
                    current_doc: doc,
                    current_stated: false,
                    unstated_doc: false,
                };
                update(&mut p);
                e.properties.insert(property.to_string(), p);
            }
        }
    }
}
