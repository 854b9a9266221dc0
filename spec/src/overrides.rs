//! `overrides.yaml`: what the documents cannot say for themselves.
//!
//! The file sits next to the documents (`dataflows/overrides.yaml`). Both sections are
//! optional; any other key is an error (a typo must not silently do nothing):
//!
//! ```yaml
//! systems:                       # names for blank systems, per document file
//!   powerofficego-to-unnamed.rst: { target: Chargebee }   # or `source: …`, or both
//! references:                    # add or remove references, per system, entity, property
//!   Chargebee:
//!     Order:
//!       customer_id: Customer    # holds the id of a Chargebee Customer
//!       external_id: null        # is not a reference, whatever its name says
//! ```
//!
//! A name in `systems` always wins over the evidence the resolver finds. Entries naming a
//! file, system, entity or property that the documents do not have are warnings (located
//! at the entry), not errors: an override may outlive the document it was written for.
//!
//! serde_yaml reports where a syntax or unknown-key error is, but not where a valid entry
//! is; entries are located by a scan of the key lines (see [`KeyLines`]), which is exact
//! for block style and falls back to the nearest enclosing key for flow style (`{ … }`).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use crate::ast::Spanned;
use crate::model::{Diagnostic, Location};

/// What `overrides.yaml` lists in its `help`, so that a typo is easy to fix.
const ALLOWED_KEYS: &str = "allowed keys: at the top level `systems` and `references`; \
under `systems.<document file>`: `source`, `target`; under `references`: \
`<System>: { <Entity>: { <property>: <Entity> or null } }`";

/// The parsed overrides, every entry with the place it was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// The overrides file name, as diagnostics name it.
    pub file: String,
    /// Blank system names, per document file.
    pub systems: BTreeMap<String, SystemNames>,
    /// Reference overrides: system → entity → property → referenced entity (`None`: not a
    /// reference).
    pub references: BTreeMap<String, BTreeMap<String, BTreeMap<String, ReferenceOverride>>>,
}

/// Names for the sides of one document.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemNames {
    /// Where the document's file key is written.
    pub location: Location,
    pub source: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
}

/// One `references` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceOverride {
    /// The referenced entity of the same system; `None` makes the property a plain value.
    pub entity: Option<String>,
    pub location: Location,
}

/// `references` as written: system → entity → property → referenced entity or null.
type RawReferences = BTreeMap<String, BTreeMap<String, BTreeMap<String, Option<String>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    #[serde(default)]
    systems: Option<BTreeMap<String, RawNames>>,
    #[serde(default)]
    references: Option<RawReferences>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNames {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    target: Option<String>,
}

impl Overrides {
    /// Parses `overrides.yaml`. An empty file (or one holding only comments) is no overrides.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Overrides, Box<Diagnostic>> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let (line, column) = line_column_of_byte(bytes, e.valid_up_to());
            Box::new(
                Diagnostic::error("overrides file is not valid UTF-8")
                    .at(&Location {
                        file: file.into(),
                        line,
                        column,
                    })
                    .help("save the file as UTF-8"),
            )
        })?;
        let raw: Option<RawOverrides> =
            serde_yaml::from_str(text).map_err(|e| Box::new(yaml_error(file, text, &e)))?;
        let Some(raw) = raw else {
            return Ok(Overrides {
                file: file.into(),
                ..Overrides::default()
            });
        };
        let keys = KeyLines::scan(file, text);
        if let Some((path, location)) = keys.duplicate.clone() {
            return Err(Box::new(
                Diagnostic::error(format!("invalid overrides file: duplicate key `{path}`"))
                    .at(&location)
                    .label("second time")
                    .help("write each key once; merge the two entries"),
            ));
        }
        let mut overrides = Overrides {
            file: file.into(),
            ..Overrides::default()
        };
        for (doc, names) in raw.systems.unwrap_or_default() {
            let location = keys.find(&["systems", &doc]);
            let side = |key: &str, value: Option<String>| {
                value.map(|v| Spanned::new(v, keys.find(&["systems", &doc, key])))
            };
            let names = SystemNames {
                source: side("source", names.source),
                target: side("target", names.target),
                location,
            };
            overrides.systems.insert(doc, names);
        }
        for (system, entities) in raw.references.unwrap_or_default() {
            let mut by_entity = BTreeMap::new();
            for (entity, properties) in entities {
                let mut by_property = BTreeMap::new();
                for (property, target) in properties {
                    let location = keys.find(&["references", &system, &entity, &property]);
                    by_property.insert(
                        property,
                        ReferenceOverride {
                            entity: target,
                            location,
                        },
                    );
                }
                by_entity.insert(entity, by_property);
            }
            overrides.references.insert(system, by_entity);
        }
        Ok(overrides)
    }

    /// The location of the whole file (line 1), for findings about it as a whole.
    pub fn file_location(&self) -> Location {
        Location {
            file: self.file.as_str().into(),
            line: 1,
            column: 1,
        }
    }
}

