//! The five real documents read without errors, with the expected sections and values.

use flowgen_spec::ast::{Document, Section};
use flowgen_spec::read::read_document;
use flowgen_spec::{DataType, Severity};

fn real(name: &str) -> Document {
    let path = format!(
        "{}/../generated/dataflows/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (document, diagnostics) = read_document(name, &bytes);
    let noisy: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity >= Severity::Warning)
        .map(ToString::to_string)
        .collect();
    assert!(noisy.is_empty(), "{name}: {noisy:#?}");
    document.unwrap_or_else(|| panic!("{name} read nothing"))
}

fn headings(d: &Document) -> Vec<(String, String)> {
    d.sections
        .iter()
        .map(|s| (s.source_entity.value.clone(), s.target_entity.value.clone()))
        .collect()
}

fn at(s: &Section) -> (u32, u32) {
    (s.location.line, s.location.column)
}

#[test]
fn section_counts() {
    let counts: Vec<usize> = [
        "chargebee-to-powerofficego.rst",
        "customerp-to-chargebee.rst",
        "customwebshop-to-chargebee.rst",
        "webcrm-to-chargebee.rst",
        "powerofficego-to-unnamed.rst",
    ]
    .iter()
    .map(|n| real(n).sections.len())
    .collect();
    assert_eq!(counts, [5, 6, 3, 6, 9]);
    assert_eq!(counts.iter().sum::<usize>(), 29);
}

#[test]
fn chargebee_to_powerofficego() {
    let d = real("chargebee-to-powerofficego.rst");
    assert_eq!(d.title.value, "Chargebee to Powerofficego Dataflow");
    assert_eq!(
        (
            d.source_system.value.as_str(),
            d.target_system.value.as_str()
        ),
        ("Chargebee", "Powerofficego")
    );
    assert_eq!(
        (
            d.target_system.location.line,
            d.target_system.location.column
        ),
        (2, 14)
    );
    let generated = d.generated.as_ref().unwrap();
    assert_eq!(generated.value, "2024-09-09T00:00:00");
    assert_eq!(
        (generated.location.line, generated.location.column),
        (5, 12)
    );
    assert_eq!(
        headings(&d),
        [
            ("Customer", "Contactperson"),
            ("Customer", "Customers"),
            ("Customer", "Customers person"),
            ("Item", "Product"),
            ("Order", "Salesorders"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let first = &d.sections[0];
    assert_eq!(at(first), (12, 1));
    assert!(
        first.link_required.is_some() && first.every.is_none() && first.bidirectional.is_some()
    );
    assert_eq!(first.connected_via.len(), 1);
    assert_eq!(first.connected_via[0].value, "Order");
    assert_eq!(
        (
            first.connected_via[0].location.line,
            first.connected_via[0].location.column
        ),
        (16, 111)
    );
    assert_eq!(first.property_rows.len(), 3);
    let email = &first.property_rows[0];
    assert_eq!(
        (email.source.value.as_str(), email.target.value.as_str()),
        ("email", "emailAddress")
    );
    assert_eq!(email.ty.value, Some(DataType::String));
    assert_eq!((email.location.line, email.location.column), (28, 4));
    assert_eq!(
        (email.target.location.line, email.target.location.column),
        (29, 8)
    );
    assert_eq!((email.ty.location.line, email.ty.location.column), (30, 8));
    assert_eq!(
        first.property_table.as_ref().map(|l| (l.line, l.column)),
        Some((22, 1))
    );
    // An empty table: a header and no rows.
    assert!(d.sections[1].property_rows.is_empty());
    assert!(d.sections[1].property_table.is_some());
    let order = &d.sections[4];
    assert!(order.every.is_some());
    let types: Vec<_> = order
        .property_rows
        .iter()
        .map(|r| (r.target.value.as_str(), r.ty.value))
        .collect();
    assert_eq!(
        types,
        [
            ("CurrencyCode", Some(DataType::String)),
            ("CustomerId", Some(DataType::Integer)),
            ("CustomerReferenceContactPersonId", Some(DataType::Integer)),
        ]
    );
}

#[test]
fn powerofficego_to_blank() {
    let d = real("powerofficego-to-unnamed.rst");
    assert_eq!(d.target_system.value, "");
    assert_eq!(d.sections.len(), 9);
    let customers = &d.sections[1];
    assert_eq!(
        (
            customers.source_entity.value.as_str(),
            customers.target_entity.value.as_str()
        ),
        ("Customers", "Customer")
    );
    assert_eq!(
        (
            customers.target_entity.location.line,
            customers.target_entity.location.column
        ),
        (37, 29)
    );
    assert_eq!(customers.target_spelling, None);
    let via: Vec<&str> = customers
        .connected_via
        .iter()
        .map(|z| z.value.as_str())
        .collect();
    assert_eq!(via, ["Salesorders", "Salesorderlines"]);
    assert_eq!(customers.connected_via[1].location.column, 118);
    let lines = &d.sections[5];
    assert_eq!(lines.source_entity.value, "Salesorderlines");
    let targets: Vec<&str> = lines
        .property_rows
        .iter()
        .map(|r| r.target.value.as_str())
        .collect();
    assert_eq!(
        targets,
        [
            "order_line_items.unit_price",
            "order_line_items.amount",
            "order_line_items.tax_amount"
        ]
    );
    assert_eq!(d.sections[6].source_entity.value, "Customers person");
}

#[test]
fn the_others() {
    let d = real("customerp-to-chargebee.rst");
    assert_eq!(d.generated.unwrap().value, "2024-09-10T15:43:43");
    assert_eq!(d.sections[1].target_entity.value, "Business_entity");
    assert!(
        d.sections
            .iter()
            .all(|s| s.every.is_some() && s.bidirectional.is_some() && s.property_rows.is_empty())
    );
    let d = real("webcrm-to-chargebee.rst");
    assert_eq!(d.sections[5].source_entity.value, "Products");
    assert_eq!(at(&d.sections[5]), (92, 1));
    let d = real("customwebshop-to-chargebee.rst");
    assert_eq!(d.sections[2].target_entity.value, "Item");
}
