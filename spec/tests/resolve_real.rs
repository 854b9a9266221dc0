//! The five real documents, read and resolved end to end.

use flowgen_spec::{Create, Endpoint, Severity, Spec, build_spec, load};

fn spec() -> Spec {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../generated/dataflows");
    let sources = load(&[dir]).expect("the five documents load");
    build_spec(&sources)
}

fn ep(system: &str, entity: &str) -> Endpoint {
    Endpoint {
        system: system.into(),
        entity: entity.into(),
    }
}

#[test]
fn no_errors_and_29_flows() {
    let spec = spec();
    let errors: Vec<String> = spec
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(spec.flows.len(), 29);
    assert_eq!(spec.documents.len(), 5);
}

#[test]
fn blank_target_resolves_to_chargebee_with_evidence() {
    let spec = spec();
    let doc = spec
        .documents
        .iter()
        .find(|d| d.file == "powerofficego-to-unnamed.rst")
        .unwrap();
    assert_eq!(doc.source_system, "Powerofficego");
    assert_eq!(doc.target_system, "Chargebee");
    let note = spec
        .diagnostics
        .iter()
        .find(|d| d.message.starts_with("blank target system"))
        .unwrap();
    assert_eq!(note.severity, Severity::Note);
    assert_eq!(
        note.message,
        "blank target system of powerofficego-to-unnamed.rst resolved to Chargebee: 4/4 entities, 5/10 properties match Chargebee"
    );
    assert_eq!(note.file.as_deref(), Some("powerofficego-to-unnamed.rst"));
    assert_eq!(note.line, Some(2));
    // The flows of that document name Chargebee, and none names a blank system.
    assert!(
        spec.flows
            .iter()
            .all(|f| !f.source.system.is_empty() && !f.target.system.is_empty())
    );
    assert!(
        spec.flows
            .iter()
            .any(|f| f.source == ep("Powerofficego", "Employees")
                && f.target == ep("Chargebee", "Customer"))
    );
}

#[test]
fn the_three_references() {
    let spec = spec();
    let reference =
        |s: &str, e: &str, p: &str| spec.entity(s, e).unwrap().properties[p].reference.clone();
    assert_eq!(
        reference("Chargebee", "Order", "customer_id").as_deref(),
        Some("Customer")
    );
    assert_eq!(
        reference("Powerofficego", "Salesorders", "CustomerId").as_deref(),
        Some("Customers")
    );
    assert_eq!(
        reference(
            "Powerofficego",
            "Salesorders",
            "CustomerReferenceContactPersonId"
        )
        .as_deref(),
        Some("Contactperson")
    );
    assert_eq!(reference("Chargebee", "Order", "currency_code"), None);
}

#[test]
fn five_inverse_pairs_pointing_back() {
    let spec = spec();
    let mut pairs = 0;
    for (i, f) in spec.flows.iter().enumerate() {
        if let Some(j) = f.inverse {
            let g = &spec.flows[j];
            assert_eq!(g.inverse, Some(i));
            assert_eq!((&g.source, &g.target), (&f.target, &f.source));
            if i < j {
                pairs += 1;
                assert_eq!(f.source.system, "Chargebee");
                assert_eq!(g.source.system, "Powerofficego");
            }
        }
    }
    assert_eq!(pairs, 5);
    // Item → Product has an empty table, Product → Item maps name → name.
    let w: Vec<_> = spec
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning && d.message.contains("not inverses"))
        .collect();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].message
            .contains("Chargebee Item → Powerofficego Product")
    );
    assert_eq!(w[0].related[0].file, "powerofficego-to-unnamed.rst");
}

#[test]
fn creation_rules_of_the_documents() {
    let spec = spec();
    let flow = |s: Endpoint, t: Endpoint| {
        spec.flows
            .iter()
            .find(|f| f.source == s && f.target == t)
            .unwrap()
    };
    let f = flow(
        ep("Chargebee", "Customer"),
        ep("Powerofficego", "Contactperson"),
    );
    assert_eq!(f.create, Create::WhenConnected);
    assert_eq!(f.connected_via, ["Order"]);
    let f = flow(
        ep("Powerofficego", "Customers"),
        ep("Chargebee", "Customer"),
    );
    assert_eq!(f.create, Create::WhenConnected);
    assert_eq!(f.connected_via, ["Salesorders", "Salesorderlines"]);
    assert_eq!(
        flow(ep("Chargebee", "Order"), ep("Powerofficego", "Salesorders")).create,
        Create::Always
    );
    assert!(spec.flows.iter().all(|f| f.create != Create::Never));
}

#[test]
fn catalog_types_stated_and_inferred() {
    let spec = spec();
    let p = |s: &str, e: &str, n: &str| spec.entity(s, e).unwrap().properties[n].clone();
    // Stated where it is a target (the blank-target document), used as a source elsewhere.
    let customer_id = p("Chargebee", "Order", "customer_id");
    assert_eq!(customer_id.ty, Some(flowgen_spec::DataType::String));
    assert!(customer_id.inferred);
    assert_eq!(customer_id.locations.len(), 4);
    assert_eq!(
        p("Powerofficego", "Salesorders", "CustomerId").ty,
        Some(flowgen_spec::DataType::Integer)
    );
    // Only ever a source: unknown.
    assert_eq!(p("Powerofficego", "Salesorderlines", "Quantity").ty, None);
    // Entities of empty tables and connected_via entities exist.
    assert!(spec.entity("Chargebee", "Business_entity").is_some());
    assert!(
        spec.entity("Webcrm", "Opportunities")
            .unwrap()
            .properties
            .is_empty()
    );
}

#[test]
fn the_required_cascade_is_listed() {
    let spec = spec();
    let wanted = vec![
        ep("Powerofficego", "Employees"),
        ep("Chargebee", "Customer"),
        ep("Powerofficego", "Customers person"),
    ];
    assert!(
        spec.cascades.iter().any(|c| c.chain == wanted && !c.cycle),
        "{:#?}",
        spec.cascades
    );
    assert!(spec.cascades.iter().all(|c| c.chain.len() >= 3));
    let notes = spec
        .diagnostics
        .iter()
        .filter(|d| d.message.starts_with("cascade:"))
        .count();
    assert_eq!(notes, spec.cascades.len());
}

#[test]
fn fan_in_into_customer_id_is_noted() {
    let spec = spec();
    let note = spec
        .diagnostics
        .iter()
        .find(|d| d.message.contains("write `customer_id`"))
        .unwrap();
    assert_eq!(note.severity, Severity::Note);
    assert!(
        note.message
            .contains("first non-empty value in document order wins")
    );
    assert_eq!(note.related.len(), 1);
}
