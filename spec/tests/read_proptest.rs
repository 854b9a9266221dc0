//! The reader never panics and only reports places inside the file, whatever the bytes:
//! arbitrary bytes, rst-like noise, and the real documents mutated (byte flips, lines
//! deleted or duplicated, truncation, insertions of table markers, quotes, CR, tabs and
//! multibyte characters). Rendering the diagnostics never panics either.

use flowgen_spec::ast::Document;
use flowgen_spec::model::Location;
use flowgen_spec::read::read_document;
use flowgen_spec::render::render;
use flowgen_spec::{Diagnostic, Sources};
use proptest::prelude::*;

const REAL: [&[u8]; 5] = [
    include_bytes!("../../generated/dataflows/chargebee-to-powerofficego.rst"),
    include_bytes!("../../generated/dataflows/customerp-to-chargebee.rst"),
    include_bytes!("../../generated/dataflows/customwebshop-to-chargebee.rst"),
    include_bytes!("../../generated/dataflows/powerofficego-to-unnamed.rst"),
    include_bytes!("../../generated/dataflows/webcrm-to-chargebee.rst"),
];

const SNIPPETS: &[&str] = &[
    "* -",
    "   * - ",
    "     - ",
    "-",
    "\"",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "æ",
    "€",
    "🦀",
    "\u{feff}",
    ".. list-table::\n",
    ":header-rows: 2\n",
    "N/A",
    "\"strnig\"",
    " to ",
    "When x, it will be synchronized with a y.",
    "====\n",
    "----\n",
];

/// The lines of `bytes` as the reader counts them (LF, CRLF and lone CR end a line), as
/// byte lengths.
fn line_lengths(bytes: &[u8]) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut current = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lengths.push(current);
                current = 0;
            }
            b'\r' => {
                lengths.push(current);
                current = 0;
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            _ => current += 1,
        }
        i += 1;
    }
    lengths.push(current);
    lengths
}

fn check_place(lengths: &[usize], line: u32, column: u32, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(line >= 1 && column >= 1, "{what}: {line}:{column}");
    prop_assert!(
        line as usize <= lengths.len() + 1,
        "{what}: line {line} of {}",
        lengths.len()
    );
    // Columns count characters, and a character is at least one byte.
    let width = lengths.get(line as usize - 1).copied().unwrap_or(0);
    prop_assert!(
        column as usize <= width + 1,
        "{what}: column {column} of a {width}-byte line {line}"
    );
    Ok(())
}

fn check_location(lengths: &[usize], l: &Location, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(&*l.file, "doc.rst");
    check_place(lengths, l.line, l.column, what)
}

fn check_document(lengths: &[usize], d: &Document) -> Result<(), TestCaseError> {
    check_location(lengths, &d.title.location, "title")?;
    check_location(lengths, &d.source_system.location, "source system")?;
    check_location(lengths, &d.target_system.location, "target system")?;
    if let Some(g) = &d.generated {
        check_location(lengths, &g.location, "generated")?;
    }
    for s in &d.sections {
        check_location(lengths, &s.location, "section")?;
        check_location(lengths, &s.source_entity.location, "source entity")?;
        check_location(lengths, &s.target_entity.location, "target entity")?;
        for l in [
            &s.every,
            &s.link_required,
            &s.merge,
            &s.create_if_no_match,
            &s.bidirectional,
            &s.property_table,
        ]
        .into_iter()
        .flatten()
        {
            check_location(lengths, l, "sentence")?;
        }
        for z in &s.connected_via {
            check_location(lengths, &z.location, "connected")?;
        }
        if let Some(c) = &s.condition {
            check_location(lengths, &c.location, "condition")?;
        }
        for r in &s.match_rows {
            check_location(lengths, &r.location, "match row")?;
            check_location(lengths, &r.source.location, "match source")?;
            check_location(lengths, &r.target.location, "match target")?;
        }
        for r in &s.property_rows {
            check_location(lengths, &r.location, "row")?;
            check_location(lengths, &r.source.location, "row source")?;
            check_location(lengths, &r.target.location, "row target")?;
            check_location(lengths, &r.ty.location, "row type")?;
        }
    }
    Ok(())
}

/// Reads `bytes`, checks every place, and renders every diagnostic when `render_all`.
fn check(bytes: &[u8], render_all: bool) -> Result<(), TestCaseError> {
    let (document, diagnostics) = read_document("doc.rst", bytes);
    // Skip the BOM the reader skips: columns on line 1 start after it.
    let lengths = line_lengths(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    for d in &diagnostics {
        prop_assert_eq!(d.file.as_deref(), Some("doc.rst"), "{}", d);
        check_place(
            &lengths,
            d.line.unwrap_or(0),
            d.column.unwrap_or(0),
            &d.to_string(),
        )?;
    }
    if document.is_none() {
        prop_assert!(
            diagnostics
                .iter()
                .any(|d| d.severity == flowgen_spec::Severity::Error),
            "nothing read but no error: {diagnostics:?}"
        );
    }
    if let Some(d) = &document {
        check_document(&lengths, d)?;
    }
    if render_all {
        let sources = Sources::from_memory([("doc.rst", bytes)]);
        for d in diagnostics.iter().take(3) {
            let out = render(d, &sources, false);
            prop_assert!(out.contains(&d.message), "{out}");
        }
        let _ = render(
            &Diagnostic::error("x").at(&Location {
                file: "doc.rst".into(),
                line: u32::MAX,
                column: 7,
            }),
            &sources,
            true,
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    DeleteLine(usize),
    DuplicateLine(usize),
    Truncate(usize),
    Insert { at: usize, snippet: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0..SNIPPETS.len())
            .prop_map(|(at, snippet)| Mutation::Insert { at, snippet }),
    ]
}

fn line_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            spans.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < bytes.len() {
        spans.push((start, bytes.len()));
    }
    spans
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip { at, byte } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b = byte;
                }
            }
            Mutation::DeleteLine(i) => {
                let spans = line_spans(&bytes);
                if !spans.is_empty() {
                    let (a, b) = spans[i % spans.len()];
                    bytes.drain(a..b);
                }
            }
            Mutation::DuplicateLine(i) => {
                let spans = line_spans(&bytes);
                if !spans.is_empty() {
                    let (a, b) = spans[i % spans.len()];
                    let line = bytes[a..b].to_vec();
                    bytes.splice(b..b, line);
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            Mutation::Insert { at, snippet } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, SNIPPETS[snippet].bytes());
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check(&bytes, true)?;
    }

    #[test]
    fn rst_like_noise(text in "([=\\-*~ :\"\\.\\t\\r\\na-zA-Z0-9æ€]|to |Dataflow|list-table::|\\* - |     - ){0,120}") {
        check(text.as_bytes(), true)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn mutated_real_documents(
        doc in 0..REAL.len(),
        mutations in proptest::collection::vec(mutation(), 1..8),
        render_all in proptest::bool::weighted(0.2),
    ) {
        let bytes = apply(REAL[doc].to_vec(), &mutations);
        check(&bytes, render_all)?;
    }
}

#[test]
fn the_real_documents_pass_the_same_checks() {
    for bytes in REAL {
        let (document, diagnostics) = read_document("doc.rst", bytes);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert!(check_document(&line_lengths(bytes), &document.unwrap()).is_ok());
        assert!(check(bytes, true).is_ok());
    }
}