fn line_column_of_byte(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default())
        .chars()
        .count()
        + 1;
    (to_u32(line), to_u32(column))
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Turns a serde_yaml error into a diagnostic at its place, with the allowed keys as help
/// when the problem is a key.
fn yaml_error(file: &str, text: &str, error: &serde_yaml::Error) -> Diagnostic {
    let full = error.to_string();
    // serde_yaml appends " at line L column C"; the diagnostic carries that separately.
    let message = match full.rfind(" at line ") {
        Some(i) => full.get(..i).unwrap_or(&full).to_string(),
        None => full.clone(),
    };
    let location = match error.location() {
        Some(l) => Location {
            file: file.into(),
            line: to_u32(l.line()),
            column: to_u32(l.column()),
        },
        None => Location {
            file: file.into(),
            line: to_u32(text.lines().count().max(1)),
            column: 1,
        },
    };
    let help = if message.contains("unknown field") {
        ALLOWED_KEYS.to_string()
    } else if message.contains("invalid type") {
        format!("the expected shape is shown in the module docs; {ALLOWED_KEYS}")
    } else {
        "check the YAML syntax at this place".to_string()
    };
    Diagnostic::error(format!("invalid overrides file: {message}"))
        .at(&location)
        .help(help)
}

/// The key lines of a YAML file in block style: key path → where the key is written.
#[derive(Debug)]
struct KeyLines {
    file: String,
    keys: HashMap<Vec<String>, (u32, u32)>,
    /// The first key path written twice (serde_yaml keeps the last silently).
    duplicate: Option<(String, Location)>,
}

impl KeyLines {
    fn scan(file: &str, text: &str) -> KeyLines {
        let mut keys = HashMap::new();
        let mut duplicate = None;
        // (indent, key) of the enclosing keys.
        let mut stack: Vec<(usize, String)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some(key) = key_of(trimmed) else { continue };
            while stack.last().is_some_and(|(i, _)| *i >= indent) {
                stack.pop();
            }
            stack.push((indent, key));
            let path: Vec<String> = stack.iter().map(|(_, k)| k.clone()).collect();
            let column = line.get(..indent).map_or(0, |s| s.chars().count()) + 1;
            let at = (to_u32(index + 1), to_u32(column));
            match keys.entry(path) {
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(at);
                }
                std::collections::hash_map::Entry::Occupied(slot) => {
                    if duplicate.is_none() {
                        let location = Location {
                            file: file.into(),
                            line: at.0,
                            column: at.1,
                        };
                        duplicate = Some((slot.key().join("."), location));
                    }
                }
            }
        }
        KeyLines {
            file: file.into(),
            keys,
            duplicate,
        }
    }

    /// The place of the key at `path`, or of its nearest enclosing key that is written on a
    /// line of its own, or line 1.
    fn find(&self, path: &[&str]) -> Location {
        let mut owned: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        while !owned.is_empty() {
            if let Some(&(line, column)) = self.keys.get(&owned) {
                return Location {
                    file: self.file.as_str().into(),
                    line,
                    column,
                };
            }
            owned.pop();
        }
        Location {
            file: self.file.as_str().into(),
            line: 1,
            column: 1,
        }
    }
}

