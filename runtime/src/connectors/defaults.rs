//! Values for required fields that the documents do not map, filled in when a record is
//! created (`defaults` in a system's configuration).
//!
//! ```yaml
//! defaults:
//!   Customers person:
//!     Name: ["{FirstName} {LastName}", "{EmailAddress}", "Person {$ref}"]
//!   Product:
//!     Name: ["{Name}", "Product {$ref}"]
//!   Order:
//!     customer_id: walk-in
//!     status: queued
//! ```
//!
//! A default is a constant (a number, a boolean, or a string without placeholders), a
//! template, or a list of alternatives tried in order. A template's `{Path}` is the created
//! record's value at that dotted path (names compared case-insensitively); `{$ref}` is a
//! short reference unique to the create (from its idempotency key, so a replay after a
//! crash gives the same one); `{{` and `}}` are braces. An alternative applies only when
//! each of its placeholders has a non-empty scalar value, and a template that is one
//! placeholder keeps the value's JSON type. Defaults apply to fields that are absent or
//! empty in the created record only: mapped values always win.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::ConfigError;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// A dotted path into the created record, split.
    Field(Vec<String>),
    /// `{$ref}`.
    Reference,
}

/// One way to produce a value.
#[derive(Debug, Clone, PartialEq)]
enum Alternative {
    Constant(Value),
    Template(Vec<Piece>),
}

/// The defaults of one entity: per target field (a dotted path), its alternatives.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityDefaults {
    fields: Vec<(Vec<String>, Vec<Alternative>)>,
}

/// The defaults of every entity of a system, keyed by entity (case-insensitive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    entities: BTreeMap<String, EntityDefaults>,
}

impl Defaults {
    /// Reads the `defaults` section of `system`'s configuration; errors name the key.
    pub fn parse(
        system: &str,
        config: &BTreeMap<String, BTreeMap<String, Value>>,
    ) -> Result<Self, ConfigError> {
        let mut entities = BTreeMap::new();
        for (entity, fields) in config {
            let mut parsed = EntityDefaults::default();
            for (field, value) in fields {
                let key = format!("defaults.{entity}.{field}");
                let path = split_path(field)
                    .ok_or_else(|| ConfigError::invalid(system, &key, "not a field path"))?;
                let alternatives = match value {
                    Value::Array(items) if items.is_empty() => {
                        return Err(ConfigError::invalid(
                            system,
                            &key,
                            "an empty list of alternatives",
                        ));
                    }
                    Value::Array(items) => items
                        .iter()
                        .map(|v| alternative(v).map_err(|m| ConfigError::invalid(system, &key, m)))
                        .collect::<Result<Vec<_>, _>>()?,
                    single => {
                        vec![
                            alternative(single)
                                .map_err(|m| ConfigError::invalid(system, &key, m))?,
                        ]
                    }
                };
                parsed.fields.push((path, alternatives));
            }
            entities.insert(entity.to_lowercase(), parsed);
        }
        Ok(Defaults { entities })
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// `data` with the defaults of `entity` filled in where it has no value. `reference` is
    /// what `{$ref}` stands for (none without an idempotency key: such alternatives do not
    /// apply).
    pub fn apply(&self, entity: &str, data: &Value, reference: Option<&str>) -> Value {
        let Some(defaults) = self.entities.get(&entity.to_lowercase()) else {
            return data.clone();
        };
        let mut out = data.clone();
        for (path, alternatives) in &defaults.fields {
            if !crate::json_path::is_empty(&lookup_ci(&out, path)) {
                continue;
            }
            if let Some(value) = alternatives
                .iter()
                .find_map(|a| evaluate(a, data, reference))
            {
                set_path(&mut out, path, value);
            }
        }
        out
    }
}

fn split_path(field: &str) -> Option<Vec<String>> {
    let steps: Vec<String> = field.split('.').map(|s| s.trim().to_string()).collect();
    (!steps.iter().any(String::is_empty)).then_some(steps)
}

fn alternative(value: &Value) -> Result<Alternative, String> {
    match value {
        Value::String(text) => {
            let pieces = parse_template(text)?;
            if pieces.iter().all(|p| matches!(p, Piece::Text(_))) {
                Ok(Alternative::Constant(Value::String(unescape(&pieces))))
            } else {
                Ok(Alternative::Template(pieces))
            }
        }
        Value::Number(_) | Value::Bool(_) => Ok(Alternative::Constant(value.clone())),
        Value::Null => Err("null is not a default (leave the field out instead)".to_string()),
        Value::Array(_) | Value::Object(_) => Err(
            "a default is a string, a number, a boolean, or a list of those alternatives"
                .to_string(),
        ),
    }
}

fn unescape(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            _ => "",
        })
        .collect()
}

/// `"{FirstName} {LastName}"` → pieces; `{{`/`}}` are literal braces.
fn parse_template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "`{text}`: a `{{` without its `}}` (write `{{{{` for a brace)"
                            ));
                        }
                        Some(c) => name.push(c),
                    }
                }
                let name = name.trim();
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                if name == "$ref" {
                    pieces.push(Piece::Reference);
                } else if name.starts_with('$') {
                    return Err(format!(
                        "`{text}`: unknown placeholder `{{{name}}}` (the one special placeholder is `{{$ref}}`)"
                    ));
                } else {
                    let path = split_path(name)
                        .ok_or_else(|| format!("`{text}`: `{{{name}}}` is not a field path"))?;
                    pieces.push(Piece::Field(path));
                }
            }
            '}' => {
                return Err(format!(
                    "`{text}`: a `}}` without its `{{` (write `}}}}` for a brace)"
                ));
            }
            c => literal.push(c),
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

