//! Chargebee's form encoding: `first_name=…`, nested `card[first_name]=…`, and arrays of
//! objects indexed per field, `order_line_items[unit_price][0]=…`. Parsed into a JSON tree
//! of strings, then typed by the schema.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::schema::{Field, FieldError, Ty, find_field};

#[derive(Debug)]
enum Entry {
    Scalar(String),
    Object(BTreeMap<String, String>),
    Rows(BTreeMap<usize, BTreeMap<String, String>>),
    List(BTreeMap<usize, String>),
}

/// Splits `a[b][0]` into `("a", ["b", "0"])`.
fn split_key(key: &str) -> Result<(&str, Vec<&str>), FieldError> {
    let Some(open) = key.find('[') else {
        return Ok((key, Vec::new()));
    };
    let (name, mut rest) = key.split_at(open);
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let inner = rest
            .strip_prefix('[')
            .and_then(|r| r.find(']').map(|close| (&r[..close], &r[close + 1..])))
            .ok_or_else(|| FieldError::new(key, "malformed parameter name: unbalanced brackets"))?;
        parts.push(inner.0);
        rest = inner.1;
    }
    if name.is_empty() {
        return Err(FieldError::new(key, "malformed parameter name"));
    }
    Ok((name, parts))
}

fn index(key: &str, s: &str) -> Result<usize, FieldError> {
    s.parse::<usize>()
        .ok()
        .filter(|i| *i < 10_000)
        .ok_or_else(|| FieldError::new(key, "array index must be a number below 10000"))
}

fn conflict(key: &str) -> FieldError {
    FieldError::new(
        key,
        "parameter used both as a value and as a nested object or array",
    )
}

