//! Every document form DESIGN.md §1 names, read from spec/tests/documents/forms/: the exact
//! AST values and a few locations.

use flowgen_spec::ast::{Document, Section};
use flowgen_spec::model::Location;
use flowgen_spec::read::read_document;
use flowgen_spec::{DataType, Diagnostic, Severity};

fn bytes(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/documents/forms/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Reads a form document: no errors allowed; returns the warnings and notes.
fn read(name: &str) -> (Document, Vec<Diagnostic>) {
    let (document, diagnostics) = read_document(name, &bytes(name));
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
    (
        document.unwrap_or_else(|| panic!("{name}: nothing read")),
        diagnostics,
    )
}

/// Reads a form document that must give no diagnostic at all.
fn clean(name: &str) -> Document {
    let (document, diagnostics) = read(name);
    let all: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert!(all.is_empty(), "{name}: {all:#?}");
    document
}

fn lc(l: &Location) -> (u32, u32) {
    (l.line, l.column)
}

fn entities(s: &Section) -> (&str, &str) {
    (&s.source_entity.value, &s.target_entity.value)
}

fn rows(s: &Section) -> Vec<(&str, &str, Option<DataType>)> {
    s.property_rows
        .iter()
        .map(|r| (r.source.value.as_str(), r.target.value.as_str(), r.ty.value))
        .collect()
}

fn matches(s: &Section) -> Vec<(&str, &str)> {
    s.match_rows
        .iter()
        .map(|r| (r.source.value.as_str(), r.target.value.as_str()))
        .collect()
}

#[test]
fn merge_tables() {
    let (d, diagnostics) = read("merge.rst");
    assert_eq!(d.sections.len(), 2);
    let persons = &d.sections[0];
    assert_eq!(entities(persons), ("Persons", "Contactperson"));
    assert_eq!(lc(&persons.location), (12, 1));
    assert_eq!(
        matches(persons),
        [
            ("PersonEmail", "emailAddress"),
            ("PersonMobilePhone", "phoneNumber")
        ]
    );
    assert_eq!(lc(&persons.match_rows[0].location), (21, 4));
    assert_eq!(lc(&persons.match_rows[1].target.location), (24, 8));
    assert_eq!(
        rows(persons),
        [("PersonEmail", "emailAddress", Some(DataType::String))]
    );
    assert_eq!(persons.property_table.as_ref().map(lc), Some((30, 1)));
    assert!(persons.bidirectional.is_some() && persons.every.is_none() && persons.merge.is_none());
    // A merge table without `:header-rows:`: every row is a rule; "An" is read like "A".
    let organisations = &d.sections[1];
    assert_eq!(
        matches(organisations),
        [("OrganisationVatNumber", "VatNumber")]
    );
    assert_eq!(lc(&organisations.match_rows[0].location), (46, 4));
    assert_eq!(lc(&organisations.match_rows[0].target.location), (47, 8));
    assert!(organisations.property_rows.is_empty() && organisations.property_table.is_none());
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
}

#[test]
fn match_then_create() {
    let d = clean("match_then_create.rst");
    let customer = &d.sections[0];
    assert_eq!(matches(customer), [("email", "PersonEmail")]);
    assert_eq!(customer.merge.as_ref().map(lc), Some((24, 1)));
    assert_eq!(customer.create_if_no_match.as_ref().map(lc), Some((26, 1)));
    assert!(customer.every.is_none() && customer.link_required.is_none());
    // Two sentences in one wrapped paragraph.
    let item = &d.sections[1];
    assert_eq!(entities(item), ("Item", "Products"));
    assert_eq!(item.merge.as_ref().map(lc), Some((30, 1)));
    assert_eq!(item.create_if_no_match.as_ref().map(lc), Some((30, 104)));
}

#[test]
fn conditions() {
    let d = clean("conditions.rst");
    let conditions: Vec<(&str, (u32, u32))> = d
        .sections
        .iter()
        .map(|s| {
            let c = s.condition.as_ref().expect("a condition");
            (c.value.as_str(), lc(&c.location))
        })
        .collect();
    assert_eq!(
        conditions,
        [
            // `it  will` (two spaces)
            ("the customer has an email address", (9, 6)),
            // `it will` (one space)
            ("the order is paid", (13, 6)),
            // not a `When …` condition: kept whole
            ("Unless the item is archived", (17, 1)),
        ]
    );
    assert!(
        d.sections
            .iter()
            .all(|s| s.every.is_none() && s.link_required.is_none())
    );
}

#[test]
fn types() {
    let (d, diagnostics) = read("types.rst");
    let section = &d.sections[0];
    assert_eq!(
        rows(section),
        [
            ("name", "name", Some(DataType::String)),
            ("stock", "quantity", Some(DataType::Integer)),
            ("weight", "weight_kg", Some(DataType::Float)),
            ("price", "price", Some(DataType::Decimal)),
            ("active", "enabled", Some(DataType::Boolean)),
            ("launched", "available_from", Some(DataType::Date)),
            ("updated", "updated_at", Some(DataType::Datetime)),
            ("colour", "metadata", None),
        ]
    );
    assert_eq!(lc(&section.property_rows[6].ty.location), (39, 8));
    assert_eq!(lc(&section.property_rows[7].ty.location), (42, 8));
    assert_eq!(lc(&section.property_rows[7].location), (40, 4));
    // N/A is a warning at the cell.
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let na = &diagnostics[0];
    assert_eq!(
        (na.severity, na.message.as_str()),
        (Severity::Warning, "type unknown (N/A); kept as null")
    );
    assert_eq!((na.line, na.column), (Some(42), Some(8)));
}

#[test]
fn multi_word_and_parenthesised_names() {
    let d = clean("names.rst");
    assert_eq!(d.source_system.value, "PowerOffice GO");
    assert_eq!(d.target_system.value, "Wix.com");
    assert_eq!(lc(&d.target_system.location), (2, 19));
    let first = &d.sections[0];
    assert_eq!(entities(first), ("Customers (human data)", "Contact 2.0"));
    assert_eq!(lc(&first.source_entity.location), (7, 16));
    assert_eq!(lc(&first.target_entity.location), (7, 50));
    assert_eq!(
        (
            first.source_spelling.as_deref(),
            first.target_spelling.as_deref()
        ),
        (None, None)
    );
    assert_eq!(
        rows(first),
        [("EmailAddress", "info.emails", Some(DataType::String))]
    );
    assert_eq!(lc(&first.property_rows[0].target.location), (20, 8));
    assert_eq!(entities(&d.sections[1]), ("Customers person", "Member"));

    let d = clean("names_digits.rst");
    assert_eq!(
        (
            d.source_system.value.as_str(),
            d.target_system.value.as_str()
        ),
        ("24SevenOffice", "PowerOffice GO")
    );
    assert_eq!(entities(&d.sections[0]), ("Company (B2B)", "Customers"));
    assert_eq!(lc(&d.sections[0].source_entity.location), (7, 15));
    assert_eq!(lc(&d.sections[0].target_entity.location), (7, 47));
}

#[test]
fn variant_system_spellings() {
    let d = clean("variant_spellings.rst");
    assert_eq!(
        (
            d.source_system.value.as_str(),
            d.target_system.value.as_str()
        ),
        ("Business Central", "Exact Online")
    );
    let first = &d.sections[0];
    assert_eq!(entities(first), ("Customer", "Account"));
    assert_eq!(first.source_spelling.as_deref(), Some("Businesscentral"));
    assert_eq!(first.target_spelling.as_deref(), Some("Exact"));
    assert_eq!(lc(&first.source_entity.location), (7, 17));
    assert_eq!(lc(&first.target_entity.location), (7, 35));
    assert!(first.every.is_some());
    assert_eq!(
        rows(first),
        [("displayName", "Name", Some(DataType::String))]
    );
    let second = &d.sections[1];
    assert_eq!(entities(second), ("Vendor", "Supplier"));
    assert_eq!(
        (
            second.source_spelling.as_deref(),
            second.target_spelling.as_deref()
        ),
        (None, None)
    );
}

#[test]
fn blank_target_system() {
    let d = clean("blank_target.rst");
    assert_eq!(
        (
            d.source_system.value.as_str(),
            d.target_system.value.as_str()
        ),
        ("Powerofficego", "")
    );
    let s = &d.sections[0];
    assert_eq!(entities(s), ("Customers", "Customer"));
    assert_eq!(lc(&s.target_entity.location), (7, 29));
    assert!(s.link_required.is_some());
    let via: Vec<(&str, (u32, u32))> = s
        .connected_via
        .iter()
        .map(|z| (z.value.as_str(), lc(&z.location)))
        .collect();
    assert_eq!(
        via,
        [
            ("Salesorders", (11, 102)),
            ("Invoices", (11, 115)),
            ("Salesorderlines", (11, 128))
        ]
    );
    assert_eq!(rows(s), [("Name", "company", Some(DataType::String))]);
}

#[test]
fn blank_source_system() {
    let d = clean("blank_source.rst");
    assert_eq!(
        (
            d.source_system.value.as_str(),
            d.target_system.value.as_str()
        ),
        ("", "Chargebee")
    );
    assert_eq!(lc(&d.target_system.location), (2, 5));
    let s = &d.sections[0];
    assert_eq!(entities(s), ("Customer", "Customer"));
    assert_eq!(lc(&s.source_entity.location), (7, 2));
    assert_eq!(lc(&s.target_entity.location), (7, 24));
    assert!(s.every.is_some());
    assert_eq!(rows(s), [("email", "email", Some(DataType::String))]);
}

#[test]
fn self_document() {
    let d = clean("self.rst");
    let s = &d.sections[0];
    assert_eq!(entities(s), ("Customer", "Customer"));
    assert_eq!(matches(s), [("organizationNumber", "organizationNumber")]);
    assert_eq!(lc(&s.match_rows[0].target.location), (17, 8));
    assert!(s.bidirectional.is_some());
}

#[test]
fn duplicate_sections_are_both_kept() {
    let d = clean("duplicate_sections.rst");
    assert_eq!(d.sections.len(), 2);
    assert_eq!(entities(&d.sections[0]), entities(&d.sections[1]));
    assert_eq!(lc(&d.sections[0].location), (7, 1));
    assert_eq!(lc(&d.sections[1].location), (23, 1));
    assert_eq!(rows(&d.sections[0]).len(), 1);
    assert_eq!(
        rows(&d.sections[1]),
        [
            ("email", "EmailAddress", Some(DataType::String)),
            ("company", "Name", Some(DataType::String))
        ]
    );
}

#[test]
fn dotted_paths() {
    let d = clean("dotted_paths.rst");
    assert_eq!(
        rows(&d.sections[0]),
        [
            (
                "MailAddress.City",
                "billing_address.city",
                Some(DataType::String)
            ),
            (
                "MailAddress.Address.Line1",
                "billing_address.line1",
                Some(DataType::String)
            ),
        ]
    );
    assert_eq!(lc(&d.sections[0].property_rows[1].source.location), (22, 8));
    assert_eq!(lc(&d.sections[0].property_rows[1].target.location), (23, 8));
}

#[test]
fn wrapped_paragraphs_and_cells() {
    let d = clean("wrapped.rst");
    let s = &d.sections[0];
    assert_eq!(s.link_required.as_ref().map(lc), Some((9, 1)));
    let via: Vec<(&str, (u32, u32))> = s
        .connected_via
        .iter()
        .map(|z| (z.value.as_str(), lc(&z.location)))
        .collect();
    // The list sits on the second line of the paragraph: columns count on that line.
    assert_eq!(via, [("Order", (13, 16)), ("Invoice", (13, 26))]);
    let condition = s.condition.as_ref().unwrap();
    assert_eq!(condition.value, "the customer has opted in");
    assert_eq!(lc(&condition.location), (16, 6));
    assert_eq!(s.property_table.as_ref().map(lc), Some((22, 1)));
    assert_eq!(
        rows(s),
        [
            (
                "billing_address.first_name",
                "firstName",
                Some(DataType::String)
            ),
            (
                "cf_long_custom _field_name",
                "customFieldValue",
                Some(DataType::String)
            ),
        ]
    );
    let second = &s.property_rows[1];
    assert_eq!(lc(&second.source.location), (32, 8));
    // An empty first line: the cell starts on its continuation line.
    assert_eq!(lc(&second.target.location), (35, 8));
    // Cells separated by a blank line.
    assert_eq!(lc(&s.property_rows[0].target.location), (30, 8));
}

#[test]
fn empty_tables() {
    let d = clean("empty_tables.rst");
    assert_eq!(d.sections.len(), 2);
    for s in &d.sections {
        assert!(s.property_rows.is_empty());
        assert!(s.property_table.is_some());
        assert!(s.every.is_some());
    }
    assert_eq!(d.sections[1].property_table.as_ref().map(lc), Some((26, 1)));
}

#[test]
fn crlf_line_endings() {
    let crlf = bytes("crlf.rst");
    assert!(
        crlf.windows(2).any(|w| w == b"\r\n"),
        "crlf.rst must keep its CRLF line endings (see .gitattributes)"
    );
    let d = clean("crlf.rst");
    let row = &d.sections[0].property_rows[0];
    assert_eq!(lc(&row.target.location), (20, 8));
    assert_eq!(lc(&row.ty.location), (21, 8));
    assert_eq!(row.ty.value, Some(DataType::String));

    // The same document with LF, CRLF and lone CR line endings reads the same.
    let lf: Vec<u8> = String::from_utf8(crlf)
        .unwrap()
        .replace("\r\n", "\n")
        .into_bytes();
    let as_lf = read_document("crlf.rst", &lf);
    let as_cr = read_document(
        "crlf.rst",
        String::from_utf8(lf.clone())
            .unwrap()
            .replace('\n', "\r")
            .as_bytes(),
    );
    assert_eq!(as_lf, (Some(d.clone()), Vec::new()));
    assert_eq!(as_cr, as_lf);
    // Every form document converted to CRLF reads exactly as its LF original.
    for name in [
        "merge.rst",
        "types.rst",
        "wrapped.rst",
        "blank_target.rst",
        "names.rst",
    ] {
        let lf = bytes(name);
        let crlf = String::from_utf8(lf.clone()).unwrap().replace('\n', "\r\n");
        assert_eq!(
            read_document(name, crlf.as_bytes()),
            read_document(name, &lf),
            "{name}"
        );
    }
}

#[test]
fn bom_and_tabs() {
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend(bytes("types.rst"));
    assert_eq!(
        read_document("types.rst", &with_bom),
        read_document("types.rst", &bytes("types.rst"))
    );
    // A tab indents the table like eight spaces; columns still count characters.
    let tabbed = String::from_utf8(bytes("dotted_paths.rst"))
        .unwrap()
        .replace("   * - ", "\t* - ")
        .replace("     - ", "\t  - ");
    let (d, diagnostics) = read_document("t.rst", tabbed.as_bytes());
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let row = &d.unwrap().sections[0].property_rows[1];
    assert_eq!(row.target.value, "billing_address.line1");
    assert_eq!(lc(&row.target.location), (23, 6));
}