/// The value at `path`, member names compared case-insensitively (an exact match first).
fn lookup_ci(value: &Value, path: &[String]) -> Value {
    let mut current = value;
    for step in path {
        let Value::Object(map) = current else {
            return Value::Null;
        };
        let found = map.get(step).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(step))
                .map(|(_, v)| v)
        });
        match found {
            Some(inner) => current = inner,
            None => return Value::Null,
        }
    }
    current.clone()
}

fn evaluate(alternative: &Alternative, data: &Value, reference: Option<&str>) -> Option<Value> {
    let pieces = match alternative {
        Alternative::Constant(value) => return Some(value.clone()),
        Alternative::Template(pieces) => pieces,
    };
    if let [Piece::Field(path)] = pieces.as_slice() {
        let value = lookup_ci(data, path);
        return (!crate::json_path::is_empty(&value) && !value.is_object() && !value.is_array())
            .then_some(value);
    }
    let mut text = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => text.push_str(t),
            Piece::Reference => text.push_str(reference?),
            Piece::Field(path) => match lookup_ci(data, path) {
                Value::String(s) if !s.trim().is_empty() => text.push_str(s.trim()),
                Value::Number(n) => text.push_str(&n.to_string()),
                Value::Bool(b) => text.push_str(&b.to_string()),
                _ => return None,
            },
        }
    }
    (!text.trim().is_empty()).then_some(Value::String(text))
}

/// Sets `value` at `path`, creating objects on the way (an existing member of another
/// spelling is reused).
fn set_path(target: &mut Value, path: &[String], value: Value) {
    let Some((last, steps)) = path.split_last() else {
        return;
    };
    let mut current = target;
    for step in steps {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(map) = current else {
            return;
        };
        let key = existing_key(map, step);
        current = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    }
    if !current.is_object() {
        *current = Value::Object(Map::new());
    }
    if let Value::Object(map) = current {
        let key = existing_key(map, last);
        map.insert(key, value);
    }
}

fn existing_key(map: &Map<String, Value>, name: &str) -> String {
    if map.contains_key(name) {
        return name.to_string();
    }
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults(config: Value) -> Result<Defaults, ConfigError> {
        let config: BTreeMap<String, BTreeMap<String, Value>> =
            serde_json::from_value(config).expect("shape");
        Defaults::parse("Powerofficego", &config)
    }

    #[test]
    fn alternatives_apply_in_order_and_mapped_values_win() {
        let d = defaults(json!({
            "Customers person": {"Name": ["{FirstName} {LastName}", "{emailAddress}", "Person {$ref}"]},
        }))
        .expect("defaults");
        let full = json!({"FirstName": "Ada", "LastName": "Lovelace"});
        assert_eq!(
            d.apply("customers PERSON", &full, Some("AB12")),
            json!({"FirstName": "Ada", "LastName": "Lovelace", "Name": "Ada Lovelace"})
        );
        let email_only = json!({"EmailAddress": "ada@x.no", "LastName": " "});
        assert_eq!(
            d.apply("Customers person", &email_only, Some("AB12"))["Name"],
            json!("ada@x.no")
        );
        assert_eq!(
            d.apply("Customers person", &json!({}), Some("AB12"))["Name"],
            json!("Person AB12")
        );
        // Without a reference the last alternative cannot apply: nothing is invented.
        assert_eq!(d.apply("Customers person", &json!({}), None), json!({}));
        let named = json!({"Name": "Given", "FirstName": "Ada", "LastName": "L"});
        assert_eq!(d.apply("Customers person", &named, Some("x")), named);
        // Another entity is left alone.
        assert_eq!(d.apply("Customers", &json!({}), Some("x")), json!({}));
    }

    #[test]
    fn constants_single_placeholders_and_nested_paths() {
        let d = defaults(json!({
            "Order": {"customer_id": "walk-in", "net_terms": 14, "paid": false,
                      "billing_address.country": "NO", "label": "{{{$ref}}}"},
            "Salesorders": {"CustomerReferenceContactPersonId": "{contact.id}"},
        }))
        .expect("defaults");
        let out = d.apply(
            "Order",
            &json!({"billing_address": {"City": "Oslo"}}),
            Some("R1"),
        );
        assert_eq!(
            out,
            json!({"customer_id": "walk-in", "net_terms": 14, "paid": false,
                   "billing_address": {"City": "Oslo", "country": "NO"}, "label": "{R1}"})
        );
        let out = d.apply("Salesorders", &json!({"Contact": {"Id": 42}}), None);
        assert_eq!(out["CustomerReferenceContactPersonId"], json!(42));
    }

    #[test]
    fn bad_defaults_name_their_key() {
        for (config, needle) in [
            (json!({"Order": {"customer_id": "{open"}}), "without its"),
            (json!({"Order": {"customer_id": "close}"}}), "without its"),
            (
                json!({"Order": {"customer_id": "{$who}"}}),
                "unknown placeholder",
            ),
            (json!({"Order": {"customer_id": []}}), "empty list"),
            (json!({"Order": {"customer_id": null}}), "null"),
            (
                json!({"Order": {"customer_id": {"a": 1}}}),
                "a list of those",
            ),
            (json!({"Order": {"a..b": "x"}}), "not a field path"),
            (json!({"Order": {"x": "{a..b}"}}), "not a field path"),
        ] {
            let error = defaults(config.clone()).expect_err("invalid");
            let text = error.to_string();
            assert!(text.contains("defaults.Order."), "{config}: {text}");
            assert!(text.contains(needle), "{config}: {text}");
        }
    }
}
