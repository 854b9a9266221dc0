//! Diagnostics printed as rustc prints them, through miette's graphical handler: the
//! `file:line:column` header, the source line with the marked text and its label, related
//! places, and the help.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::load::Sources;
use crate::model::{Diagnostic, Related, Severity};

/// A diagnostic in the shape miette renders.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Report {
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    code: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.code.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

/// A file's text as miette is given it: lossy UTF-8, the BOM dropped, every line ending
/// made `\n` (so that lone CRs start lines as they do for the reader), and where each
/// line starts.
struct Text {
    text: String,
    starts: Vec<usize>,
}

impl Text {
    fn new(bytes: &[u8]) -> Text {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let lossy = String::from_utf8_lossy(bytes);
        let mut text = String::with_capacity(lossy.len());
        let mut starts = vec![0];
        let mut chars = lossy.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    text.push('\n');
                    starts.push(text.len());
                }
                '\n' => {
                    text.push('\n');
                    starts.push(text.len());
                }
                c => text.push(c),
            }
        }
        Text { text, starts }
    }

    /// The byte range of line `line` (1-based) without its ending, clamped to the text.
    fn line(&self, line: u32) -> (usize, usize) {
        let index = (line.max(1) as usize - 1).min(self.starts.len() - 1);
        let start = self
            .starts
            .get(index)
            .copied()
            .unwrap_or(0)
            .min(self.text.len());
        let end = self
            .starts
            .get(index + 1)
            .map_or(self.text.len(), |next| next.saturating_sub(1))
            .max(start);
        (start, end)
    }

    /// The span at `line`:`column`: one character, or up to the end of the line's text
    /// when `whole` (the marked cell, heading or sentence). A place just past the end of a
    /// line (where a cut-off file ends) gets a space to point at, as miette marks nothing
    /// on an empty span.
    fn span(&mut self, line: u32, column: u32, whole: bool) -> SourceSpan {
        let (start, end) = self.line(line);
        let content = &self.text[start..end];
        let offset = content
            .char_indices()
            .nth(column.max(1) as usize - 1)
            .map_or(content.len(), |(i, _)| i);
        let rest = &content[offset..];
        let len = match rest.chars().next() {
            None => {
                let at = start + offset;
                self.text.insert(at, ' ');
                for s in self.starts.iter_mut().filter(|s| **s > at) {
                    *s += 1;
                }
                1
            }
            // A byte that was not UTF-8: mark just it.
            Some(c @ char::REPLACEMENT_CHARACTER) => c.len_utf8(),
            Some(c) if !whole => c.len_utf8(),
            Some(_) => rest.trim_end().len().max(1),
        };
        SourceSpan::new((start + offset).into(), len)
    }
}

fn severity(s: Severity) -> miette::Severity {
    match s {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Note => miette::Severity::Advice,
    }
}

/// The report for a related place in another file.
fn related_report(r: &Related, sources: &Sources, level: miette::Severity) -> Report {
    let (code, labels) = match sources.get(&r.file) {
        Some(file) => {
            let mut text = Text::new(&file.bytes);
            let span = text.span(r.line, r.column, true);
            (
                Some(NamedSource::new(&r.file, text.text)),
                vec![LabeledSpan::new_with_span(Some("here".to_string()), span)],
            )
        }
        None => (None, Vec::new()),
    };
    Report {
        message: if code.is_some() {
            r.message.clone()
        } else {
            format!("{}:{}:{}: {}", r.file, r.line, r.column, r.message)
        },
        severity: level,
        help: None,
        code,
        labels,
        related: Vec::new(),
    }
}

fn report(d: &Diagnostic, sources: &Sources) -> Report {
    let level = severity(d.severity);
    let mut out = Report {
        message: d.message.clone(),
        severity: level,
        help: d.help.clone(),
        code: None,
        labels: Vec::new(),
        related: Vec::new(),
    };
    let file = d
        .file
        .as_ref()
        .and_then(|name| Some((name, sources.get(name)?)));
    let Some((name, file)) = file else {
        // The file is not at hand: say where, without the source line.
        if let Some(loc) = d.location() {
            out.message = format!("{loc}: {}", d.message);
        }
        out.related = d
            .related
            .iter()
            .map(|r| related_report(r, sources, miette::Severity::Advice))
            .collect();
        return out;
    };
    let mut text = Text::new(&file.bytes);
    let (line, column) = (d.line.unwrap_or(1), d.column.unwrap_or(1));
    let span = text.span(line, column, d.label.is_some());
    out.labels
        .push(LabeledSpan::new_primary_with_span(d.label.clone(), span));
    for r in &d.related {
        if &r.file == name {
            let span = text.span(r.line, r.column, true);
            out.labels
                .push(LabeledSpan::new_with_span(Some(r.message.clone()), span));
        } else {
            out.related
                .push(related_report(r, sources, miette::Severity::Advice));
        }
    }
    // miette's header adds the primary label's line and column to the name.
    out.code = Some(NamedSource::new(name, text.text));
    out
}

