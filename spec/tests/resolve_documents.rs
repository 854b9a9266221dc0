//! Resolution over small documents written for one rule each (tests/documents/resolve/).

use flowgen_spec::{Create, DataType, Diagnostic, Endpoint, Severity, Spec, build_spec, load};

fn spec(folder: &str) -> Spec {
    let dir = format!(
        "{}/tests/documents/resolve/{folder}",
        env!("CARGO_MANIFEST_DIR")
    );
    let sources = load(&[dir]).expect("documents load");
    build_spec(&sources)
}

fn ep(system: &str, entity: &str) -> Endpoint {
    Endpoint {
        system: system.into(),
        entity: entity.into(),
    }
}

fn with<'s>(spec: &'s Spec, severity: Severity, text: &str) -> Vec<&'s Diagnostic> {
    spec.diagnostics
        .iter()
        .filter(|d| d.severity == severity && d.message.contains(text))
        .collect()
}

fn errors(spec: &Spec) -> Vec<String> {
    spec.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect()
}

fn flow(spec: &Spec, s: Endpoint, t: Endpoint) -> &flowgen_spec::Flow {
    spec.flows
        .iter()
        .find(|f| f.source == s && f.target == t)
        .unwrap_or_else(|| panic!("no flow {s} → {t}"))
}

#[test]
fn blank_target_and_blank_source_resolve_by_evidence() {
    let spec = spec("blank_systems");
    assert!(errors(&spec).is_empty(), "{:#?}", errors(&spec));
    let doc = |f: &str| spec.documents.iter().find(|d| d.file == f).unwrap();
    assert_eq!(doc("ledger-to-unnamed.rst").target_system, "Web Shop");
    assert_eq!(doc("unnamed-to-shop.rst").source_system, "Sales CRM");
    let target = with(
        &spec,
        Severity::Note,
        "blank target system of ledger-to-unnamed.rst",
    );
    assert_eq!(
        target[0].message,
        "blank target system of ledger-to-unnamed.rst resolved to Web Shop: 2/2 entities, 3/4 properties match Web Shop"
    );
    assert_eq!(
        (target[0].line, target[0].file.as_deref()),
        (Some(2), Some("ledger-to-unnamed.rst"))
    );
    // The blank source's connected_via entity (Deal) counts as one of its entities.
    let source = with(
        &spec,
        Severity::Note,
        "blank source system of unnamed-to-shop.rst",
    );
    assert!(
        source[0]
            .message
            .ends_with("resolved to Sales CRM: 1/2 entities, 1/1 properties match Sales CRM"),
        "{}",
        source[0].message
    );
    // Resolved names flow into flows, inverses and the catalog.
    let f = flow(
        &spec,
        ep("Ledger Pro", "Client"),
        ep("Web Shop", "Customer"),
    );
    assert!(f.inverse.is_some());
    assert!(spec.entity("Sales CRM", "Deal").is_some());
    assert!(spec.systems.keys().all(|s| !s.is_empty()));
}

#[test]
fn an_ambiguous_blank_is_an_error_asking_for_a_name() {
    let spec = spec("ambiguous");
    let e = with(
        &spec,
        Severity::Error,
        "blank target system of hub-to-unnamed.rst is ambiguous",
    );
    assert_eq!(e.len(), 1, "{:#?}", spec.diagnostics);
    assert!(
        e[0].message.contains("Alpha, Beta match equally well"),
        "{}",
        e[0].message
    );
    assert_eq!(e[0].line, Some(2));
    let help = e[0].help.as_deref().unwrap();
    assert!(
        help.contains("systems:\n  hub-to-unnamed.rst: { target: <System name> }"),
        "{help}"
    );
    assert!(spec.has_errors());
}

#[test]
fn overrides_win_over_evidence_and_change_references() {
    let spec = spec("overrides");
    assert!(errors(&spec).is_empty(), "{:#?}", errors(&spec));
    let doc = spec
        .documents
        .iter()
        .find(|d| d.file == "ledger-to-unnamed.rst")
        .unwrap();
    assert_eq!(doc.target_system, "Old Shop");
    let note = with(
        &spec,
        Severity::Note,
        "blank target system of ledger-to-unnamed.rst is Old Shop (named in overrides.yaml)",
    );
    assert!(
        note[0]
            .message
            .contains("the evidence alone would pick Web Shop")
    );
    assert_eq!(note[0].related[0].file, "overrides.yaml");
    // An entry for a file that is not there is a warning at the entry.
    let w = with(&spec, Severity::Warning, "`missing.rst`");
    assert_eq!(
        (w[0].file.as_deref(), w[0].line),
        (Some("overrides.yaml"), Some(5))
    );
    // Added: `buyer` refers to Customer; removed: `customer_id` is a plain value.
    let order = &spec.entity("Web Shop", "Order").unwrap().properties;
    assert_eq!(order["buyer"].reference.as_deref(), Some("Customer"));
    assert_eq!(order["customer_id"].reference, None);
    assert_eq!(order["external_id"].reference, None);
    assert_eq!(
        spec.entity("Old Shop", "Order").unwrap().properties["buyer"]
            .reference
            .as_deref(),
        Some("Customer")
    );
    // Ledger Pro's `client_id` is a reference by name; `buyer` now maps into it legally.
    assert_eq!(
        spec.entity("Ledger Pro", "Invoice").unwrap().properties["client_id"]
            .reference
            .as_deref(),
        Some("Client")
    );
    assert!(with(&spec, Severity::Warning, "raw").is_empty());
}