/// Parses a form body into a JSON object whose leaves are strings.
pub(crate) fn parse(body: &[u8]) -> Result<Map<String, Value>, FieldError> {
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(body) {
        let (name, parts) = split_key(&key)?;
        if !entries.contains_key(name) {
            order.push(name.to_string());
        }
        let slot = entries.get_mut(name);
        match (parts.as_slice(), slot) {
            ([], None) => {
                entries.insert(name.to_string(), Entry::Scalar(value.into_owned()));
            }
            ([], Some(Entry::Scalar(s))) => *s = value.into_owned(),
            ([field], None) if field.parse::<usize>().is_err() => {
                entries.insert(
                    name.to_string(),
                    Entry::Object(BTreeMap::from([(field.to_string(), value.into_owned())])),
                );
            }
            ([field], Some(Entry::Object(o))) if field.parse::<usize>().is_err() => {
                o.insert(field.to_string(), value.into_owned());
            }
            ([i], None) => {
                let i = index(&key, i)?;
                entries.insert(
                    name.to_string(),
                    Entry::List(BTreeMap::from([(i, value.into_owned())])),
                );
            }
            ([i], Some(Entry::List(l))) => {
                l.insert(index(&key, i)?, value.into_owned());
            }
            ([field, i], None) => {
                let i = index(&key, i)?;
                let row = BTreeMap::from([(field.to_string(), value.into_owned())]);
                entries.insert(name.to_string(), Entry::Rows(BTreeMap::from([(i, row)])));
            }
            ([field, i], Some(Entry::Rows(rows))) => {
                rows.entry(index(&key, i)?)
                    .or_default()
                    .insert(field.to_string(), value.into_owned());
            }
            ([_, _, _, ..], _) => {
                return Err(FieldError::new(
                    key.as_ref(),
                    "parameters nest at most two levels",
                ));
            }
            _ => return Err(conflict(&key)),
        }
    }
    let mut out = Map::new();
    for name in order {
        let Some(entry) = entries.remove(&name) else {
            continue;
        };
        let value = match entry {
            Entry::Scalar(s) => Value::String(s),
            Entry::Object(o) => {
                Value::Object(o.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
            }
            Entry::Rows(rows) => Value::Array(
                rows.into_values()
                    .map(|r| {
                        Value::Object(r.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
                    })
                    .collect(),
            ),
            Entry::List(l) => Value::Array(l.into_values().map(Value::String).collect()),
        };
        out.insert(name, value);
    }
    Ok(out)
}

/// Types the string leaves of a parsed form by the schema (integers, booleans, numbers);
/// unknown names pass through as strings. Error paths use the form's own notation.
pub(crate) fn type_by_schema(
    fields: &'static [Field],
    input: Map<String, Value>,
) -> Result<Map<String, Value>, FieldError> {
    let mut out = Map::new();
    for (name, value) in input {
        let typed = match find_field(fields, &name, false) {
            Some(field) => typed(field.ty, value, &name)?,
            None => value,
        };
        out.insert(name, typed);
    }
    Ok(out)
}

fn typed(ty: Ty, value: Value, at: &str) -> Result<Value, FieldError> {
    match (ty, value) {
        (Ty::Str | Ty::Guid, v @ Value::String(_)) => Ok(v),
        (Ty::Int, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| FieldError::new(at, format!("{at} : invalid integer `{s}`"))),
        (Ty::Num, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| FieldError::new(at, format!("{at} : invalid number `{s}`"))),
        (Ty::Bool, Value::String(s)) => match s.as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(FieldError::new(
                at,
                format!("{at} : must be true or false, not `{s}`"),
            )),
        },
        (Ty::Obj(sub), Value::Object(o)) => {
            let mut out = Map::new();
            for (k, v) in o {
                let path = format!("{at}[{k}]");
                let t = match find_field(sub, &k, false) {
                    Some(f) => typed(f.ty, v, &path)?,
                    None => v,
                };
                out.insert(k, t);
            }
            Ok(Value::Object(out))
        }
        (Ty::Arr(sub), Value::Array(rows)) => {
            let mut out = Vec::with_capacity(rows.len());
            for (i, row) in rows.into_iter().enumerate() {
                let Value::Object(o) = row else {
                    return Err(FieldError::new(
                        at,
                        format!("{at} : expected {at}[field][{i}] parameters"),
                    ));
                };
                let mut typed_row = Map::new();
                for (k, v) in o {
                    let path = format!("{at}[{k}][{i}]");
                    let t = match find_field(sub, &k, false) {
                        Some(f) => typed(f.ty, v, &path)?,
                        None => v,
                    };
                    typed_row.insert(k, t);
                }
                out.push(Value::Object(typed_row));
            }
            Ok(Value::Array(out))
        }
        (Ty::Obj(_), _) => Err(FieldError::new(
            at,
            format!("{at} : expected {at}[field]=… parameters"),
        )),
        (Ty::Arr(_), _) => Err(FieldError::new(
            at,
            format!("{at} : expected {at}[field][index]=… parameters"),
        )),
        (_, other) => Err(FieldError::new(
            at,
            format!(
                "{at} : expected a plain value, got {}",
                crate::schema::kind(&other)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::schema::TableId;

    #[test]
    fn nested_and_indexed_parameters() {
        let body = b"first_name=Kari&billing_address%5Bcity%5D=Bergen&billing_address[zip]=5003\
&order_line_items[unit_price][1]=200&order_line_items[unit_price][0]=100&order_line_items[description][0]=A+b&ids[0]=x";
        let parsed = parse(body).unwrap();
        assert_eq!(
            Value::Object(parsed),
            json!({
                "first_name": "Kari",
                "billing_address": {"city": "Bergen", "zip": "5003"},
                "order_line_items": [{"unit_price": "100", "description": "A b"}, {"unit_price": "200"}],
                "ids": ["x"],
            })
        );
    }

    #[test]
    fn conflicts_and_bad_names_are_refused() {
        assert!(parse(b"a=1&a[b]=2").is_err());
        assert!(parse(b"a[b=1").is_err());
        assert!(parse(b"a[b][c][d]=1").is_err());
        assert!(parse(b"[x]=1").is_err());
    }

    #[test]
    fn typing_follows_the_schema() {
        let fields = TableId::CbOrder.def().fields;
        let parsed = parse(b"total=1200&order_line_items[unit_price][0]=100&order_line_items[is_shippable][0]=true&note=hi").unwrap();
        let typed = type_by_schema(fields, parsed).unwrap();
        assert_eq!(typed.get("total"), Some(&json!(1200)));
        assert_eq!(
            typed.get("order_line_items"),
            Some(&json!([{"unit_price": 100, "is_shippable": true}]))
        );
        let bad = type_by_schema(
            fields,
            parse(b"order_line_items[unit_price][0]=ten").unwrap(),
        )
        .unwrap_err();
        assert_eq!(bad.path, "order_line_items[unit_price][0]");
    }

    proptest! {
        #[test]
        fn any_body_parses_or_fails_cleanly(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&body);
        }

        #[test]
        fn encoded_scalars_round_trip(value in "\\PC{0,40}") {
            let body: String = form_urlencoded::Serializer::new(String::new()).append_pair("note", &value).finish();
            let parsed = parse(body.as_bytes()).unwrap();
            prop_assert_eq!(parsed.get("note"), Some(&Value::String(value)));
        }
    }
}
