//! An interpreter of a flow's spec over `serde_json::Value`: the mapping the generated typed
//! code does, done by walking [`FlowInfo::properties`] at run time. It is the benchmark peer
//! of the generated code (BENCHMARKS.md), and a [`DynFlow`] for flows that have no
//! generated code (a document read at run time).

use serde_json::{Map, Number, Value};

use crate::flow::{DynFlow, FlowInfo, Links, MapError, PropertyInfo, Reference};
use crate::json_path;

/// A flow driven by its spec.
#[derive(Debug, Clone, Copy)]
pub struct Interpreter {
    info: &'static FlowInfo,
}

impl Interpreter {
    pub fn new(info: &'static FlowInfo) -> Self {
        Interpreter { info }
    }

    fn map(&self, input: &Value, links: &dyn Links, inverse: bool) -> Result<Value, MapError> {
        if !input.is_object() {
            let entity = if inverse {
                self.info.target
            } else {
                self.info.source
            };
            return Err(MapError::Invalid {
                entity,
                message: "a record must be a JSON object".into(),
            });
        }
        let mut out = Value::Object(Map::new());
        for p in self.info.properties {
            let (from, to) = if inverse {
                (p.target, p.source)
            } else {
                (p.source, p.target)
            };
            let value = json_path::lookup(input, from);
            if value.is_null() {
                // Several rows into one property: the first non-empty value wins.
                if json_path::lookup(&out, to).is_null() {
                    set(&mut out, to, Value::Null);
                }
                continue;
            }
            if !json_path::lookup(&out, to).is_null() {
                continue;
            }
            let (from_ref, to_ref) = if inverse {
                (p.target_reference, p.source_reference)
            } else {
                (p.source_reference, p.target_reference)
            };
            let value = match (from_ref, to_ref) {
                (Some(from_entity), Some(to_entity)) => {
                    let id = crate::flow::RecordId::from_json(&value).ok_or_else(|| {
                        MapError::Conversion {
                            property: p.target,
                            message: format!("{value} is not a record id"),
                        }
                    })?;
                    match links.linked(from_entity, &id, to_entity) {
                        Some(linked) => linked.to_json(),
                        None => {
                            return Err(MapError::Unlinked {
                                property: to_static(p, inverse),
                                from: from_entity,
                                id,
                                to: to_entity,
                            });
                        }
                    }
                }
                _ => {
                    let ty = if inverse { None } else { p.ty };
                    convert(value, ty, p)?
                }
            };
            set(&mut out, to, value);
        }
        Ok(out)
    }

    fn references(&self, input: &Value, inverse: bool) -> Vec<Reference> {
        let mut out = Vec::new();
        for p in self.info.properties {
            let (from, from_ref, to_ref) = if inverse {
                (p.target, p.target_reference, p.source_reference)
            } else {
                (p.source, p.source_reference, p.target_reference)
            };
            if let (Some(f), Some(t)) = (from_ref, to_ref)
                && let Some(id) = crate::flow::RecordId::from_json(&json_path::lookup(input, from))
            {
                out.push(Reference {
                    property: to_static(p, inverse),
                    from: f,
                    id,
                    to: t,
                });
            }
        }
        out
    }
}

fn to_static(p: &PropertyInfo, inverse: bool) -> &'static str {
    if inverse { p.source } else { p.target }
}

/// Converts a value to a documented type, as the generated code's field types do.
fn convert(value: Value, ty: Option<&str>, p: &PropertyInfo) -> Result<Value, MapError> {
    let fail = |message: String| MapError::Conversion {
        property: p.target,
        message,
    };
    Ok(match (ty, value) {
        (None, v) => v,
        (Some("string" | "date" | "datetime"), Value::String(s)) => Value::String(s),
        (Some("string"), Value::Number(n)) => Value::String(n.to_string()),
        (Some("string"), Value::Bool(b)) => Value::String(b.to_string()),
        (Some("integer"), Value::Number(n)) if n.is_i64() => Value::Number(n),
        (Some("integer"), Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| fail(format!("{s:?} is not an integer")))?,
        (Some("float" | "decimal"), Value::Number(n)) => Value::Number(n),
        (Some("float" | "decimal"), Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| fail(format!("{s:?} is not a number")))?,
        (Some("boolean"), Value::Bool(b)) => Value::Bool(b),
        (Some("boolean"), Value::String(s)) if s == "true" || s == "false" => {
            Value::Bool(s == "true")
        }
        (Some(ty), v) => return Err(fail(format!("{v} is not a {ty}"))),
    })
}

