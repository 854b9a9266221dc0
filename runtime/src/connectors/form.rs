//! Chargebee's form encoding of JSON: nested objects as `card[first_name]=…`, arrays of
//! objects indexed per field as `order_line_items[unit_price][0]=…`, arrays of scalars as
//! `ids[0]=…`, booleans `true`/`false`.
//!
//! The format is ambiguous for shapes Chargebee does not use (an object holding an array
//! of scalars encodes like an array of objects); [`decode`] reads back the shapes it does
//! use: top-level scalars, objects of scalars, arrays of objects of scalars, arrays of
//! scalars.

use serde_json::{Map, Value};

/// What a JSON `null` becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// Left out (creates: nothing to set).
    Skip,
    /// An empty value (updates: Chargebee clears a field sent empty).
    Empty,
}

/// The form pairs of a JSON object (anything else encodes to nothing).
pub fn encode(value: &Value, nulls: Nulls) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Object(map) = value {
        for (key, member) in map {
            encode_value(&mut out, key.clone(), member, nulls);
        }
    }
    out
}

/// The pairs as an `application/x-www-form-urlencoded` body.
pub fn to_body(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn encode_value(out: &mut Vec<(String, String)>, key: String, value: &Value, nulls: Nulls) {
    match value {
        Value::Null => {
            if nulls == Nulls::Empty {
                out.push((key, String::new()));
            }
        }
        Value::Bool(b) => out.push((key, b.to_string())),
        Value::Number(n) => out.push((key, n.to_string())),
        Value::String(s) => out.push((key, s.clone())),
        Value::Object(map) => {
            for (field, member) in map {
                encode_value(out, format!("{key}[{field}]"), member, nulls);
            }
        }
        Value::Array(items) => {
            let objects = !items.is_empty() && items.iter().all(|i| i.is_object() || i.is_null());
            for (index, item) in items.iter().enumerate() {
                match item {
                    Value::Object(map) if objects => {
                        for (field, member) in map {
                            encode_value(out, format!("{key}[{field}][{index}]"), member, nulls);
                        }
                    }
                    Value::Null if objects => {}
                    _ => encode_value(out, format!("{key}[{index}]"), item, nulls),
                }
            }
        }
    }
}

/// Reads form pairs back into JSON (all scalars as strings).
pub fn decode(pairs: &[(String, String)]) -> Value {
    let mut root = Map::new();
    for (key, value) in pairs {
        let (name, steps) = split_key(key);
        let text = Value::String(value.clone());
        match steps.as_slice() {
            [] => {
                root.insert(name.to_string(), text);
            }
            [step] => match step.parse::<usize>() {
                Ok(index) => set_index(
                    root.entry(name.to_string())
                        .or_insert_with(|| Value::Array(Vec::new())),
                    index,
                    text,
                ),
                Err(_) => {
                    let object = root
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(map) = object {
                        map.insert((*step).to_string(), text);
                    }
                }
            },
            [field, index, ..] => {
                let Ok(index) = index.parse::<usize>() else {
                    continue;
                };
                let array = root
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = array {
                    while items.len() <= index {
                        items.push(Value::Object(Map::new()));
                    }
                    if let Some(Value::Object(element)) = items.get_mut(index) {
                        element.insert((*field).to_string(), text);
                    }
                }
            }
        }
    }
    Value::Object(root)
}

fn set_index(target: &mut Value, index: usize, value: Value) {
    if let Value::Array(items) = target {
        while items.len() <= index {
            items.push(Value::Null);
        }
        if let Some(slot) = items.get_mut(index) {
            *slot = value;
        }
    }
}

/// `a[b][0]` → (`a`, [`b`, `0`]).
fn split_key(key: &str) -> (&str, Vec<&str>) {
    let Some(open) = key.find('[') else {
        return (key, Vec::new());
    };
    let (name, mut rest) = key.split_at(open);
    let mut steps = Vec::new();
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { break };
        let (step, after) = inner.split_at(close);
        steps.push(step);
        rest = after.get(1..).unwrap_or("");
    }
    (name, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn encodes_chargebee_shapes() {
        let data = json!({
            "customer_id": "cust_1",
            "auto_collection": false,
            "card": {"first_name": "Ada", "last_name": null},
            "order_line_items": [{"unit_price": 100, "amount": 200}, {"unit_price": 5, "amount": 5}],
            "coupon_ids": ["A", "B"],
            "note": null
        });
        let pairs = encode(&data, Nulls::Skip);
        let mut sorted = pairs.clone();
        sorted.sort();
        let mut expected: Vec<(String, String)> = [
            ("auto_collection", "false"),
            ("card[first_name]", "Ada"),
            ("coupon_ids[0]", "A"),
            ("coupon_ids[1]", "B"),
            ("customer_id", "cust_1"),
            ("order_line_items[amount][0]", "200"),
            ("order_line_items[unit_price][0]", "100"),
            ("order_line_items[amount][1]", "5"),
            ("order_line_items[unit_price][1]", "5"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        expected.sort();
        assert_eq!(sorted, expected);
        let with_nulls = encode(&data, Nulls::Empty);
        assert!(with_nulls.contains(&("note".to_string(), String::new())));
        assert!(with_nulls.contains(&("card[last_name]".to_string(), String::new())));
        let body = to_body(&pairs);
        assert!(
            body.contains("order_line_items%5Bunit_price%5D%5B0%5D=100"),
            "{body}"
        );
    }

    fn stringify(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), stringify(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(stringify).collect()),
            Value::Bool(b) => Value::String(b.to_string()),
            Value::Number(n) => Value::String(n.to_string()),
            other => other.clone(),
        }
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            ".{0,12}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ]
    }

    fn fields() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map("[a-z_]{1,8}", scalar(), 1..4)
            .prop_map(|m| m.into_iter().collect())
    }

    fn member() -> impl Strategy<Value = Value> {
        prop_oneof![
            scalar(),
            fields().prop_map(Value::Object),
            prop::collection::vec(fields().prop_map(Value::Object), 1..4).prop_map(Value::Array),
            prop::collection::vec(scalar(), 1..4).prop_map(Value::Array),
        ]
    }

    proptest! {
        #[test]
        fn round_trips_through_a_urlencoded_body(record in prop::collection::btree_map("[a-z_]{1,10}", member(), 0..6)) {
            let record = Value::Object(record.into_iter().collect());
            let body = to_body(&encode(&record, Nulls::Skip));
            let pairs: Vec<(String, String)> =
                form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            prop_assert_eq!(decode(&pairs), stringify(&record));
        }
    }
}
