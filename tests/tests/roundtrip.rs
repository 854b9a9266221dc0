//! Forward then inverse gives back every mapped property, for every generated flow of
//! the five documents (`dataflows`, the build-script mode) and of the shop test set (the
//! macro mode), with arbitrary values per documented type and references translated by a
//! `Links` holding both directions.
//!
//! Where several rows write one property, only the first row (the one whose value wins)
//! can come back; later rows into the same property are not checked.

use std::collections::BTreeMap;
use std::sync::Mutex;

use flowgen_codegen::naming::is_list_segment;
use flowgen_runtime::{EntityKey, Links, RecordId, Registry};
use flowgen_spec::{DataType, Spec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

mod shop {
    flowgen_macros::dataflows!("fixtures/shop");

    pub struct Always;

    impl Conditions for Always {
        fn the_order_is_paid(&self, _: &shop::Order) -> bool {
            true
        }

        fn the_person_is_not_a_duplicate(&self, _: &shop::CustomersPerson2) -> bool {
            true
        }
    }
}

/// Links as a bijection per entity pair: every id seen gets a partner, both directions.
#[derive(Default)]
struct TwoWayLinks {
    pairs: Mutex<BTreeMap<(EntityKey, RecordId, EntityKey), RecordId>>,
}

impl Links for TwoWayLinks {
    fn linked(&self, from: EntityKey, id: &RecordId, to: EntityKey) -> Option<RecordId> {
        let mut pairs = self.pairs.lock().ok()?;
        if let Some(found) = pairs.get(&(from, id.clone(), to)) {
            return Some(found.clone());
        }
        let partner = RecordId::Text(format!("{to}#{from}#{id}"));
        pairs.insert((from, id.clone(), to), partner.clone());
        pairs.insert((to, partner.clone(), from), id.clone());
        Some(partner)
    }
}

/// What to generate for a source property.
#[derive(Debug, Clone, Copy)]
enum Gen {
    Text,
    Integer,
    Float,
    Boolean,
    Reference,
}

fn gen_for(spec: &Spec, flow: &flowgen_spec::Flow, row: &flowgen_spec::Property) -> Gen {
    let catalog = |side: &flowgen_spec::Endpoint, path: &str| {
        spec.entity(&side.system, &side.entity)
            .and_then(|e| e.properties.get(path))
            .cloned()
    };
    let source = catalog(&flow.source, &row.source);
    let target = catalog(&flow.target, &row.target);
    if source.as_ref().is_some_and(|p| p.reference.is_some()) {
        return Gen::Reference;
    }
    // An unknown source type takes the target's (the value must convert back exactly).
    let ty = source.and_then(|p| p.ty).or(target.and_then(|p| p.ty));
    match ty {
        Some(DataType::Integer) => Gen::Integer,
        Some(DataType::Float) => Gen::Float,
        Some(DataType::Boolean) => Gen::Boolean,
        _ => Gen::Text,
    }
}

fn value(g: Gen) -> BoxedStrategy<Value> {
    match g {
        Gen::Text => "[ -~]{0,12}".prop_map(Value::from).boxed(),
        Gen::Integer => any::<i64>().prop_map(Value::from).boxed(),
        Gen::Float => (-1.0e12f64..1.0e12).prop_map(Value::from).boxed(),
        Gen::Boolean => any::<bool>().prop_map(Value::from).boxed(),
        Gen::Reference => prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z0-9]{1,8}".prop_map(Value::from)
        ]
        .boxed(),
    }
}

