//! The spec: the contract between the reader, codegen, the runtime and the tests.
//!
//! Field names follow `DESIGN.md` §2 exactly; they are what `flowgen spec` prints and what
//! `spec.yaml` holds. Fields the design does not show (`inverse`, `also_at`, `locations`,
//! `cascades`, …) are additions, skipped when empty so the common case reads as in the design.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The version of the spec format written by this crate.
pub const SPEC_VERSION: u32 = 1;

/// Everything read from a set of dataflow documents, resolved across documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub version: u32,
    pub documents: Vec<Document>,
    pub flows: Vec<Flow>,
    /// The catalog: every system, entity and property seen, with resolved types.
    pub systems: BTreeMap<String, System>,
    /// Chains of flows where a record created by one flow is the source of the next.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cascades: Vec<Cascade>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Spec {
    /// True when any diagnostic is an error: such a spec must not be generated from.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// The catalog entry of `system`/`entity`, if any.
    pub fn entity(&self, system: &str, entity: &str) -> Option<&Entity> {
        self.systems.get(system)?.entities.get(entity)
    }
}

/// One document as read (after resolution of blank and variant system names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// File name relative to the folder it was read from.
    pub file: String,
    pub title: String,
    /// The `Generated:` timestamp, ISO 8601 without zone (`2024-09-09T00:00:00`).
    pub generated: Option<String>,
    pub source_system: String,
    pub target_system: String,
}

/// One side of a flow: an entity of a system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub system: String,
    pub entity: String,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.system, self.entity)
    }
}

/// When a flow may create a target record for an unlinked source record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Create {
    Always,
    WhenConnected,
    Never,
}

/// A documented synchronization between a source entity and a target entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub source: Endpoint,
    pub target: Endpoint,
    pub create: Create,
    /// Entities of the source system whose synchronization into the target creates this
    /// flow's target record (`create: when_connected`).
    #[serde(default)]
    pub connected_via: Vec<String>,
    /// Verbatim text of a `When …` rule: the flow applies only where it holds.
    #[serde(default)]
    pub condition: Option<String>,
    /// Match first, then create ("If a matching … already exists").
    #[serde(default)]
    pub merge: bool,
    #[serde(rename = "match", default)]
    pub match_rules: Vec<MatchRule>,
    #[serde(default)]
    pub properties: Vec<Property>,
    /// The flow's section heading.
    pub location: Location,
    /// Further headings of the same flow (duplicate sections, merged into this one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_at: Vec<Location>,
    /// Index in `flows` of the documented flow in the other direction, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverse: Option<usize>,
}

/// One alternative of a flow's match rules: records whose properties are equal are linked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRule {
    pub source: String,
    pub target: String,
    pub location: Location,
}

/// One row of a flow's property table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Source property; a dotted path for nested values (`MailAddress.City`).
    pub source: String,
    /// Target property; a dotted path for nested values (`order_line_items.unit_price`).
    pub target: String,
    /// The target data type; `None` for `N/A`.
    #[serde(rename = "type")]
    pub ty: Option<DataType>,
    pub location: Location,
}

/// The data types a document can state (quoted in the table: `"string"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    String,
    Integer,
    Float,
    Decimal,
    Boolean,
    Date,
    Datetime,
}

impl DataType {
    pub const ALL: [DataType; 7] = [
        DataType::String,
        DataType::Integer,
        DataType::Float,
        DataType::Decimal,
        DataType::Boolean,
        DataType::Date,
        DataType::Datetime,
    ];

    /// The name as written in documents (without quotes).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Float => "float",
            DataType::Decimal => "decimal",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
            DataType::Datetime => "datetime",
        }
    }

    /// Parses a type name as written in documents (without quotes), exactly.
    pub fn from_name(name: &str) -> Option<DataType> {
        DataType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in a document. Lines and columns count from 1; columns count characters.
///
/// The file name is shared: a spec holds hundreds of thousands of locations in a few
/// hundred files, and a copy of the name each was most of the reader's allocations. It
/// serializes as a plain string.
#[derive(Debug, Clone, Eq, Serialize, Deserialize)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

// As derived (file name, line, column), but locations that share a file name compare it by
// pointer: most comparisons are between places of one file.
impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
            && self.column == other.column
            && (Arc::ptr_eq(&self.file, &other.file) || self.file == other.file)
    }
}

impl std::hash::Hash for Location {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.file.hash(state);
        self.line.hash(state);
        self.column.hash(state);
    }
}

impl PartialOrd for Location {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Location {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let file = if Arc::ptr_eq(&self.file, &other.file) {
            std::cmp::Ordering::Equal
        } else {
            self.file.cmp(&other.file)
        };
        file.then(self.line.cmp(&other.line))
            .then(self.column.cmp(&other.column))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A system of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct System {
    pub entities: BTreeMap<String, Entity>,
}

/// An entity of the catalog.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub properties: BTreeMap<String, CatalogProperty>,
}

/// A property of the catalog (a dotted path for nested values).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogProperty {
    /// The stated type, or the type inferred from another document, or `None` (unknown).
    #[serde(rename = "type")]
    pub ty: Option<DataType>,
    /// True when `ty` was not stated for this property but taken from another document.
    #[serde(default, skip_serializing_if = "is_false")]
    pub inferred: bool,
    /// The entity of the same system this property holds the id of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Every table cell naming this property, in document order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A chain of flows where each created record is the source of the next flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cascade {
    pub chain: Vec<Endpoint>,
    /// True when the chain comes back to an entity already in it: records could be created
    /// forever.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cycle: bool,
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A finding about the documents, with its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// File, line and column; absent for findings about the whole set of documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What the marked text is (shown under the source line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// How to fix it, where a fix is likely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Other places that belong to the finding (the other stated type, the inverse flow).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
}

/// A further place of a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Related {
    pub message: String,
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl Diagnostic {
    pub fn new(severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    pub fn note(message: impl Into<String>) -> Self {
        Self::new(Severity::Note, message)
    }

    pub fn at(mut self, location: &Location) -> Self {
        self.file = Some(location.file.to_string());
        self.line = Some(location.line);
        self.column = Some(location.column);
        self
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn related(mut self, message: impl Into<String>, location: &Location) -> Self {
        self.related.push(Related {
            message: message.into(),
            file: location.file.to_string(),
            line: location.line,
            column: location.column,
        });
        self
    }

    /// The primary place, when the diagnostic has one.
    pub fn location(&self) -> Option<Location> {
        Some(Location {
            file: Arc::from(self.file.as_deref()?),
            line: self.line?,
            column: self.column.unwrap_or(1),
        })
    }
}

impl fmt::Display for Diagnostic {
    /// One line, as compilers print it: `file:line:column: severity: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location() {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_compare_as_file_line_column() {
        let shared: Arc<str> = Arc::from("b.rst");
        let at = |file: &Arc<str>, line, column| Location {
            file: Arc::clone(file),
            line,
            column,
        };
        let places = [
            at(&shared, 2, 1),
            at(&Arc::from("b.rst"), 1, 9),
            at(&Arc::from("a.rst"), 7, 7),
            at(&shared, 1, 9),
            at(&Arc::from("c.rst"), 1, 1),
            at(&shared, 2, 1),
        ];
        for a in &places {
            for b in &places {
                let key = |l: &Location| (l.file.to_string(), l.line, l.column);
                assert_eq!(a.cmp(b), key(a).cmp(&key(b)), "{a} {b}");
                assert_eq!(a == b, key(a) == key(b), "{a} {b}");
            }
        }
    }
}
