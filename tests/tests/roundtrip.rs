//! Forward then inverse gives back every mapped property, for every generated flow of
//! the five documents (`dataflows`, the build-script mode) and of the shop test set (the
//! macro mode), with arbitrary values per documented type and references translated by a
//! `Links` holding both directions.
//!
//! Where several rows write one property, only the first row (the one whose value wins)
//! can come back; later rows into the same property are not checked.
//!
//! Paths through lists get lists of one to three elements per list level (nested lists
//! too), and every element must come back in its place. Where the path written has fewer
//! list levels than the path read, those extra levels hold one element (several different
//! values cannot go into one property: `a_list_into_one_property_*` tests that case).

use std::collections::BTreeMap;
use std::sync::Mutex;

use flowgen_codegen::naming::is_list_segment;
use flowgen_runtime::{EntityKey, Links, RecordId, Registry};
use flowgen_spec::{DataType, Spec};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};

mod lists {
    flowgen_macros::dataflows!("fixtures/lists");
}

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

/// List levels before the leaf of a path.
fn list_levels(path: &str) -> usize {
    let segments: Vec<&str> = path.split('.').collect();
    segments[..segments.len() - 1]
        .iter()
        .filter(|s| is_list_segment(s))
        .count()
}

/// Values for a path with `levels` list levels: nested arrays, one to three elements per
/// level for the first `varied` levels and one element below them.
fn tree(g: Gen, levels: usize, varied: usize) -> BoxedStrategy<Value> {
    if levels == 0 {
        return value(g);
    }
    let len = if varied > 0 { 1..4usize } else { 1..2usize };
    proptest::collection::vec(tree(g, levels - 1, varied.saturating_sub(1)), len)
        .prop_map(Value::Array)
        .boxed()
}

/// Sets `path` in a JSON record: objects for segments, and for list segments element `i`
/// of the list from element `i` of `values` (the nested arrays of [`tree`]).
fn set(record: &mut Map<String, Value>, path: &str, values: &Value) {
    let segments: Vec<&str> = path.split('.').collect();
    set_at(record, &segments, values);
}

