//! The document reader: one dataflow document's bytes → an [`ast::Document`] in which every
//! value keeps its file, line and column, plus diagnostics for everything malformed or not
//! understood. It never panics and never stops at the first problem.
//!
//! Layers, bottom up: [`lines`] (bytes, line endings, columns), [`rst`] (block structure),
//! [`heading`] (title and flow headings), [`sentence`] (the sentences of a flow section),
//! [`table`] (merge and property tables); this module walks the blocks and fills the AST.

mod heading;
mod lines;
mod report;
mod rst;
mod sentence;
mod table;

use crate::ast::{self, Spanned};
use crate::model::Diagnostic;

use heading::{HeadingKind, Missing, same_name, split_heading, split_title, system_at};
use lines::{Line, column_of};
use report::Report;
use rst::{Block, Heading, ListTable, Paragraph, Pos};
use sentence::{Expected, Form, Sentence, Slot, recognize, split_entities, split_sentences};

pub use heading::normalize;

/// Reads one document. `None` when nothing usable could be read (the diagnostics say why).
pub fn read_document(file: &str, bytes: &[u8]) -> (Option<ast::Document>, Vec<Diagnostic>) {
    let mut report = Report::new(file);
    let document = read(&mut report, bytes);
    (document, report.finish())
}

const TITLE_HELP: &str = "a document starts with its title between two `===` lines: `<Source> to <Target> Dataflow`, e.g. `Chargebee to Powerofficego Dataflow`";

fn read(report: &mut Report<'_>, bytes: &[u8]) -> Option<ast::Document> {
    let text = match lines::decode(bytes) {
        Ok(text) => text,
        Err(bad) => {
            report
                .error(
                    Pos {
                        line: bad.line,
                        column: bad.column,
                    },
                    "file is not UTF-8",
                )
                .label("this byte is not UTF-8")
                .help("save the document as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)");
            return None;
        }
    };
    if text.trim().is_empty() {
        report
            .error(Pos { line: 1, column: 1 }, "file is empty")
            .help(TITLE_HELP);
        return None;
    }
    // Lines average about 30 bytes in these documents; a little room avoids regrowing.
    let mut lines: Vec<Line<'_>> = Vec::with_capacity(text.len() / 24 + 1);
    lines::split_into(text, &mut lines);
    let mut parser = rst::Parser::new(&lines);
    let mut reader = Reader {
        report,
        document: None,
        state: State::BeforeTitle,
        section: None,
        generated_seen: false,
        spare: Default::default(),
    };
    while reader.state != State::Failed
        && let Some(block) = parser.next_block()
    {
        reader.block(&block);
        parser.recycle(block);
    }
    let document = reader.finish();
    for finding in parser.findings {
        report.finding(finding);
    }
    document
}