/// Renders a diagnostic as rustc does (file:line:column, the source line, label, help).
/// Never panics: a file missing from `sources` or a place past its end still renders.
pub fn render(diagnostic: &Diagnostic, sources: &Sources, color: bool) -> String {
    if diagnostic.file.is_none() {
        return plain(diagnostic);
    }
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(120)
        .with_wrap_lines(false)
        .with_links(false)
        .without_syntax_highlighting()
        .with_show_related_as_nested(true);
    let report = report(diagnostic, sources);
    let mut out = String::new();
    match handler.render_report(&mut out, &report) {
        Ok(()) => out,
        Err(_) => format!("{diagnostic}\n"),
    }
}

/// `severity: message` and the help, for findings about the whole set of documents.
fn plain(d: &Diagnostic) -> String {
    let mut out = format!("{}: {}\n", d.severity, d.message);
    for r in &d.related {
        out.push_str(&format!(
            "  = {}:{}:{}: {}\n",
            r.file, r.line, r.column, r.message
        ));
    }
    if let Some(help) = &d.help {
        out.push_str(&format!("  help: {help}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Location;

    fn sources(files: &[(&str, &str)]) -> Sources {
        Sources::from_memory(files.iter().map(|(n, t)| (*n, t.as_bytes())))
    }

    fn at(file: &str, line: u32, column: u32) -> Location {
        Location {
            file: file.into(),
            line,
            column,
        }
    }

    #[test]
    fn renders_header_source_label_and_help() {
        let s = sources(&[("a.rst", "first\r\nsecond \"strnig\"\rthird\n")]);
        let d = Diagnostic::error("unknown data type \"strnig\"")
            .at(&at("a.rst", 2, 8))
            .label("this type")
            .help("did you mean \"string\"?");
        let out = render(&d, &s, false);
        assert!(out.contains("a.rst:2:8"), "{out}");
        assert!(out.contains("second \"strnig\""), "{out}");
        assert!(out.contains("this type"), "{out}");
        assert!(out.contains("help: did you mean \"string\"?"), "{out}");
        assert!(out.contains("────┬───"), "the whole cell is marked: {out}");
        assert!(!out.contains('\u{1b}'), "no colour codes: {out}");
        let coloured = render(&d, &s, true);
        assert!(coloured.contains('\u{1b}'), "colour codes: {coloured}");
        assert!(coloured.contains("second \"strnig\""), "{coloured}");
    }

    #[test]
    fn renders_related_places_in_this_and_other_files() {
        let s = sources(&[("a.rst", "one\ntwo\n"), ("b.rst", "three\n")]);
        let d = Diagnostic::warning("types disagree")
            .at(&at("a.rst", 2, 1))
            .label("here")
            .related("also stated here", &at("a.rst", 1, 1))
            .related("and here", &at("b.rst", 1, 1));
        let out = render(&d, &s, false);
        assert!(out.contains("also stated here"), "{out}");
        assert!(out.contains("b.rst:1:1"), "{out}");
        assert!(out.contains("three"), "{out}");
    }

    #[test]
    fn never_panics_on_missing_files_or_places() {
        let s = sources(&[("a.rst", "æø\n")]);
        for (line, column) in [
            (0, 0),
            (1, 1),
            (1, 3),
            (1, 99),
            (2, 1),
            (99, 99),
            (u32::MAX, u32::MAX),
        ] {
            let d = Diagnostic::error("x")
                .at(&at("a.rst", line, column))
                .label("l");
            assert!(render(&d, &s, true).contains('x'));
            let d = Diagnostic::error("x").at(&at("gone.rst", line, column));
            assert!(render(&d, &s, false).contains(&format!("gone.rst:{line}:{column}")));
        }
        let s = sources(&[("e.rst", "")]);
        let d = Diagnostic::error("file is empty").at(&at("e.rst", 1, 1));
        assert!(render(&d, &s, false).contains("file is empty"));
    }

    #[test]
    fn renders_diagnostics_without_a_file_plainly() {
        let d = Diagnostic::note("two flows").help("merge them");
        assert_eq!(
            render(&d, &Sources::default(), false),
            "note: two flows\n  help: merge them\n"
        );
    }
}
