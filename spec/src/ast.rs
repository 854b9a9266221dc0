//! What the reader makes of one document, before anything is resolved across documents.
//!
//! System names are as the title writes them (`""` for a blank system); a heading's
//! variant spelling has already been mapped to the title's name, the spelling it used is
//! kept for the notes. Every value carries the location it was read from.

use crate::model::{DataType, Location};

/// A value and the place it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub location: Location,
}

impl<T> Spanned<T> {
    pub fn new(value: T, location: Location) -> Self {
        Spanned { value, location }
    }
}

/// One dataflow document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// File name as given to the reader (relative to the folder read).
    pub file: String,
    /// The title text (`Chargebee to Powerofficego Dataflow`).
    pub title: Spanned<String>,
    /// The title's source system (`""` when blank).
    pub source_system: Spanned<String>,
    /// The title's target system (`""` when blank).
    pub target_system: Spanned<String>,
    /// The `Generated:` value, normalized to ISO 8601 (`2024-09-09T00:00:00`).
    pub generated: Option<Spanned<String>>,
    /// Flow sections in document order (duplicates are not merged here).
    pub sections: Vec<Section>,
}

/// Which side of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Source,
    Target,
}

/// One flow section: `<Source system> <source entity> to <Target system> <target entity>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The heading text's location.
    pub location: Location,
    /// The source entity name (`Customers person`).
    pub source_entity: Spanned<String>,
    /// The target entity name.
    pub target_entity: Spanned<String>,
    /// The system spelling the heading used where it differs from the title's
    /// (`Businesscentral` for `Business Central`), per side.
    pub source_spelling: Option<String>,
    pub target_spelling: Option<String>,
    /// `Every X will be synchronized with a Y.`
    pub every: Option<Location>,
    /// `Before any synchronization can take place, a link … must be established.`
    pub link_required: Option<Location>,
    /// `A new Y will be created from a X if it is connected to a <S> Z1, or Z2 that is
    /// synchronized into <T>.`: the Z entities.
    pub connected_via: Vec<Spanned<String>>,
    /// `When <condition>, it will be synchronized with a Y.`: the condition, verbatim.
    pub condition: Option<Spanned<String>>,
    /// `If a matching Y already exists, the X will be merged with the existing one.`
    pub merge: Option<Location>,
    /// `If no matching Y is found, a new Y will be created.`
    pub create_if_no_match: Option<Location>,
    /// `Once a link … regardless of where it is edited.`
    pub bidirectional: Option<Location>,
    /// Rows of the merge table (`A X will merge with a Y if …:`).
    pub match_rows: Vec<MatchRow>,
    /// Rows of the property table, in document order.
    pub property_rows: Vec<PropertyRow>,
    /// Where the property table is (its directive line), if there is one.
    pub property_table: Option<Location>,
}

/// A row of a merge table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchRow {
    pub source: Spanned<String>,
    pub target: Spanned<String>,
    /// The row's `* -` marker.
    pub location: Location,
}

/// A row of a property table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyRow {
    pub source: Spanned<String>,
    pub target: Spanned<String>,
    /// `None` for `N/A`.
    pub ty: Spanned<Option<DataType>>,
    /// The row's `* -` marker.
    pub location: Location,
}