#[test]
fn unknown_override_keys_are_errors_with_location() {
    let spec = spec("bad_overrides");
    let e = with(&spec, Severity::Error, "unknown field `refrences`");
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].file.as_deref(), e[0].line, e[0].column),
        (Some("overrides.yaml"), Some(4), Some(1))
    );
    assert!(
        e[0].help
            .as_deref()
            .unwrap()
            .contains("`systems` and `references`")
    );
    // The documents are still resolved.
    assert_eq!(spec.flows.len(), 1);
}

#[test]
fn duplicate_sections_merge_with_warnings() {
    let spec = spec("duplicates");
    assert_eq!(spec.flows.len(), 2);
    let f = flow(&spec, ep("Alpha", "Customer"), ep("Beta", "Contact"));
    // a-to-b-extra.rst sorts before a-to-b.rst ('-' < '.'): its rows come first.
    let rows: Vec<(&str, &str)> = f
        .properties
        .iter()
        .map(|p| (p.source.as_str(), p.target.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("phone", "tel"),
            ("city", "town"),
            ("email", "mail"),
            ("name", "full_name")
        ]
    );
    assert_eq!(&*f.location.file, "a-to-b-extra.rst");
    assert_eq!(f.also_at.len(), 2);
    let w = with(&spec, Severity::Warning, "is described twice");
    assert_eq!(w.len(), 2);
    for d in &w {
        assert_eq!(d.related[0].file, "a-to-b-extra.rst");
        assert!(d.message.contains("a-to-b-extra.rst:12:1"));
    }
    assert_eq!(w[1].line, Some(53));
}

#[test]
fn inverse_disagreement_warns_with_both_locations() {
    let spec = spec("inverses");
    let w = with(&spec, Severity::Warning, "not inverses");
    assert_eq!(w.len(), 1, "the mirrored Customer/Contact pair is silent");
    assert!(
        w[0].message
            .contains("only Beta Product → Alpha Item maps `title` → `name`"),
        "{}",
        w[0].message
    );
    assert_eq!(
        (w[0].file.as_deref(), w[0].line),
        (Some("a-to-b.rst"), Some(34))
    );
    assert_eq!(
        (w[0].related[0].file.as_str(), w[0].related[0].line),
        ("b-to-a.rst", 34)
    );
    // Each direction keeps its own table.
    assert!(
        flow(&spec, ep("Alpha", "Item"), ep("Beta", "Product"))
            .properties
            .is_empty()
    );
    assert_eq!(
        flow(&spec, ep("Beta", "Product"), ep("Alpha", "Item"))
            .properties
            .len(),
        1
    );
}

#[test]
fn type_conflicts_and_inferred_types() {
    let spec = spec("types");
    let e = with(
        &spec,
        Severity::Error,
        "Beta Contact `years` is stated as \"float\" here and as \"integer\"",
    );
    assert_eq!(e.len(), 1, "{:#?}", spec.diagnostics);
    assert_eq!(
        (e[0].file.as_deref(), e[0].line),
        (Some("c-to-b.rst"), Some(28))
    );
    assert_eq!(
        (e[0].related[0].file.as_str(), e[0].related[0].line),
        ("a-to-b.rst", 31)
    );
    assert_eq!(
        e[0].help.as_deref(),
        Some("state one type for the property in every document")
    );
    let p = |s: &str, en: &str, n: &str| spec.entity(s, en).unwrap().properties[n].clone();
    // Stated in a-to-b.rst, only named in b-to-d.rst: inferred there.
    let mail = p("Beta", "Contact", "mail");
    assert_eq!((mail.ty, mail.inferred), (Some(DataType::String), true));
    assert_eq!(mail.locations.len(), 3);
    // Stated in the only document naming it.
    let age = p("Delta", "Lead", "age");
    assert_eq!((age.ty, age.inferred), (Some(DataType::Integer), false));
    // Never a target anywhere.
    assert_eq!(p("Alpha", "Customer", "age").ty, None);
    // The first stated type wins after the error.
    assert_eq!(p("Beta", "Contact", "years").ty, Some(DataType::Integer));
}

