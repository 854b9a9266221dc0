//! Dotted property paths over JSON values (`MailAddress.City`, `order_line_items.unit_price`).
//!
//! A path step into an array applies to each element, as the documents use
//! `order_line_items.unit_price` for a property of every line.

use serde_json::{Map, Value};

/// The value at `path`, `Null` when absent; through arrays, an array of the elements' values.
pub fn lookup(value: &Value, path: &str) -> Value {
    lookup_steps(value, &path.split('.').collect::<Vec<_>>())
}

fn lookup_steps(value: &Value, steps: &[&str]) -> Value {
    let Some((first, rest)) = steps.split_first() else {
        return value.clone();
    };
    match value {
        Value::Object(map) => match map.get(*first) {
            Some(inner) => lookup_steps(inner, rest),
            None => Value::Null,
        },
        Value::Array(items) => Value::Array(items.iter().map(|i| lookup_steps(i, steps)).collect()),
        _ => Value::Null,
    }
}

/// Whether a value counts as empty for matching: null, `""`, `[]`, `{}`, or an array of
/// empty values.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.iter().all(is_empty),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Merges `patch` into `target`: objects merge key by key, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                match t.get_mut(key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// `value` without null members (recursively), for create payloads.
pub fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// [`strip_nulls`], reusing `value`'s allocations.
pub fn strip_nulls_owned(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls_owned(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls_owned).collect()),
        other => other,
    }
}

/// A set of dotted paths, compiled into a tree so that projecting a record walks it once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    children: Vec<(String, Projection)>,
}

impl Projection {
    /// The projection onto `paths` (duplicates and prefixes of longer paths are fine).
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let mut root = Projection::default();
        for path in paths {
            let mut node = &mut root;
            for step in path.split('.') {
                let index = match node.children.iter().position(|(name, _)| name == step) {
                    Some(i) => i,
                    None => {
                        node.children
                            .push((step.to_string(), Projection::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[index].1;
            }
        }
        root.sort();
        root
    }

    fn sort(&mut self) {
        self.children.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, child) in &mut self.children {
            child.sort();
        }
    }

    /// Whether no path was given (the flow maps no property).
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The number of top-level property names.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// The top-level properties and their sub-projections, sorted by name (a leaf has
    /// none).
    pub fn children(&self) -> impl Iterator<Item = (&str, &Projection)> {
        self.children.iter().map(|(name, p)| (name.as_str(), p))
    }

    /// The top-level property names.
    pub fn roots(&self) -> impl Iterator<Item = &str> {
        self.children.iter().map(|(name, _)| name.as_str())
    }

    /// `value` reduced to the paths: every path present (`null` when absent), nothing else.
    /// With no paths, the empty object.
    pub fn project(&self, value: &Value) -> Value {
        if self.children.is_empty() {
            return Value::Object(Map::new());
        }
        self.project_node(value)
    }

    /// [`Projection::project`], moving the values kept out of `value` instead of copying
    /// them.
    pub fn project_owned(&self, value: Value) -> Value {
        if self.children.is_empty() {
            return Value::Object(Map::new());
        }
        self.project_node_owned(value)
    }

    fn project_node_owned(&self, value: Value) -> Value {
        if self.children.is_empty() {
            return value;
        }
        match value {
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|i| self.project_node_owned(i))
                    .collect(),
            ),
            Value::Object(mut map) => {
                let mut out = Map::new();
                for (name, child) in &self.children {
                    match map.remove_entry(name.as_str()) {
                        Some((key, inner)) => {
                            out.insert(key, child.project_node_owned(inner));
                        }
                        None => {
                            out.insert(name.clone(), Value::Null);
                        }
                    }
                }
                Value::Object(out)
            }
            _ => self.nulls(),
        }
    }

    /// Every child present and null: the projection of a value that is not an object.
    fn nulls(&self) -> Value {
        Value::Object(
            self.children
                .iter()
                .map(|(name, _)| (name.clone(), Value::Null))
                .collect(),
        )
    }

