//! Malformed documents (spec/tests/documents/errors/): each gives an error at the exact
//! file:line:column with a help, and renders with the source line and the help.

use flowgen_spec::read::read_document;
use flowgen_spec::render::render;
use flowgen_spec::{Diagnostic, Severity, Sources};

fn bytes(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/documents/errors/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

fn place(d: &Diagnostic) -> String {
    d.location().map(|l| l.to_string()).unwrap_or_default()
}

/// The one error of `name`: its place, message and help; and its rendering, which must
/// show the place, the source line and the help.
fn single_error(name: &str) -> (Diagnostic, String) {
    let bytes = bytes(name);
    let (_, diagnostics) = read_document(name, &bytes);
    let errors = errors(&diagnostics);
    assert_eq!(errors.len(), 1, "{name}: {diagnostics:#?}");
    let error = errors[0].clone();
    let sources = Sources::from_memory([(name, bytes.as_slice())]);
    let rendered = render(&error, &sources, false);
    assert!(rendered.contains(&place(&error)), "{rendered}");
    let help = error.help.as_deref().expect("every error has a help");
    assert!(rendered.contains(&format!("help: {help}")), "{rendered}");
    (error, rendered)
}

#[test]
fn wrong_cell_count() {
    let (e, rendered) = single_error("wrong_cell_count.rst");
    assert_eq!(place(&e), "wrong_cell_count.rst:22:4");
    assert_eq!(
        e.message,
        "row has 2 cells; this table has 3 columns (source property, target property, data type)"
    );
    assert!(
        e.help
            .as_deref()
            .unwrap()
            .starts_with("each row has 3 cells")
    );
    assert!(rendered.contains("   * - first_name"), "{rendered}");
    insta::assert_snapshot!("wrong_cell_count", rendered);
}

#[test]
fn unknown_quoted_type_suggests_the_nearest() {
    let bytes = bytes("unknown_type.rst");
    let (document, diagnostics) = read_document("unknown_type.rst", &bytes);
    let found: Vec<(String, &str, Option<&str>)> = diagnostics
        .iter()
        .map(|d| (place(d), d.message.as_str(), d.help.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "unknown_type.rst:21:8".into(),
                "unknown data type \"strnig\"",
                Some("did you mean \"string\"?")
            ),
            (
                "unknown_type.rst:24:8".into(),
                "unknown data type \"geometry\"",
                Some(
                    "the known types are \"string\", \"integer\", \"float\", \"decimal\", \"boolean\", \"date\", \"datetime\"; write N/A when the type is unknown"
                ),
            ),
            (
                "unknown_type.rst:27:8".into(),
                "unterminated quote in data type",
                Some("close the quote: \"string\"")
            ),
            (
                "unknown_type.rst:30:6".into(),
                "empty data type",
                Some(
                    "write the target property's type, e.g. \"string\", or N/A when it is unknown"
                ),
            ),
            (
                "unknown_type.rst:33:8".into(),
                "data type `integer` is not quoted",
                Some("quote the type: \"integer\"")
            ),
            (
                "unknown_type.rst:34:4".into(),
                "empty source property",
                Some("write the source system's property name in cell 1, or remove the row"),
            ),
        ]
    );
    assert_eq!(diagnostics[4].severity, Severity::Warning);
    // The unquoted but known type is kept; the broken rows are not.
    let rows = &document.unwrap().sections[0].property_rows;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target.value, "Phone");
    let sources = Sources::from_memory([("unknown_type.rst", bytes.as_slice())]);
    let rendered = render(&diagnostics[0], &sources, false);
    assert!(rendered.contains("unknown_type.rst:21:8"), "{rendered}");
    assert!(rendered.contains("     - \"strnig\""), "{rendered}");
    assert!(
        rendered.contains("help: did you mean \"string\"?"),
        "{rendered}"
    );
    insta::assert_snapshot!("unknown_type", rendered);
}

#[test]
fn heading_naming_neither_system() {
    let bytes = bytes("heading_neither.rst");
    let (document, diagnostics) = read_document("heading_neither.rst", &bytes);
    let errors = errors(&diagnostics);
    assert_eq!(errors.len(), 2, "{diagnostics:#?}");
    assert_eq!(place(errors[0]), "heading_neither.rst:7:1");
    assert_eq!(errors[0].message, "heading names neither system");
    assert_eq!(
        errors[0].help.as_deref(),
        Some(
            "a flow heading reads `<Source> <entity> to <Target> <entity>`; in this document `Chargebee <entity> to Powerofficego <entity>`"
        )
    );
    assert_eq!(place(errors[1]), "heading_neither.rst:11:1");
    assert_eq!(errors[1].message, "heading does not name `Powerofficego`");
    // The other findings of the file are warnings, each with its place.
    let warnings: Vec<(String, &str)> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (place(d), d.message.as_str()))
        .collect();
    assert_eq!(
        warnings,
        [
            ("heading_neither.rst:15:1".into(), "section `Notes` ignored"),
            (
                "heading_neither.rst:23:1".into(),
                "unrecognized sentence; it is ignored"
            ),
            (
                "heading_neither.rst:25:1".into(),
                "list-table is not announced by a sentence; it is ignored"
            ),
        ]
    );
    // Malformed and ignored sections are not read; the good one is.
    let document = document.unwrap();
    assert_eq!(document.sections.len(), 1);
    assert_eq!(document.sections[0].source_entity.value, "Item");
    let sources = Sources::from_memory([("heading_neither.rst", bytes.as_slice())]);
    let rendered = render(errors[0], &sources, false);
    assert!(
        rendered.contains("Hubspot Contact to Salesforce Lead"),
        "{rendered}"
    );
    insta::assert_snapshot!("heading_neither", rendered);
}

