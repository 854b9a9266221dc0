//! Value conversions between the APIs' types and the documents' types.
//!
//! Reading, records are handed to the engine in the documents' types: an API that keeps a
//! property as a number where the documents say `"string"` (Chargebee's amounts, typed
//! `"string"` by the PowerOffice Go document) gives its text, and numbers with no
//! fraction are integers (`7.0` → `7`, as .NET APIs write decimals), so that the same value
//! hashes the same whichever API it came from. Writing, each connector converts values
//! to its API's types ([`integer_field`], [`numeric_text`]) and refuses, as a permanent
//! failure naming the field, what its API cannot hold (`7.5` as a Chargebee amount).
//!
//! Conversions are lossless or not made: a value that does not fit its documented type is
//! left as it is, and the typed mapping reports it.

use std::collections::BTreeMap;

use serde_json::{Number, Value};

/// The data types a document states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocType {
    String,
    Integer,
    Float,
    Boolean,
    /// `decimal`, `date`, `datetime`: text types that accept numbers as they are.
    Text,
}

impl DocType {
    /// The type of a document's quoted type name; `None` for unknown names and `N/A`.
    pub fn parse(name: &str) -> Option<DocType> {
        match name.trim().trim_matches('"').to_ascii_lowercase().as_str() {
            "string" => Some(DocType::String),
            "integer" => Some(DocType::Integer),
            "float" => Some(DocType::Float),
            "boolean" => Some(DocType::Boolean),
            "decimal" | "date" | "datetime" => Some(DocType::Text),
            _ => None,
        }
    }
}

/// The documented type of each property of one entity, by dotted path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityTypes {
    paths: Vec<(Vec<String>, DocType)>,
}

impl EntityTypes {
    /// From `(dotted path, type name)` pairs; unknown type names are skipped.
    pub fn new<'a>(types: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut paths: Vec<(Vec<String>, DocType)> = types
            .into_iter()
            .filter_map(|(path, ty)| {
                Some((
                    path.split('.').map(str::to_string).collect(),
                    DocType::parse(ty)?,
                ))
            })
            .collect();
        paths.sort_by(|a, b| a.0.cmp(&b.0));
        paths.dedup_by(|a, b| a.0 == b.0);
        EntityTypes { paths }
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Converts the documented properties of `data` to their documented types.
    pub fn apply(&self, data: &mut Value) {
        for (path, ty) in &self.paths {
            convert_at(data, path, *ty);
        }
    }
}

/// Per entity (as the documents spell it), its [`EntityTypes`].
pub type DocumentTypes = BTreeMap<String, EntityTypes>;

fn convert_at(value: &mut Value, path: &[String], ty: DocType) {
    match value {
        Value::Array(items) => {
            for item in items {
                convert_at(item, path, ty);
            }
        }
        Value::Object(map) => {
            let Some((first, rest)) = path.split_first() else {
                return;
            };
            let key = if map.contains_key(first) {
                Some(first.clone())
            } else {
                map.keys().find(|k| k.eq_ignore_ascii_case(first)).cloned()
            };
            if let Some(inner) = key.and_then(|k| map.get_mut(&k)) {
                if rest.is_empty() {
                    convert_leaf(inner, ty);
                } else {
                    convert_at(inner, rest, ty);
                }
            }
        }
        _ => {}
    }
}

fn convert_leaf(value: &mut Value, ty: DocType) {
    if let Value::Array(items) = value {
        for item in items {
            convert_leaf(item, ty);
        }
        return;
    }
    let converted = match (ty, &*value) {
        (DocType::String, Value::Number(n)) => Some(Value::String(n.to_string())),
        (DocType::String, Value::Bool(b)) => Some(Value::String(b.to_string())),
        (DocType::Integer, Value::String(s)) => parse_integer(s).map(Value::from),
        (DocType::Float, Value::String(s)) => parse_number(s).map(Value::Number),
        (DocType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    if let Some(converted) = converted {
        *value = converted;
    }
}

/// Numbers without a fraction become integers, recursively (`7.0` → `7`): JSON does not
/// tell them apart, but equality of `serde_json` values and the hashes built on it do.
pub fn normalize_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(i) = integral(n) {
                *n = Number::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_numbers),
        Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

/// The integer a float holds exactly (|x| < 2^53), if it has no fraction.
fn integral(n: &Number) -> Option<i64> {
    if n.is_i64() || n.is_u64() {
        return None;
    }
    let f = n.as_f64()?;
    const EXACT: f64 = 9_007_199_254_740_992.0;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < EXACT).then_some(f as i64)
}

/// `"42"`, `" 42 "`, `"42.0"` → 42; anything with a fraction or not a number → `None`.
pub fn parse_integer(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(i) = text.parse::<i64>() {
        return Some(i);
    }
    let n = parse_number(text)?;
    integral(&n).or_else(|| n.as_i64())
}

/// A JSON number from text (`"7.5"`, `"-3"`); `None` for anything else.
pub fn parse_number(text: &str) -> Option<Number> {
    let text = text.trim();
    if text.is_empty() || !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return None;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) => Some(n),
        _ => None,
    }
}