    fn project_node(&self, value: &Value) -> Value {
        if self.children.is_empty() {
            // A leaf: the whole value at the end of a path.
            return value.clone();
        }
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| self.project_node(i)).collect())
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (name, child) in &self.children {
                    let inner = map.get(name).map_or(Value::Null, |v| child.project_node(v));
                    out.insert(name.clone(), inner);
                }
                Value::Object(out)
            }
            _ => self.nulls(),
        }
    }

    /// The paths where `old` and `new` (both projected) differ, with both values.
    pub fn diff(&self, old: &Value, new: &Value) -> Vec<(String, Value, Value)> {
        let mut out = Vec::new();
        self.diff_into("", old, new, &mut out);
        out
    }

    fn diff_into(
        &self,
        prefix: &str,
        old: &Value,
        new: &Value,
        out: &mut Vec<(String, Value, Value)>,
    ) {
        if self.children.is_empty() || old.is_array() || new.is_array() {
            if old != new {
                out.push((prefix.to_string(), old.clone(), new.clone()));
            }
            return;
        }
        for (name, child) in &self.children {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let o = old.get(name).unwrap_or(&Value::Null);
            let n = new.get(name).unwrap_or(&Value::Null);
            child.diff_into(&path, o, n, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_objects_and_arrays() {
        let v = json!({"a": {"b": 1}, "lines": [{"p": 1}, {"p": 2}, {}]});
        assert_eq!(lookup(&v, "a.b"), json!(1));
        assert_eq!(lookup(&v, "a.c"), Value::Null);
        assert_eq!(lookup(&v, "lines.p"), json!([1, 2, null]));
        assert_eq!(lookup(&v, "a.b.c"), Value::Null);
    }

    #[test]
    fn empty_values() {
        assert!(is_empty(&json!(null)));
        assert!(is_empty(&json!("  ")));
        assert!(is_empty(&json!([null, ""])));
        assert!(!is_empty(&json!(0)));
        assert!(!is_empty(&json!("x")));
    }

    #[test]
    fn merge_keeps_unpatched_members() {
        let mut t = json!({"a": 1, "n": {"x": 1, "y": 2}});
        merge(&mut t, &json!({"n": {"y": 3}, "b": [1]}));
        assert_eq!(t, json!({"a": 1, "b": [1], "n": {"x": 1, "y": 3}}));
    }

    #[test]
    fn projection_keeps_exactly_the_paths() {
        let p = Projection::new(["email", "addr.city", "lines.price", "addr.zip"]);
        let v = json!({"email": "a", "other": 1, "addr": {"city": "Oslo", "street": "x"},
                       "lines": [{"price": 1, "sku": "s"}]});
        assert_eq!(
            p.project(&v),
            json!({"email": "a", "addr": {"city": "Oslo", "zip": null}, "lines": [{"price": 1}]})
        );
        assert_eq!(
            p.project(&json!({})),
            json!({"addr": null, "email": null, "lines": null})
        );
        assert_eq!(Projection::new([]).project(&v), json!({}));
        for value in [v.clone(), json!({}), json!(3), json!([{"addr": "x"}, {}])] {
            assert_eq!(p.project_owned(value.clone()), p.project(&value));
            assert_eq!(Projection::new([]).project_owned(value), json!({}));
        }
        let diff = p.diff(&p.project(&v), &p.project(&json!({"email": "b"})));
        assert_eq!(
            diff,
            vec![
                ("addr.city".to_string(), json!("Oslo"), Value::Null),
                ("email".to_string(), json!("a"), json!("b")),
                ("lines".to_string(), json!([{"price": 1}]), Value::Null),
            ]
        );
    }

    #[test]
    fn strip_nulls_removes_members_only() {
        assert_eq!(
            strip_nulls(&json!({"a": null, "b": [null, {"c": null}]})),
            json!({"b": [null, {}]})
        );
        assert_eq!(
            strip_nulls_owned(json!({"a": null, "b": [null, {"c": null, "d": 1}]})),
            json!({"b": [null, {"d": 1}]})
        );
    }
}