#[test]
fn a_cascade_with_a_cycle() {
    let spec = spec("cascade_cycle");
    assert_eq!(spec.cascades.len(), 1, "{:#?}", spec.cascades);
    let c = &spec.cascades[0];
    assert!(c.cycle);
    assert_eq!(
        c.chain,
        [
            ep("Delta", "Lead"),
            ep("Alpha", "Customer"),
            ep("Beta", "Contact"),
            ep("Gamma", "Person"),
            ep("Alpha", "Customer")
        ]
    );
    assert_eq!(
        flow(&spec, ep("Delta", "Lead"), ep("Alpha", "Customer")).create,
        Create::WhenConnected
    );
    let w = with(&spec, Severity::Warning, "records could be created forever");
    assert_eq!(w.len(), 1);
    let files: Vec<&str> = w[0].related.iter().map(|r| r.file.as_str()).collect();
    assert_eq!(files, ["a-to-b.rst", "b-to-c.rst", "c-to-a.rst"]);
}

#[test]
fn row_checks_conversions_and_references() {
    let spec = spec("checks");
    let e = with(
        &spec,
        Severity::Error,
        "cannot convert \"string\" into \"integer\"",
    );
    assert_eq!(e.len(), 1, "{:#?}", errors(&spec));
    assert!(
        e[0].message
            .starts_with("row `age` → `years` of Alpha Customer → Beta Contact")
    );
    assert_eq!(
        (e[0].file.as_deref(), e[0].line, e[0].column),
        (Some("a-to-b.rst"), Some(29), Some(4))
    );
    assert_eq!(
        with(
            &spec,
            Severity::Error,
            "cannot convert \"float\" into \"integer\""
        )
        .len(),
        2
    );
    // Widening is fine: integer into float (`amount` → `total` in b-to-a.rst is float into integer, an error above).
    assert!(with(&spec, Severity::Error, "`total` → `count`").is_empty());
    let unlinked = with(
        &spec,
        Severity::Error,
        "references between Alpha Customer and Beta Ledger need a flow linking them",
    );
    assert_eq!(unlinked.len(), 1);
    assert!(
        unlinked[0]
            .message
            .starts_with("row `customer_id` → `ledger_id`")
    );
    let plain = with(&spec, Severity::Error, "is not a reference");
    assert_eq!(plain.len(), 1);
    assert!(plain[0].message.contains("`note` → `account_id`"));
    // Linked references are fine, both ways.
    assert!(with(&spec, Severity::Error, "`customer_id` → `contact_id`").is_empty());
    assert!(with(&spec, Severity::Error, "`account_id` → `account_id`").is_empty());
    let raw = with(
        &spec,
        Severity::Warning,
        "would be written raw into `customer_ref`",
    );
    assert_eq!(raw.len(), 1);
    assert_eq!(errors(&spec).len(), 5, "{:#?}", errors(&spec));
}

#[test]
fn dotted_paths_on_both_sides() {
    let spec = spec("dotted");
    assert!(errors(&spec).is_empty(), "{:#?}", errors(&spec));
    let contact = &spec.entity("Beta", "Contact").unwrap().properties;
    assert_eq!(contact["address.city"].ty, Some(DataType::String));
    assert!(contact.contains_key("address.zip"));
    assert!(
        spec.entity("Alpha", "Customer")
            .unwrap()
            .properties
            .contains_key("MailAddress.City")
    );
    // The last segment names the reference, on both sides.
    assert_eq!(
        contact["owner.contact_person_id"].reference.as_deref(),
        Some("Contact person")
    );
    let customer = &spec.entity("Alpha", "Customer").unwrap().properties;
    assert_eq!(
        customer["billing.contact_person_id"].reference.as_deref(),
        Some("Contact person")
    );
    let f = flow(&spec, ep("Alpha", "Customer"), ep("Beta", "Contact"));
    assert_eq!(f.properties[0].source, "MailAddress.City");
    assert_eq!(f.properties[0].target, "address.city");
}

#[test]
fn self_links_conditions_and_merge_rules() {
    let spec = spec("forms");
    assert!(errors(&spec).is_empty(), "{:#?}", errors(&spec));
    let own = flow(
        &spec,
        ep("Tripletex", "Customer"),
        ep("Tripletex", "Customer"),
    );
    assert_eq!((own.create, own.inverse), (Create::Always, None));
    let cond = flow(
        &spec,
        ep("Tripletex", "Customer"),
        ep("Tripletex", "Supplier"),
    );
    assert_eq!(
        cond.condition.as_deref(),
        Some("the customer is also a supplier")
    );
    assert_eq!(cond.create, Create::Always);
    let merge = flow(&spec, ep("Tripletex", "Order"), ep("Tripletex", "Invoice"));
    assert!(merge.merge);
    assert_eq!(merge.create, Create::Always);
    let rules: Vec<(&str, &str)> = merge
        .match_rules
        .iter()
        .map(|m| (m.source.as_str(), m.target.as_str()))
        .collect();
    assert_eq!(rules, [("number", "invoice_number"), ("email", "email")]);
    let bare = flow(
        &spec,
        ep("Tripletex", "Project"),
        ep("Tripletex", "Project"),
    );
    assert_eq!(bare.create, Create::Never);
    let w = with(
        &spec,
        Severity::Warning,
        "no creation rule stated; the flow only links",
    );
    assert_eq!(w[0].line, Some(bare.location.line));
    // The self-link is no cascade by itself.
    assert!(spec.cascades.is_empty(), "{:#?}", spec.cascades);
}