fn set_at(record: &mut Map<String, Value>, segments: &[&str], values: &Value) {
    let Some((segment, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        record.insert(segment.to_string(), values.clone());
        return;
    }
    if !is_list_segment(segment) {
        let slot = record
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(map) = slot {
            set_at(map, rest, values);
        }
        return;
    }
    let Value::Array(elements) = values else {
        return;
    };
    let slot = record
        .entry(segment.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Value::Array(items) = slot else { return };
    for (i, element) in elements.iter().enumerate() {
        while items.len() <= i {
            items.push(Value::Object(Map::new()));
        }
        if let Value::Object(map) = &mut items[i] {
            set_at(map, rest, element);
        }
    }
}

/// The values along `path`, every list element in its place (`null` where absent).
fn get(record: &Value, path: &str) -> Value {
    let segments: Vec<&str> = path.split('.').collect();
    get_at(record, &segments)
}

fn get_at(here: &Value, segments: &[&str]) -> Value {
    let Some((segment, rest)) = segments.split_first() else {
        return here.clone();
    };
    match here.get(segment) {
        None | Some(Value::Null) => Value::Null,
        Some(inner) if rest.is_empty() => inner.clone(),
        Some(Value::Array(items)) => {
            Value::Array(items.iter().map(|item| get_at(item, rest)).collect())
        }
        Some(inner) => get_at(inner, rest),
    }
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
            .map(|row| {
                let levels = list_levels(&row.source);
                let varied = levels.min(list_levels(&row.target));
                (
                    row.source.clone(),
                    tree(gen_for(spec, documented, row), levels, varied),
                )
            })
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
                    set(&mut record, path, v);
                }
                let source = Value::Object(record);
                let links = TwoWayLinks::default();
                let target = flow
                    .forward_json(&source, &links)
                    .map_err(|e| TestCaseError::fail(format!("{}: forward: {e}", info.name)))?;
                let back = flow
                    .inverse_json(&target, &links)
                    .map_err(|e| TestCaseError::fail(format!("{}: inverse: {e}", info.name)))?;
                for path in &names {
                    prop_assert_eq!(
                        get(&back, path),
                        get(&source, path),
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
fn list_test_set_maps_forward_and_back() {
    check_registry(&spec_of("fixtures/lists"), &lists::registry());
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

fn order_to_invoice() -> (Registry, &'static str) {
    (lists::registry(), "Store Order -> Books Invoice")
}

#[test]
fn every_list_element_is_mapped_in_its_place_both_ways() {
    let (registry, name) = order_to_invoice();
    let flow = registry.get(name).expect("flow registered");
    let links = TwoWayLinks::default();
    let order = serde_json::json!({
        "number": "A-1",
        "currency": "NOK",
        "order_lines": [
            {"product_id": "p1", "quantity": 1, "sku": "S1"},
            {"product_id": "p2", "code": "C2"},
            {"quantity": 3, "sku": "S3", "code": "C3"}
        ],
        "shipments": [{"parcels": [{"weight": 1.5}, {"weight": 2.5}]}, {"parcels": [{"weight": 4.0}]}]
    });
    let invoice = flow.forward_json(&order, &links).expect("forward");
    let lines = invoice["InvoiceLines"].as_array().expect("a list");
    assert_eq!(lines.len(), 3, "one line per order line: {invoice}");
    assert_eq!(lines[0]["Quantity"], 1);
    assert_eq!(lines[2]["Quantity"], 3);
    // the second row into `Code` fills only what the first (`sku`) left empty
    assert_eq!(
        [&lines[0]["Code"], &lines[1]["Code"], &lines[2]["Code"]],
        ["S1", "C2", "S3"]
    );
    // references are translated per element, to different linked ids
    assert!(lines[0]["ItemId"].is_string() && lines[1]["ItemId"].is_string());
    assert_ne!(lines[0]["ItemId"], lines[1]["ItemId"]);
    assert!(lines[2].get("ItemId").is_none());
    // a single property written into a list lands in element 0
    assert_eq!(lines[0]["Currency"], "NOK");
    assert!(lines[1].get("Currency").is_none());
    assert_eq!(
        invoice["Deliveries"],
        serde_json::json!([{"Packages": [{"Weight": 1.5}, {"Weight": 2.5}]}, {"Packages": [{"Weight": 4.0}]}])
    );
    let references = flow.references_json(&order).expect("references");
    assert_eq!(
        references.len(),
        2,
        "one reference per element that has one"
    );

    let back = flow.inverse_json(&invoice, &links).expect("inverse");
    assert_eq!(back["order_lines"][0]["product_id"], "p1");
    assert_eq!(back["order_lines"][1]["product_id"], "p2");
    assert_eq!(back["order_lines"][2]["quantity"], 3);
    assert_eq!(back["currency"], "NOK");
    assert_eq!(back["shipments"], order["shipments"]);
    assert_eq!(
        flow.inverse_references_json(&invoice).expect("refs").len(),
        2
    );
}

#[test]
fn a_list_into_one_property_takes_the_value_its_elements_agree_on() {
    let (registry, name) = order_to_invoice();
    let flow = registry.get(name).expect("flow registered");
    let agreeing = serde_json::json!({"order_lines": [{"note": "gift"}, {}, {"note": "gift"}]});
    let invoice = flow.forward_json(&agreeing, &NoLinksJson).expect("forward");
    assert_eq!(invoice["Note"], "gift");
}

#[test]
fn a_list_into_one_property_with_different_values_is_a_conversion_error() {
    let (registry, name) = order_to_invoice();
    let flow = registry.get(name).expect("flow registered");
    let differing = serde_json::json!({"order_lines": [{"note": "gift"}, {"note": "rush"}]});
    let err = flow
        .forward_json(&differing, &NoLinksJson)
        .expect_err("two notes cannot become one");
    assert!(
        matches!(&err, flowgen_runtime::MapError::Conversion { property: "order_lines.note", message } if message.contains("2 different values")),
        "{err}"
    );
}

/// Links that never resolve (the cases above map no reference).
struct NoLinksJson;

impl Links for NoLinksJson {
    fn linked(&self, _: EntityKey, _: &RecordId, _: EntityKey) -> Option<RecordId> {
        None
    }
}