/// What a value written into an integer field of an API becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum IntegerField {
    /// The value as the API's integer.
    Integer(i64),
    /// Not a number (or empty): left for the API to judge.
    Unchanged,
    /// A number with a fraction: the API cannot hold it.
    Fraction(String),
}

/// A value written into an integer field: numbers and numeric text without a fraction
/// (`7`, `7.0`, `"7"`, `"7.0"`) are the integer.
pub fn integer_field(value: &Value) -> IntegerField {
    let number = match value {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => parse_number(s),
        _ => None,
    };
    let Some(number) = number else {
        return IntegerField::Unchanged;
    };
    match number.as_i64().or_else(|| integral(&number)) {
        Some(i) => IntegerField::Integer(i),
        None => IntegerField::Fraction(number.to_string()),
    }
}

/// A value written into a numeric field: numeric text becomes the number.
pub fn numeric_text(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) => parse_number(s).map(Value::Number),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_take_the_documented_types() {
        let types = EntityTypes::new([
            ("order_line_items.unit_price", "\"string\""),
            ("order_line_items.amount", "string"),
            ("customer_id", "string"),
            ("count", "integer"),
            ("ratio", "float"),
            ("active", "boolean"),
            ("note", "string"),
            ("price", "decimal"),
            ("unknown", "N/A"),
        ]);
        let mut data = json!({
            "order_line_items": [{"unit_price": 700, "amount": 2}, {"unit_price": 7.5}],
            "customer_id": "cust_1", "Count": "12", "ratio": "0.25", "active": "TRUE",
            "note": true, "price": 12.5, "unknown": 3,
        });
        types.apply(&mut data);
        assert_eq!(
            data,
            json!({
                "order_line_items": [{"unit_price": "700", "amount": "2"}, {"unit_price": "7.5"}],
                "customer_id": "cust_1", "Count": 12, "ratio": 0.25, "active": true,
                "note": "true", "price": 12.5, "unknown": 3,
            })
        );
        // What does not fit is left for the typed mapping to report.
        let mut odd = json!({"count": "twelve", "active": "yes", "ratio": "x"});
        types.apply(&mut odd);
        assert_eq!(
            odd,
            json!({"count": "twelve", "active": "yes", "ratio": "x"})
        );
    }

    #[test]
    fn whole_numbers_become_integers() {
        let mut data =
            json!({"Quantity": 3.0, "Price": 99.5, "Lines": [{"n": -2.0}], "Big": 1e300, "Id": 7});
        normalize_numbers(&mut data);
        assert_eq!(
            data,
            json!({"Quantity": 3, "Price": 99.5, "Lines": [{"n": -2}], "Big": 1e300, "Id": 7})
        );
        assert_eq!(data["Quantity"], json!(3));
    }

    #[test]
    fn integer_fields_take_whole_numbers_only() {
        assert_eq!(integer_field(&json!(7)), IntegerField::Integer(7));
        assert_eq!(integer_field(&json!(7.0)), IntegerField::Integer(7));
        assert_eq!(integer_field(&json!("7.0")), IntegerField::Integer(7));
        assert_eq!(integer_field(&json!(" -12 ")), IntegerField::Integer(-12));
        assert_eq!(
            integer_field(&json!("7.5")),
            IntegerField::Fraction("7.5".into())
        );
        assert_eq!(integer_field(&json!("seven")), IntegerField::Unchanged);
        assert_eq!(integer_field(&json!(null)), IntegerField::Unchanged);
        assert_eq!(parse_integer("1e3"), Some(1000));
        assert_eq!(parse_integer("five"), None);
        assert_eq!(numeric_text(&json!("12.25")), Some(json!(12.25)));
        assert_eq!(numeric_text(&json!("12 apples")), None);
    }
}