/// The position of byte `offset` of `text`, which starts at `start` on one line.
fn shift(start: Pos, text: &str, offset: usize) -> Pos {
    Pos {
        line: start.line,
        column: start.column.saturating_add(column_of(text, offset) - 1),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    BeforeTitle,
    /// Between the title and the first section: the `Generated:` line.
    Preamble,
    /// In a section whose content is not read (`Introduction`, ignored or malformed headings).
    Skipping,
    InSection,
    /// No title could be read: nothing else is.
    Failed,
}

/// The flow section being read.
#[derive(Debug)]
struct Current {
    section: ast::Section,
    source_system: String,
    target_system: String,
    /// `<source system> <source entity>` as the title spells the system.
    x: String,
    y: String,
    /// A table the last sentence announced.
    pending: Option<(table::Kind, Pos)>,
}

#[derive(Debug)]
struct Reader<'r, 'f> {
    report: &'r mut Report<'f>,
    document: Option<ast::Document>,
    state: State,
    section: Option<Current>,
    generated_seen: bool,
    /// The name buffers of the last closed section ([`Current`]'s `source_system`,
    /// `target_system`, `x`, `y`), reused for the next one.
    spare: [String; 4],
}

impl Reader<'_, '_> {
    fn block(&mut self, block: &Block<'_>) {
        match block {
            Block::Heading(h) => self.heading(h),
            Block::Paragraph(p) => self.paragraph(p),
            Block::ListTable(t) => self.list_table(t),
            Block::Ignored { what, pos } => {
                if self.state != State::Skipping {
                    self.report
                        .warning(*pos, format!("{what} is ignored"))
                        .help("a flow section holds sentences and list-tables only");
                }
            }
        }
    }

    fn heading(&mut self, h: &Heading<'_>) {
        self.close_section();
        let Some(document) = &self.document else {
            self.title(h);
            return;
        };
        if h.text.eq_ignore_ascii_case("introduction") {
            self.state = State::Skipping;
            return;
        }
        // The section's name buffers are the last section's, refilled.
        let [mut source, mut target, x, y] = std::mem::take(&mut self.spare);
        refill(&mut source, &[&document.source_system.value]);
        refill(&mut target, &[&document.target_system.value]);
        match split_heading(h.text, &source, &target) {
            HeadingKind::Flow(flow) => self.open_section(h, flow, [source, target, x, y]),
            HeadingKind::Malformed(missing) => {
                let message = match missing {
                    Missing::Both => "heading names neither system".to_string(),
                    Missing::Source => format!("heading does not name {}", shown(&source)),
                    Missing::Target => format!("heading does not name {}", shown(&target)),
                    Missing::SourceEntity => {
                        format!("heading names no source entity after {}", shown(&source))
                    }
                    Missing::TargetEntity => {
                        format!("heading names no target entity after {}", shown(&target))
                    }
                };
                self.report
                    .error(h.pos, message)
                    .label("this heading")
                    .help(format!(
                        "a flow heading reads `<Source> <entity> to <Target> <entity>`; in this document `{source} <entity> to {target} <entity>`"
                    ));
                self.state = State::Skipping;
            }
            HeadingKind::Other => {
                self.report
                    .warning(h.pos, format!("section `{}` ignored", h.text))
                    .label("not a flow heading")
                    .help(format!(
                        "flow headings read `{source} <entity> to {target} <entity>`; other sections are not read"
                    ));
                self.state = State::Skipping;
            }
        }
    }

    fn title(&mut self, h: &Heading<'_>) {
        let Some(title) = split_title(h.text) else {
            self.report
                .error(
                    h.pos,
                    "no title: the first heading does not read `<Source> to <Target> Dataflow`",
                )
                .label("the first heading")
                .help(TITLE_HELP);
            self.state = State::Failed;
            return;
        };
        if !title.says_dataflow {
            self.report
                .warning(h.pos, "the title does not end with `Dataflow`")
                .help("a title reads `<Source> to <Target> Dataflow`");
        }
        let loc = |offset| self.report.loc(shift(h.pos, h.text, offset));
        self.document = Some(ast::Document {
            file: self.report.file.to_string(),
            title: Spanned::new(h.text.to_string(), self.report.loc(h.pos)),
            source_system: Spanned::new(title.source.1.to_string(), loc(title.source.0)),
            target_system: Spanned::new(title.target.1.to_string(), loc(title.target.0)),
            generated: None,
            sections: Vec::new(),
        });
        self.state = State::Preamble;
    }

    /// Opens a flow section; `names` are buffers for the section's system names and for
    /// `x` and `y`.
    fn open_section(
        &mut self,
        h: &Heading<'_>,
        flow: heading::FlowHeading<'_>,
        names: [String; 4],
    ) {
        let [source, target, mut x, mut y] = names;
        let at = |offset| self.report.loc(shift(h.pos, h.text, offset));
        let (source_entity, target_entity) = (flow.source.entity.1, flow.target.entity.1);
        let spelling = |s: &str, system: &str| (s != system).then(|| s.to_string());
        let section = ast::Section {
            location: self.report.loc(h.pos),
            source_entity: Spanned::new(source_entity.to_string(), at(flow.source.entity.0)),
            target_entity: Spanned::new(target_entity.to_string(), at(flow.target.entity.0)),
            source_spelling: spelling(flow.source.spelling, &source),
            target_spelling: spelling(flow.target.spelling, &target),
            every: None,
            link_required: None,
            connected_via: Vec::new(),
            condition: None,
            merge: None,
            create_if_no_match: None,
            bidirectional: None,
            match_rows: Vec::new(),
            property_rows: Vec::new(),
            property_table: None,
        };
        refill(&mut x, &[&source, " ", source_entity]);
        refill(&mut y, &[&target, " ", target_entity]);
        self.section = Some(Current {
            section,
            source_system: source,
            target_system: target,
            x,
            y,
            pending: None,
        });
        self.state = State::InSection;
    }

    fn close_section(&mut self) {
        let Some(current) = self.section.take() else {
            return;
        };
        if let Some((_, pos)) = current.pending {
            self.report
                .warning(
                    pos,
                    "this sentence announces a table, but no list-table follows",
                )
                .help("put the `.. list-table::` right after the sentence");
        }
        if let Some(document) = &mut self.document {
            document.sections.push(current.section);
        }
        self.spare = [
            current.source_system,
            current.target_system,
            current.x,
            current.y,
        ];
    }

    fn paragraph(&mut self, p: &Paragraph<'_>) {
        match self.state {
            State::BeforeTitle => {
                self.report
                    .warning(p.start(), "text before the title is ignored")
                    .help(TITLE_HELP);
            }
            State::Preamble => {
                if let Some(value) = p.text.strip_prefix("Generated:") {
                    self.generated(p, value);
                } else {
                    self.report
                        .warning(p.start(), "text outside a flow section is ignored")
                        .help("only the `Generated:` line stands between the title and the first section");
                }
            }
            State::InSection => self.sentences(p),
            State::Skipping | State::Failed => {}
        }
    }

    fn generated(&mut self, p: &Paragraph<'_>, value: &str) {
        let trimmed = value.trim();
        let offset = p.text.len() - value.len() + (value.len() - value.trim_start().len());
        let pos = p.pos(offset);
        if self.generated_seen {
            self.report
                .warning(pos, "second `Generated:` line is ignored");
            return;
        }
        self.generated_seen = true;
        let normalized = match timestamp(trimmed) {
            Some(iso) => iso,
            None => {
                self.report
                    .warning(
                        pos,
                        format!(
                            "`Generated:` value `{trimmed}` is not a timestamp; kept as written"
                        ),
                    )
                    .label("this value")
                    .help("write `Generated: YYYY-MM-DD HH:MM:SS`");
                trimmed.to_string()
            }
        };
        let location = self.report.loc(pos);
        if let Some(document) = &mut self.document {
            document.generated = Some(Spanned::new(normalized, location));
        }
    }

    fn sentences(&mut self, p: &Paragraph<'_>) {
        let Some(current) = &mut self.section else {
            return;
        };
        if let Some((_, pos)) = current.pending.take() {
            self.report
                .warning(
                    pos,
                    "this sentence announces a table, but no list-table follows",
                )
                .help("put the `.. list-table::` right after the sentence");
        }
        let text = p.text.as_ref();
        let expected = Expected {
            x: &current.x,
            y: &current.y,
        };
        if let Some(sentence) = recognize(text, expected) {
            self.apply(p, 0, text, &sentence);
            return;
        }
        let parts = split_sentences(text);
        if parts.len() > 1 {
            let recognized: Vec<Option<Sentence>> = parts
                .iter()
                .map(|&(a, b)| text.get(a..b).and_then(|t| recognize(t, expected)))
                .collect();
            if recognized.iter().any(Option::is_some) {
                for (&(a, b), sentence) in parts.iter().zip(&recognized) {
                    let piece = text.get(a..b).unwrap_or_default();
                    match sentence {
                        Some(s) => self.apply(p, a, piece, s),
                        None => self.unrecognized(p.pos(a)),
                    }
                }
                return;
            }
        }
        self.unrecognized(p.start());
    }

    fn unrecognized(&mut self, pos: Pos) {
        let example = match &self.section {
            Some(c) => format!(
                "a flow section's sentences read e.g. `Every {} will be synchronized with a {}.`",
                c.x, c.y
            ),
            None => String::new(),
        };
        self.report
            .warning(pos, "unrecognized sentence; it is ignored")
            .label("this sentence")
            .help(example);
    }

    /// Fills the section from a recognized sentence that starts at byte `base` of `p`.
    fn apply(&mut self, p: &Paragraph<'_>, base: usize, text: &str, sentence: &Sentence) {
        let Some(current) = &mut self.section else {
            return;
        };
        let report = &mut *self.report;
        let start = p.pos(base);
        let slot_text = |a: usize, b: usize| text.get(a..b).unwrap_or_default();
        // Names that differ from the heading's.
        for &(slot, a, b) in sentence.all() {
            let (expected, system, entity) = match slot {
                Slot::X => (
                    &current.x,
                    &current.source_system,
                    &current.section.source_entity.value,
                ),
                Slot::Y => (
                    &current.y,
                    &current.target_system,
                    &current.section.target_entity.value,
                ),
                _ => continue,
            };
            let named = slot_text(a, b);
            let fits = same_name(named, expected)
                || system_at(named, system).is_some_and(|s| same_name(s.entity.1, entity));
            if !fits {
                report
                    .warning(
                        p.pos(base + a),
                        format!(
                            "sentence names `{}` but the heading names `{}`",
                            named.trim(),
                            expected.trim()
                        ),
                    )
                    .label("this name")
                    .help(format!(
                        "write `{}` as in the heading, or fix the heading",
                        expected.trim()
                    ));
            }
        }
        // The location is made only for a sentence that is kept (one allocation, no clone).
        let first = |field: &mut Option<crate::model::Location>| {
            if field.is_none() {
                *field = Some(report.loc(start));
            }
        };
        let section = &mut current.section;
        match sentence.form {
            Form::Every => first(&mut section.every),
            Form::LinkRequired => first(&mut section.link_required),
            Form::Merge => first(&mut section.merge),
            Form::CreateIfNoMatch => first(&mut section.create_if_no_match),
            Form::Bidirectional => first(&mut section.bidirectional),
            Form::MergeTable => current.pending = Some((table::Kind::Match, start)),
            Form::PropertyTable => current.pending = Some((table::Kind::Property, start)),
            Form::Condition => {
                let Some((a, b)) = sentence.slots(Slot::Condition).next() else {
                    return;
                };
                let raw = slot_text(a, b);
                let (skip, condition) = match raw.strip_prefix("When ") {
                    Some(rest) => (raw.len() - rest.len(), rest),
                    None => (0, raw),
                };
                let condition = condition.trim_end();
                let at = p.pos(base + a + skip);
                if condition.trim().is_empty() {
                    report
                        .warning(at, "empty condition; the sentence is ignored")
                        .help("write the condition before `, it will be synchronized`: `When <condition>, it will be synchronized with a …`");
                } else if section.condition.is_some() {
                    report
                        .warning(at, "second condition in this section; the first is kept")
                        .help("state one condition per flow section");
                } else {
                    section.condition = Some(Spanned::new(condition.to_string(), report.loc(at)));
                }
            }
            Form::CreatedWhenConnected => {
                if let Some((a, b)) = sentence.slots(Slot::Into).next() {
                    let into = slot_text(a, b).trim();
                    let spelled = section
                        .target_spelling
                        .as_deref()
                        .unwrap_or(&current.target_system);
                    if !same_name(into, &current.target_system) && !same_name(into, spelled) {
                        report
                            .warning(p.pos(base + a), format!(
                                "the connected record is synchronized into `{into}`, not into this flow's target system `{}`",
                                current.target_system
                            ))
                            .label("this system");
                    }
                }
                let Some((a, b)) = sentence.slots(Slot::Connected).next() else {
                    return;
                };
                let list = slot_text(a, b);
                let (list_at, entities) = match system_at(list, &current.source_system) {
                    Some(s) => (s.entity.0, &list[s.entity.0..]),
                    None => {
                        report
                            .warning(
                                p.pos(base + a),
                                format!(
                                    "`{}` does not start with the source system `{}`",
                                    list.trim(),
                                    current.source_system
                                ),
                            )
                            .label("these entities")
                            .help(format!(
                                "write `connected to a {} <entity>`",
                                current.source_system
                            ));
                        (0, list)
                    }
                };
                for (from, to) in split_entities(entities) {
                    let name = entities.get(from..to).unwrap_or_default();
                    let pos = p.pos(base + a + list_at + from);
                    section
                        .connected_via
                        .push(Spanned::new(name.to_string(), report.loc(pos)));
                }
            }
        }
    }

    fn list_table(&mut self, t: &ListTable<'_>) {
        match self.state {
            State::InSection => {}
            State::Skipping | State::Failed => return,
            State::BeforeTitle | State::Preamble => {
                self.report
                    .warning(t.pos, "list-table outside a flow section is ignored")
                    .help(
                        "tables belong to a flow section, after the sentence that announces them",
                    );
                return;
            }
        }
        let Some(current) = &mut self.section else {
            return;
        };
        let Some((kind, _)) = current.pending.take() else {
            self.report
                .warning(t.pos, "list-table is not announced by a sentence; it is ignored")
                .label("this table")
                .help(format!(
                    "put `The following properties are synchronized between a {} and a {}:` before a property table, or `A {} will merge with a {} if one of the following property combinations match:` before a merge table",
                    current.x, current.y, current.x, current.y
                ));
            return;
        };
        let section = &mut current.section;
        let header = table::Header {
            source: table::Side {
                system: &current.source_system,
                spelling: section
                    .source_spelling
                    .as_deref()
                    .unwrap_or(&current.source_system),
                entity: &section.source_entity.value,
            },
            target: table::Side {
                system: &current.target_system,
                spelling: section
                    .target_spelling
                    .as_deref()
                    .unwrap_or(&current.target_system),
                entity: &section.target_entity.value,
            },
        };
        let rows = table::read(self.report, t, kind, &header);
        let section = &mut current.section;
        match kind {
            table::Kind::Match => append(&mut section.match_rows, rows.matches),
            table::Kind::Property => {
                if section.property_table.is_some() {
                    self.report
                        .warning(t.pos, "second property table in this section; its rows are added to the first's")
                        .help("one property table per flow section");
                } else {
                    section.property_table = Some(self.report.loc(t.pos));
                }
                append(&mut section.property_rows, rows.properties);
            }
        }
    }

    fn finish(mut self) -> Option<ast::Document> {
        self.close_section();
        if self.state == State::Failed {
            return None;
        }
        let Some(document) = self.document else {
            self.report
                .error(Pos { line: 1, column: 1 }, "no title")
                .help(TITLE_HELP);
            return None;
        };
        if !self.generated_seen {
            let pos = Pos {
                line: document.title.location.line,
                column: document.title.location.column,
            };
            self.report
                .warning(pos, "no `Generated:` line")
                .help("add `Generated: YYYY-MM-DD HH:MM:SS` under the title");
        }
        Some(document)
    }
}

/// `to.extend(rows)`, reusing `rows`' buffer when `to` is empty (the usual case: one table
/// per kind per section).
fn append<T>(to: &mut Vec<T>, rows: Vec<T>) {
    if to.is_empty() {
        *to = rows;
    } else {
        to.extend(rows);
    }
}

/// Replaces `buffer`'s text with `parts` joined, reusing its allocation.
fn refill(buffer: &mut String, parts: &[&str]) {
    buffer.clear();
    for part in parts {
        buffer.push_str(part);
    }
}

/// A system name for messages (`the blank system` for `""`).
fn shown(system: &str) -> String {
    if system.is_empty() {
        "the blank system".to_string()
    } else {
        format!("`{system}`")
    }
}

/// `2024-09-09 00:00:00` or `2024-09-09T00:00:00` → `2024-09-09T00:00:00`.
fn timestamp(value: &str) -> Option<String> {
    let b = value.as_bytes();
    if b.len() != 19 {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = value.get(range)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let shape = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b' ' | b'T')
        && b[13] == b':'
        && b[16] == b':';
    let (_, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let valid = shape
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour <= 23
        && minute <= 59
        && second <= 60;
    valid.then(|| format!("{}T{}", &value[..10], &value[11..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    #[test]
    fn normalizes_timestamps() {
        assert_eq!(
            timestamp("2024-09-09 00:00:00").as_deref(),
            Some("2024-09-09T00:00:00")
        );
        assert_eq!(
            timestamp("2024-09-10T15:43:43").as_deref(),
            Some("2024-09-10T15:43:43")
        );
        assert_eq!(timestamp("2024-13-10 15:43:43"), None);
        assert_eq!(timestamp("yesterday"), None);
        assert_eq!(timestamp("2024-09-09 00:00:0æ"), None);
    }

    #[test]
    fn reads_a_minimal_document() {
        let doc = "===============\nA to B Dataflow\n===============\n\nGenerated: 2024-01-02 03:04:05\n\nA X to B Y\n----------\nEvery A X will be synchronized with a B Y.\n\nThe following properties are synchronized between a A X and a B Y:\n\n.. list-table::\n   :header-rows: 1\n\n   * - A X Property\n     - B Y Property\n     - B Data Type\n   * - p\n     - q\n     - \"integer\"\n";
        let (document, diagnostics) = read_document("d.rst", doc.as_bytes());
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let document = document.unwrap();
        assert_eq!(document.generated.unwrap().value, "2024-01-02T03:04:05");
        assert_eq!(document.sections.len(), 1);
        let s = &document.sections[0];
        assert_eq!(s.every.as_ref().map(|l| (l.line, l.column)), Some((9, 1)));
        assert_eq!(s.property_rows.len(), 1);
        assert_eq!(
            s.property_rows[0].ty.value,
            Some(crate::model::DataType::Integer)
        );
        assert_eq!(s.property_table.as_ref().map(|l| l.line), Some(13));
    }

    #[test]
    fn empty_and_untitled_files_read_nothing() {
        let (d, diags) = read_document("e.rst", b" \n\t\r\n");
        assert!(d.is_none());
        assert_eq!(
            (diags[0].message.as_str(), diags[0].line, diags[0].column),
            ("file is empty", Some(1), Some(1))
        );
        let (d, diags) = read_document("e.rst", b"just text\n");
        assert!(d.is_none());
        assert!(diags.iter().any(|d| d.message == "no title"));
    }

    const HEAD: &str = "===============\nA to B Dataflow\n===============\n\nGenerated: 2024-01-02 03:04:05\n\nA X to B Y\n----------\n";

    /// (line, column, severity, message) of every diagnostic of `HEAD` + `body`.
    fn findings(body: &str) -> Vec<(u32, u32, Severity, String)> {
        let (_, diagnostics) = read_document("d.rst", format!("{HEAD}{body}").as_bytes());
        diagnostics
            .into_iter()
            .map(|d| {
                (
                    d.line.unwrap_or(0),
                    d.column.unwrap_or(0),
                    d.severity,
                    d.message,
                )
            })
            .collect()
    }

    fn w(line: u32, column: u32, message: &str) -> (u32, u32, Severity, String) {
        (line, column, Severity::Warning, message.to_string())
    }

    const PROPERTIES: &str =
        "The following properties are synchronized between a A X and a B Y:\n\n";

    #[test]
    fn warns_about_tables() {
        // Unknown option, a header that does not match, an unannounced table.
        let body = format!(
            "{PROPERTIES}.. list-table::\n   :header-rows: 1\n   :colour: red\n\n   * - A X Property\n     - B Z Property\n     - B Data Type\n\n.. list-table::\n\n   * - a\n     - b\n     - \"string\"\n"
        );
        assert_eq!(
            findings(&body),
            [
                w(13, 4, "unknown list-table option `:colour:`; it is ignored"),
                w(
                    16,
                    8,
                    "table header `B Z Property` does not match the section"
                ),
                w(
                    19,
                    1,
                    "list-table is not announced by a sentence; it is ignored"
                ),
            ]
        );
        // No `:header-rows:` but a header row: read as a header, with a warning.
        let body = format!(
            "{PROPERTIES}.. list-table::\n\n   * - A X Property\n     - B Y Property\n     - B Data Type\n"
        );
        let (d, diagnostics) = read_document("d.rst", format!("{HEAD}{body}").as_bytes());
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].message.contains("looks like a header"));
        assert!(d.unwrap().sections[0].property_rows.is_empty());
        // An announced table that never comes; a second property table.
        let table = ".. list-table::\n   :header-rows: 1\n\n   * - A X Property\n     - B Y Property\n     - B Data Type\n   * - p\n     - q\n     - \"date\"\n\n";
        let body = format!(
            "{PROPERTIES}Every A X will be synchronized with a B Y.\n\n{PROPERTIES}{table}{PROPERTIES}{table}"
        );
        let found = findings(&body);
        assert_eq!(
            found[0],
            w(
                9,
                1,
                "this sentence announces a table, but no list-table follows"
            )
        );
        assert_eq!(
            found[1].3,
            "second property table in this section; its rows are added to the first's"
        );
        assert_eq!(found.len(), 2);
        let (d, _) = read_document("d.rst", format!("{HEAD}{body}").as_bytes());
        assert_eq!(d.unwrap().sections[0].property_rows.len(), 2);
    }

    #[test]
    fn warns_about_the_preamble() {
        let (d, diagnostics) = read_document(
            "d.rst",
            b"Stray text.\n\n======\nA to B\n======\n\nGenerated: last week\n\nMore text.\n",
        );
        let d = d.unwrap();
        assert_eq!(d.generated.unwrap().value, "last week");
        assert_eq!(
            (
                d.source_system.value.as_str(),
                d.target_system.value.as_str()
            ),
            ("A", "B")
        );
        let found: Vec<(u32, &str)> = diagnostics
            .iter()
            .map(|d| (d.line.unwrap_or(0), d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (1, "text before the title is ignored"),
                (4, "the title does not end with `Dataflow`"),
                (
                    7,
                    "`Generated:` value `last week` is not a timestamp; kept as written"
                ),
                (9, "text outside a flow section is ignored"),
            ]
        );
        let (_, diagnostics) = read_document(
            "d.rst",
            b"===============\nA to B Dataflow\n===============\n",
        );
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(
            (diagnostics[0].line, diagnostics[0].message.as_str()),
            (Some(2), "no `Generated:` line")
        );
    }

    #[test]
    fn skips_introduction_and_ignored_sections_quietly() {
        let body = "Every A X will be synchronized with a B Y.\n\nIntroduction\n------------\n\nAnything at all.\n\n.. list-table::\n\n   * - x\n\nNotes\n-----\nMore.\n\n* a list\n";
        assert_eq!(findings(body), [w(20, 1, "section `Notes` ignored")]);
    }

    #[test]
    fn reports_missing_entities_in_headings() {
        let found = findings("Every A X will be synchronized with a B Y.\n\nA X to B\n--------\n");
        assert_eq!(
            found,
            [(
                11,
                1,
                Severity::Error,
                "heading names no target entity after `B`".to_string()
            )]
        );
    }
}