/// Sets `path` in a JSON record (objects for segments, a one-element list for list segments).
fn set(record: &mut Map<String, Value>, path: &str, v: Value) {
    let segments: Vec<&str> = path.split('.').collect();
    let Some((leaf, parents)) = segments.split_last() else {
        return;
    };
    let mut here = record;
    for segment in parents {
        let slot = here.entry(segment.to_string()).or_insert_with(|| {
            if is_list_segment(segment) {
                Value::Array(vec![Value::Object(Map::new())])
            } else {
                Value::Object(Map::new())
            }
        });
        let next = match slot {
            Value::Array(items) => items.first_mut(),
            other => Some(other),
        };
        here = match next {
            Some(Value::Object(map)) => map,
            _ => return,
        };
    }
    here.insert(leaf.to_string(), v);
}

fn get<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    let mut here = record;
    for segment in path.split('.') {
        here = match here {
            Value::Array(items) => items.first()?.get(segment)?,
            other => other.get(segment)?,
        };
    }
    Some(here)
}

fn check_registry(spec: &Spec, registry: &Registry) {
    assert!(!registry.is_empty());
    let mut checked = 0;
    for flow in registry.flows() {
        let info = flow.info();
        let documented = spec
            .flows
            .iter()
            .find(|f| {
                f.source.system == info.source.system
                    && f.source.entity == info.source.entity
                    && f.target.system == info.target.system
                    && f.target.entity == info.target.entity
            })
            .expect("every registered flow is documented");
        // The rows whose values must come back: the first row into each target property,
        // and of those the first from each source property.
        let mut rows: Vec<&flowgen_spec::Property> = Vec::new();
        for row in &documented.properties {
            if !rows
                .iter()
                .any(|r| r.target == row.target || r.source == row.source)
            {
                rows.push(row);
            }
        }
        let strategies: Vec<(String, BoxedStrategy<Value>)> = rows
            .iter()
            .map(|row| (row.source.clone(), value(gen_for(spec, documented, row))))
            .collect();
        let mut runner = TestRunner::new(Config {
            cases: 64,
            ..Config::default()
        });
        let names: Vec<String> = strategies.iter().map(|(n, _)| n.clone()).collect();
        let strategy: Vec<BoxedStrategy<Value>> = strategies.into_iter().map(|(_, s)| s).collect();
        runner
            .run(&strategy, |values| {
                let mut record = Map::new();
                for (path, v) in names.iter().zip(&values) {
                    set(&mut record, path, v.clone());
                }
                let source = Value::Object(record);
                let links = TwoWayLinks::default();
                let target = flow
                    .forward_json(&source, &links)
                    .map_err(|e| TestCaseError::fail(format!("{}: forward: {e}", info.name)))?;
                let back = flow
                    .inverse_json(&target, &links)
                    .map_err(|e| TestCaseError::fail(format!("{}: inverse: {e}", info.name)))?;
                for (path, v) in names.iter().zip(&values) {
                    prop_assert_eq!(
                        get(&back, path),
                        Some(v),
                        "{}: `{}` did not come back (target {})",
                        info.name,
                        path,
                        target
                    );
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}"));
        checked += rows.len();
    }
    assert!(checked > 0, "some mapped property was checked");
}

fn spec_of(folder: &str) -> Spec {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    flowgen_spec::build_spec(&flowgen_spec::load(&[root]).expect("documents load"))
}

#[test]
fn five_documents_map_forward_and_back() {
    check_registry(&spec_of("../generated/dataflows"), &dataflows::registry());
}

#[test]
fn shop_test_set_maps_forward_and_back() {
    check_registry(&spec_of("fixtures/shop"), &shop::registry(shop::Always));
}

#[test]
fn a_missing_link_defers_the_record() {
    use flowgen_runtime::{Flow, MapError, NoLinks, Ref};
    let order = shop::shop::Order {
        customer_id: Some(Ref::new("c1")),
        ..Default::default()
    };
    let flow = shop::flows::ShopOrderToLedgerSalesorders::new(std::sync::Arc::new(shop::Always));
    assert!(matches!(
        flow.forward(&order, &NoLinks),
        Err(MapError::Unlinked {
            property: "customer_id",
            ..
        })
    ));
    assert_eq!(flow.references(&order).len(), 1);
}