#[test]
fn file_cut_off_inside_a_table() {
    let (e, rendered) = single_error("cut_off.rst");
    assert_eq!(place(&e), "cut_off.rst:23:17");
    assert_eq!(e.message, "file ends inside a table");
    assert!(
        e.help
            .as_deref()
            .unwrap()
            .contains("the document looks cut off")
    );
    assert!(rendered.contains("     - firstName"), "{rendered}");
    insta::assert_snapshot!("cut_off", rendered);

    let (e, _) = single_error("cut_off_directive.rst");
    assert_eq!(place(&e), "cut_off_directive.rst:14:19");
    assert_eq!(e.message, "file ends inside a table");

    // Cut at every byte of the table's last row: an error, never a panic.
    let whole = String::from_utf8(bytes("cut_off.rst")).unwrap();
    let start = whole.rfind("   * - first_name").unwrap();
    for cut in start + 6..whole.len() {
        let (_, diagnostics) = read_document("c.rst", &whole.as_bytes()[..cut]);
        let errors = errors(&diagnostics);
        assert_eq!(errors.len(), 1, "cut at {cut}: {diagnostics:#?}");
        assert_eq!(
            errors[0].message, "file ends inside a table",
            "cut at {cut}"
        );
    }
}

#[test]
fn invalid_utf8_at_the_exact_column() {
    let (e, rendered) = single_error("latin1.rst");
    assert_eq!(place(&e), "latin1.rst:9:14");
    assert_eq!(e.message, "file is not UTF-8");
    assert!(
        rendered.contains("Every Chargeb\u{FFFD}e Customer"),
        "{rendered}"
    );
    insta::assert_snapshot!("latin1", rendered);
    // Columns count characters: a multibyte character before the bad byte is one column.
    let (document, diagnostics) = read_document("x.rst", b"=====\n\xC3\xA6\xC3\xB8 a\xFFb\n");
    assert!(document.is_none());
    assert_eq!(place(&diagnostics[0]), "x.rst:2:5");
    // After CRLF and lone CR line endings too.
    let (_, diagnostics) = read_document("x.rst", b"a\r\nb\rc\xC3");
    assert_eq!(place(&diagnostics[0]), "x.rst:3:2");
}

#[test]
fn empty_file() {
    let (e, rendered) = single_error("empty.rst");
    assert_eq!(place(&e), "empty.rst:1:1");
    assert_eq!(e.message, "file is empty");
    insta::assert_snapshot!("empty", rendered);
    for blank in [&b"   \n\n\t\n"[..], b"\xEF\xBB\xBF", b"\r\n\r\n"] {
        let (document, diagnostics) = read_document("e.rst", blank);
        assert!(document.is_none());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            (
                place(&diagnostics[0]).as_str(),
                diagnostics[0].message.as_str()
            ),
            ("e.rst:1:1", "file is empty")
        );
    }
}

#[test]
fn no_title() {
    let (document, diagnostics) = read_document("n.rst", b"Introduction\n------------\n\nText.\n");
    assert!(document.is_none());
    let e = errors(&diagnostics)[0];
    assert_eq!(place(e), "n.rst:1:1");
    assert!(e.message.starts_with("no title"), "{e}");
    assert!(
        e.help
            .as_deref()
            .unwrap()
            .contains("<Source> to <Target> Dataflow")
    );
}

#[test]
fn sentences_naming_other_entities_warn() {
    let doc = "=========================\nChargebee to Pogo Dataflow\n==========================\n\nGenerated: 2024-09-09 00:00:00\n\nChargebee Customer to Pogo Customers\n------------------------------------\nEvery Chargebee Item will be synchronized with a Pogo Customers.\n";
    let (document, diagnostics) = read_document("s.rst", doc.as_bytes());
    let found: Vec<(String, &str)> = diagnostics
        .iter()
        .map(|d| (place(d), d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "s.rst:2:1".into(),
                "title overline or underline is shorter than the title"
            ),
            (
                "s.rst:9:7".into(),
                "sentence names `Chargebee Item` but the heading names `Chargebee Customer`"
            ),
        ]
    );
    assert!(document.unwrap().sections[0].every.is_some());
}