/// The key of a block mapping line (`key: …`, `"key": …`), unquoted.
fn key_of(trimmed: &str) -> Option<String> {
    if let Some(quote) = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let rest = trimmed.get(1..)?;
        let end = rest.find(quote)?;
        let after = rest.get(end + 1..)?.trim_start();
        return after
            .starts_with(':')
            .then(|| rest.get(..end).map(str::to_string))
            .flatten();
    }
    if trimmed.starts_with(['-', '{', '[', '&', '*', '!', '|', '>']) {
        return None;
    }
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ') {
            return Some(trimmed.get(..i)?.trim_end().to_string());
        }
        if bytes[i] == b'#' && i > 0 && bytes[i - 1] == b' ' {
            return None;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "overrides.yaml";

    #[test]
    fn parses_systems_and_references_with_locations() {
        let text = "# names\nsystems:\n  powerofficego-to-unnamed.rst: { target: Chargebee }\n\
                    references:\n  Chargebee:\n    Order:\n      customer_id: Customer\n      \
                    external_id: null\n";
        let o = Overrides::parse(FILE, text.as_bytes()).unwrap();
        let names = &o.systems["powerofficego-to-unnamed.rst"];
        assert_eq!(names.location.line, 3);
        assert_eq!(names.location.column, 3);
        assert!(names.source.is_none());
        let target = names.target.as_ref().unwrap();
        assert_eq!(target.value, "Chargebee");
        // Flow style: located at the enclosing file key.
        assert_eq!(target.location.line, 3);
        let order = &o.references["Chargebee"]["Order"];
        assert_eq!(order["customer_id"].entity.as_deref(), Some("Customer"));
        assert_eq!(order["customer_id"].location.line, 7);
        assert_eq!(order["customer_id"].location.column, 7);
        assert_eq!(order["external_id"].entity, None);
        assert_eq!(order["external_id"].location.line, 8);
    }

    #[test]
    fn block_style_sides_are_located() {
        let text = "systems:\n  a.rst:\n    source: X\n    target: Y\n";
        let o = Overrides::parse(FILE, text.as_bytes()).unwrap();
        let n = &o.systems["a.rst"];
        assert_eq!(n.source.as_ref().unwrap().location.line, 3);
        assert_eq!(n.target.as_ref().unwrap().location.line, 4);
        assert_eq!(n.target.as_ref().unwrap().location.column, 5);
    }

    #[test]
    fn empty_and_comment_only_files_are_no_overrides() {
        for text in ["", "\n", "# nothing yet\n", "systems:\nreferences:\n"] {
            let o = Overrides::parse(FILE, text.as_bytes()).unwrap();
            assert!(o.systems.is_empty() && o.references.is_empty(), "{text:?}");
            assert_eq!(o.file, FILE);
        }
    }

    #[test]
    fn unknown_top_level_key_is_an_error_with_location_and_help() {
        let text = "systems: {}\nrefrences:\n  A: {}\n";
        let d = Overrides::parse(FILE, text.as_bytes()).unwrap_err();
        assert!(
            d.message.contains("unknown field `refrences`"),
            "{}",
            d.message
        );
        assert!(!d.message.contains(" at line "), "{}", d.message);
        assert_eq!(d.file.as_deref(), Some(FILE));
        assert_eq!(d.line, Some(2));
        assert!(d.help.as_deref().unwrap().contains("`references`"));
    }

    #[test]
    fn unknown_side_key_is_an_error_naming_it() {
        let text = "systems:\n  a.rst:\n    targt: Chargebee\n";
        let d = Overrides::parse(FILE, text.as_bytes()).unwrap_err();
        assert!(d.message.contains("`targt`"), "{}", d.message);
        assert_eq!(d.line, Some(3));
        assert_eq!(d.column, Some(5));
        assert!(d.help.as_deref().unwrap().contains("`source`, `target`"));
    }

    #[test]
    fn wrong_shapes_and_bad_bytes_are_errors_not_panics() {
        for text in [
            &b"systems: [1, 2]\n"[..],
            b"references:\n  A:\n    B:\n      c: [x]\n",
            b"systems:\n  a.rst: { target: X\n",
            b"\xff\xfe",
            b"- 1\n- 2\n",
            b"systems:\n  a.rst: {}\n  a.rst: {}\n",
        ] {
            let d = Overrides::parse(FILE, text).unwrap_err();
            assert_eq!(d.severity, crate::model::Severity::Error);
            assert!(d.line.is_some(), "{d}");
        }
    }

    #[test]
    fn quoted_keys_are_located() {
        let text = "references:\n  \"Business Central\":\n    'Sales order':\n      \"customer no\": Customer\n";
        let o = Overrides::parse(FILE, text.as_bytes()).unwrap();
        let r = &o.references["Business Central"]["Sales order"]["customer no"];
        assert_eq!(r.location.line, 4);
    }
}