/// Sets `value` at a dotted path, creating objects on the way.
fn set(out: &mut Value, path: &str, value: Value) {
    let mut node = out;
    let mut steps = path.split('.').peekable();
    while let Some(step) = steps.next() {
        let Value::Object(map) = node else { return };
        if steps.peek().is_none() {
            map.insert(step.to_string(), value);
            return;
        }
        node = map
            .entry(step.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
    }
}

impl DynFlow for Interpreter {
    fn info(&self) -> &'static FlowInfo {
        self.info
    }

    fn forward_json(&self, source: &Value, links: &dyn Links) -> Result<Value, MapError> {
        self.map(source, links, false)
    }

    fn inverse_json(&self, target: &Value, links: &dyn Links) -> Result<Value, MapError> {
        self.map(target, links, true)
    }

    fn references_json(&self, source: &Value) -> Result<Vec<Reference>, MapError> {
        Ok(self.references(source, false))
    }

    fn inverse_references_json(&self, target: &Value) -> Result<Vec<Reference>, MapError> {
        Ok(self.references(target, true))
    }

    fn applies_json(&self, _source: &Value) -> Result<bool, MapError> {
        // A documented condition needs the embedding code; the interpreter has none.
        Ok(self.info.condition.is_none())
    }

    fn has_references(&self) -> bool {
        self.info
            .properties
            .iter()
            .any(|p| p.source_reference.is_some() || p.target_reference.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{CreatePolicy, EntityKey, NoLinks, RecordId};
    use proptest::prelude::*;
    use serde_json::json;

    const A: EntityKey = EntityKey {
        system: "A",
        entity: "Order",
    };
    const AC: EntityKey = EntityKey {
        system: "A",
        entity: "Customer",
    };
    const B: EntityKey = EntityKey {
        system: "B",
        entity: "Sale",
    };
    const BC: EntityKey = EntityKey {
        system: "B",
        entity: "Client",
    };

    const fn row(
        source: &'static str,
        target: &'static str,
        ty: Option<&'static str>,
    ) -> PropertyInfo {
        PropertyInfo {
            source,
            target,
            ty,
            source_reference: None,
            target_reference: None,
            location: "t",
        }
    }

    static INFO: FlowInfo = FlowInfo {
        name: "A Order -> B Sale",
        source: A,
        target: B,
        create: CreatePolicy::Always,
        connected_via: &[],
        condition: None,
        merge: false,
        match_rules: &[],
        properties: &[
            row("code", "Code", Some("string")),
            row("qty", "Lines.Quantity", Some("integer")),
            row("price", "Price", Some("float")),
            row("backup_code", "Code", Some("string")),
            PropertyInfo {
                source_reference: Some(AC),
                target_reference: Some(BC),
                ..row("customer_id", "ClientId", Some("integer"))
            },
        ],
        location: "t",
    };

    struct OneLink;
    impl Links for OneLink {
        fn linked(&self, from: EntityKey, id: &RecordId, to: EntityKey) -> Option<RecordId> {
            if from == AC && to == BC && *id == RecordId::from("c1") {
                Some(RecordId::Int(7))
            } else if from == BC && to == AC && *id == RecordId::Int(7) {
                Some(RecordId::from("c1"))
            } else {
                None
            }
        }
    }

    #[test]
    fn maps_converts_and_translates() {
        let i = Interpreter::new(&INFO);
        let src = json!({"code": null, "backup_code": "X", "qty": "3", "price": "1.5", "customer_id": "c1", "extra": 1});
        let out = i.forward_json(&src, &OneLink).expect("map");
        assert_eq!(
            out,
            json!({"Code": "X", "Lines": {"Quantity": 3}, "Price": 1.5, "ClientId": 7})
        );
        let refs = i.references_json(&src).expect("refs");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].to, BC);
        let back = i.inverse_json(&out, &OneLink).expect("inverse");
        assert_eq!(back["code"], "X");
        assert_eq!(back["qty"], 3);
        assert_eq!(back["customer_id"], "c1");
    }

    #[test]
    fn unlinked_and_bad_values_are_errors() {
        let i = Interpreter::new(&INFO);
        let e = i
            .forward_json(&json!({"customer_id": "c2"}), &OneLink)
            .expect_err("unlinked");
        assert!(matches!(e, MapError::Unlinked { .. }));
        let e = i
            .forward_json(&json!({"qty": "three"}), &NoLinks)
            .expect_err("conversion");
        assert!(matches!(
            e,
            MapError::Conversion {
                property: "Lines.Quantity",
                ..
            }
        ));
        assert!(i.forward_json(&json!([1]), &NoLinks).is_err());
    }

    proptest! {
        #[test]
        fn strings_map_unchanged(s in ".*") {
            let i = Interpreter::new(&INFO);
            let out = i.forward_json(&json!({"code": s.clone()}), &NoLinks).expect("map");
            prop_assert_eq!(&out["Code"], &json!(s));
        }
    }
}
