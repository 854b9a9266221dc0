//! The block structure of the reStructuredText subset the documents use: section titles
//! (underlined, optionally overlined), paragraphs (lines joined, every byte mapped back to its
//! line and column), `list-table` directives, and blocks that are recognized only to be
//! skipped (comments, other directives, bullet lists outside a table).

use std::borrow::Cow;

use super::lines::{Line, column_of, trim, trim_blank_start, trim_end};
use crate::model::Severity;

/// A place in the document: 1-based line and character column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// Something wrong with the structure, found while splitting blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
    pub pos: Pos,
    pub label: Option<&'static str>,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block<'a> {
    Heading(Heading<'a>),
    Paragraph(Paragraph<'a>),
    ListTable(ListTable<'a>),
    /// A block that carries nothing the reader understands (another directive, a bullet
    /// list outside a table); `what` names it for the warning.
    Ignored {
        what: String,
        pos: Pos,
    },
}

/// A section title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading<'a> {
    /// The title text, trimmed.
    pub text: &'a str,
    /// Where the text starts.
    pub pos: Pos,
    pub overline: bool,
    pub adornment: char,
}

/// A paragraph: its lines trimmed and joined with one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph<'a> {
    pub text: Cow<'a, str>,
    /// Where the first line starts.
    pub first: Pos,
    /// Where each further joined line starts, in `text` and in the document (most
    /// paragraphs are one line: no allocation for them).
    pub rest: Vec<Piece>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Byte offset in the joined text.
    pub start: usize,
    pub pos: Pos,
}

impl Paragraph<'_> {
    /// The document position of byte `offset` of the joined text.
    pub fn pos(&self, offset: usize) -> Pos {
        let index = self.rest.partition_point(|p| p.start <= offset);
        let piece = match index.checked_sub(1).and_then(|i| self.rest.get(i)) {
            Some(piece) => *piece,
            None => Piece {
                start: 0,
                pos: self.first,
            },
        };
        pos_in(&self.text, piece, offset)
    }

    /// The start of the paragraph.
    pub fn start(&self) -> Pos {
        self.first
    }
}

/// Maps a byte offset of a joined text back to the document, in the line `piece` starts.
fn pos_in(text: &str, piece: Piece, offset: usize) -> Pos {
    let from = piece.start.min(text.len());
    let within = text.get(from..).unwrap_or_default();
    let column = column_of(within, offset.saturating_sub(from)) - 1;
    Pos {
        line: piece.pos.line,
        column: piece.pos.column.saturating_add(column),
    }
}

/// A `.. list-table::` directive and its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListTable<'a> {
    /// The `..` of the directive.
    pub pos: Pos,
    /// Text after `list-table::` on the directive line.
    pub title: &'a str,
    pub options: Vec<TableOption<'a>>,
    pub rows: Vec<Row>,
    /// Every row's cells, in order (one vector per table, not per row).
    pub cells: Vec<Cell<'a>>,
    /// True when nothing but blank lines follows the table: the file ends inside it.
    pub ends_file: bool,
    /// Just after the last character of the table's last line.
    pub end: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOption<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub pos: Pos,
}

/// A row: `* - cell` and the cells under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The row's `*` marker.
    pub pos: Pos,
    /// Its cells' range in [`ListTable::cells`].
    pub start: usize,
    pub end: usize,
}

impl<'a> ListTable<'a> {
    /// The cells of `row`.
    pub fn cells(&self, row: &Row) -> &[Cell<'a>] {
        self.cells.get(row.start..row.end).unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell<'a> {
    /// Trimmed; continuation lines joined with one space.
    pub text: Cow<'a, str>,
    /// The first character of the text (the `-` for an empty cell).
    pub pos: Pos,
}

/// The characters rst accepts for section adornment (7-bit printable non-alphanumerics).
fn is_adornment_char(c: u8) -> bool {
    c.is_ascii_punctuation()
}

/// The adornment character and length when the line is an adornment line (`-----`).
fn adornment(line: &Line<'_>) -> Option<(char, usize)> {
    let text = line.text.trim_end_matches([' ', '\t']);
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if bytes.len() < 2 || !is_adornment_char(first) || !bytes.iter().all(|&b| b == first) {
        return None;
    }
    Some((char::from(first), bytes.len()))
}

fn char_len(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// A bullet (`*`, `-`, `+`, followed by whitespace or the end): the text after it and the
/// byte offset of that text.
fn bullet(text: &str) -> Option<(u8, usize, &str)> {
    let first = *text.as_bytes().first()?;
    if !matches!(first, b'*' | b'-' | b'+') {
        return None;
    }
    let rest = &text[1..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let body = trim_blank_start(rest);
    Some((first, text.len() - body.len(), body))
}

/// `.. name::` → (name, the text after `::`); `None` for comments and non-directives.
fn directive(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("..")?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let rest = trim_blank_start(rest);
    let end = rest.find("::")?;
    let name = &rest[..end];
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.' | b':'))
    {
        return None;
    }
    Some((name, rest[end + 2..].trim()))
}

fn is_comment_or_directive(text: &str) -> bool {
    text == ".." || (text.starts_with("..") && text[2..].starts_with([' ', '\t']))
}

/// Splits the document into blocks.
#[derive(Debug)]
pub struct Parser<'a, 'l> {
    lines: &'l [Line<'a>],
    /// The line the next block starts at (or blank lines before it).
    next: usize,
    pub findings: Vec<Finding>,
    /// The buffers of the last table handed back with [`Parser::recycle`]: a document has
    /// a table or two per section, and growing fresh vectors for each was a tenth of the
    /// reader's allocations.
    spare: Spare<'a>,
}

#[derive(Debug, Default)]
struct Spare<'a> {
    options: Vec<TableOption<'a>>,
    rows: Vec<Row>,
    cells: Vec<Cell<'a>>,
}

impl<'a, 'l> Parser<'a, 'l> {
    pub fn new(lines: &'l [Line<'a>]) -> Self {
        Parser {
            lines,
            next: 0,
            findings: Vec::new(),
            spare: Spare::default(),
        }
    }

    /// Takes back a block that has been read, to reuse its buffers for the next table.
    pub fn recycle(&mut self, block: Block<'a>) {
        if let Block::ListTable(mut table) = block {
            table.options.clear();
            table.rows.clear();
            table.cells.clear();
            self.spare = Spare {
                options: table.options,
                rows: table.rows,
                cells: table.cells,
            };
        }
    }

    fn line(&self, i: usize) -> Option<&'l Line<'a>> {
        self.lines.get(i)
    }

    fn pos(&self, line: &Line<'_>, byte: usize) -> Pos {
        Pos {
            line: line.number,
            column: line.column(byte),
        }
    }

    fn warn(&mut self, pos: Pos, message: String, help: Option<String>) {
        self.findings.push(Finding {
            severity: Severity::Warning,
            message,
            pos,
            label: None,
            help,
        });
    }

    /// The next block of the document (blocks are read one at a time: a document's
    /// blocks are never all held at once).
    pub fn next_block(&mut self) -> Option<Block<'a>> {
        while let Some(line) = self.line(self.next) {
            let i = self.next;
            if line.is_blank() {
                self.next += 1;
                continue;
            }
            let (block, next) = self.block(i);
            // Always make progress, whatever the block parsers returned.
            self.next = next.max(i + 1);
            if block.is_some() {
                return block;
            }
        }
        None
    }

    /// Every block of the document, in order.
    #[cfg(test)]
    pub fn blocks(&mut self) -> Vec<Block<'a>> {
        std::iter::from_fn(|| self.next_block()).collect()
    }

    /// The heading that starts at line `i`, if one does: (heading, lines it takes).
    fn heading_at(&mut self, i: usize) -> Option<(Heading<'a>, usize)> {
        let first = self.line(i)?;
        if let Some((c, over_len)) = adornment(first) {
            let text_line = self.line(i + 1)?;
            let under = self.line(i + 2).and_then(adornment);
            if text_line.is_blank() || adornment(text_line).is_some() {
                return None;
            }
            let (under_c, under_len) = under?;
            if under_c != c {
                return None;
            }
            let (off, text) = text_line.trimmed_start();
            let text = trim_end(text);
            let pos = self.pos(text_line, off);
            let len = char_len(text);
            if over_len < len || under_len < len {
                self.warn(
                    pos,
                    "title overline or underline is shorter than the title".into(),
                    Some(format!("make both lines at least {len} characters long")),
                );
            }
            return Some((
                Heading {
                    text,
                    pos,
                    overline: true,
                    adornment: c,
                },
                3,
            ));
        }
        let under = self.line(i + 1)?;
        let (c, under_len) = adornment(under)?;
        let (off, text) = first.trimmed_start();
        let text = trim_end(text);
        let len = char_len(text);
        // docutils takes a short line of punctuation under text for a title only from 4
        // characters on; shorter, it is text.
        if under_len < len && under_len < 4 {
            return None;
        }
        let pos = self.pos(first, off);
        if under_len < len {
            self.warn(
                Pos {
                    line: under.number,
                    column: 1,
                },
                format!("title underline is shorter than the title ({under_len} < {len})"),
                Some(format!("make the underline at least {len} characters long")),
            );
        }
        Some((
            Heading {
                text,
                pos,
                overline: false,
                adornment: c,
            },
            2,
        ))
    }

    fn block(&mut self, i: usize) -> (Option<Block<'a>>, usize) {
        let Some(line) = self.line(i) else {
            return (None, i + 1);
        };
        if let Some((heading, taken)) = self.heading_at(i) {
            return (Some(Block::Heading(heading)), i + taken);
        }
        if adornment(line).is_some() && line.indent() == 0 {
            // A transition (or a title whose other lines are missing): nothing to read.
            return (None, i + 1);
        }
        let (off, text) = line.trimmed_start();
        if is_comment_or_directive(text) {
            let pos = self.pos(line, off);
            return match directive(text) {
                Some(("list-table", title)) => self.list_table(i, title),
                Some((name, _)) => (
                    Some(Block::Ignored {
                        what: format!("directive `{name}`"),
                        pos,
                    }),
                    self.skip_indented(i),
                ),
                None => (None, self.skip_indented(i)),
            };
        }
        if bullet(text).is_some() {
            let pos = self.pos(line, off);
            return (
                Some(Block::Ignored {
                    what: "bullet list outside a list-table".into(),
                    pos,
                }),
                self.skip_list(i),
            );
        }
        self.paragraph(i)
    }

    /// Past the lines indented more than line `i` (a directive's or comment's body).
    fn skip_indented(&self, i: usize) -> usize {
        let base = self.line(i).map_or(0, Line::indent);
        let mut j = i + 1;
        while let Some(l) = self.line(j) {
            if !l.is_blank() && l.indent() <= base {
                break;
            }
            j += 1;
        }
        j
    }

    /// Past a bullet list starting at line `i`.
    fn skip_list(&self, i: usize) -> usize {
        let base = self.line(i).map_or(0, Line::indent);
        let mut j = i + 1;
        while let Some(l) = self.line(j) {
            if !l.is_blank() && l.indent() <= base && bullet(l.trimmed_start().1).is_none() {
                break;
            }
            if l.is_blank()
                && self
                    .line(j + 1)
                    .is_none_or(|n| n.indent() <= base && bullet(n.trimmed_start().1).is_none())
            {
                break;
            }
            j += 1;
        }
        j
    }

    fn paragraph(&mut self, i: usize) -> (Option<Block<'a>>, usize) {
        let mut rest = Vec::new();
        let mut first = None;
        let mut text: Cow<'a, str> = Cow::Borrowed("");
        let mut j = i;
        while let Some(line) = self.line(j) {
            if line.is_blank() {
                break;
            }
            let (off, t) = line.trimmed_start();
            if j > i && (is_comment_or_directive(t) || self.heading_starts(j)) {
                break;
            }
            let t = trim_end(t);
            let pos = self.pos(line, off);
            if first.is_none() {
                first = Some(pos);
                text = Cow::Borrowed(t);
            } else {
                let owned = text.to_mut();
                owned.push(' ');
                rest.push(Piece {
                    start: owned.len(),
                    pos,
                });
                owned.push_str(t);
            }
            j += 1;
        }
        let first = first.unwrap_or(Pos { line: 1, column: 1 });
        (Some(Block::Paragraph(Paragraph { text, first, rest })), j)
    }

    /// True when line `j` starts a heading (without recording the heading's warnings).
    fn heading_starts(&self, j: usize) -> bool {
        let (Some(line), Some(next)) = (self.line(j), self.line(j + 1)) else {
            return false;
        };
        if line.is_blank() {
            return false;
        }
        match adornment(next) {
            Some((_, n)) => n >= 4 || n >= char_len(trim(line.text)),
            None => false,
        }
    }

    fn list_table(&mut self, i: usize, title: &'a str) -> (Option<Block<'a>>, usize) {
        let Some(directive_line) = self.line(i) else {
            return (None, i + 1);
        };
        let base = directive_line.indent();
        let (off, _) = directive_line.trimmed_start();
        let pos = self.pos(directive_line, off);
        let mut table = ListTable {
            pos,
            title,
            options: std::mem::take(&mut self.spare.options),
            rows: Vec::new(),
            cells: Vec::new(),
            ends_file: false,
            end: Pos {
                line: directive_line.number,
                column: column_of(directive_line.text, directive_line.text.trim_end().len()),
            },
        };
        let mut j = i + 1;
        // Options come right after the directive line, before any blank line.
        while let Some(line) = self.line(j) {
            let (off, t) = line.trimmed_start();
            if line.is_blank() || line.indent() <= base || !t.starts_with(':') {
                break;
            }
            let rest = &t[1..];
            let pos = self.pos(line, off);
            match rest.find(':') {
                Some(end) if end > 0 => table.options.push(TableOption {
                    name: &rest[..end],
                    value: rest[end + 1..].trim(),
                    pos,
                }),
                _ => self.warn(
                    pos,
                    "malformed list-table option".into(),
                    Some("an option reads `:name: value`, e.g. `:header-rows: 1`".into()),
                ),
            }
            table.end = self.end_of(line);
            j += 1;
        }
        let mut rows = RowBuilder {
            rows: std::mem::take(&mut self.spare.rows),
            cells: std::mem::take(&mut self.spare.cells),
            row_indent: None,
            cell_indent: None,
        };
        // One pass over each line's indentation; the table's end is measured once, on
        // its last line.
        let mut last = None;
        while let Some(line) = self.line(j) {
            let (off, t) = line.trimmed_start();
            if t.is_empty() {
                j += 1;
                continue;
            }
            let indent = line.indent();
            if indent <= base {
                break;
            }
            self.table_line(line, indent, off, t, &mut rows);
            last = Some(line);
            j += 1;
        }
        if let Some(line) = last {
            table.end = self.end_of(line);
        }
        table.rows = rows.rows;
        table.cells = rows.cells;
        table.ends_file = j >= self.lines.len();
        (Some(Block::ListTable(table)), j)
    }

    fn end_of(&self, line: &Line<'_>) -> Pos {
        let text = trim_end(line.text);
        Pos {
            line: line.number,
            column: column_of(text, text.len()),
        }
    }

    /// One non-blank line of a table: `indent` wide, its text `t` starting at byte `off`.
    fn table_line(
        &mut self,
        line: &Line<'a>,
        indent: usize,
        off: usize,
        t: &'a str,
        rows: &mut RowBuilder<'a>,
    ) {
        let t = trim_end(t);
        let marker = bullet(t);
        let is_row = marker.is_some() && rows.row_indent.is_none_or(|r| indent <= r);
        if is_row {
            let Some((_, body_off, body)) = marker else {
                return;
            };
            let pos = self.pos(line, off);
            rows.start_row(pos, indent);
            if body.is_empty() {
                return;
            }
            match bullet(body) {
                Some((_, cell_off, cell)) => {
                    let bullet_pos = self.pos(line, off + body_off);
                    let text_pos = self.pos(line, off + body_off + cell_off);
                    rows.start_cell(cell, bullet_pos, text_pos, indent + body_off);
                }
                None => self.findings.push(Finding {
                    severity: Severity::Error,
                    message: "a list-table row must be a list of cells".into(),
                    pos: self.pos(line, off + body_off),
                    label: Some("expected `- cell` here"),
                    help: Some(
                        "write each cell as `- text` under the row's `*`: `* - email`".into(),
                    ),
                }),
            }
            return;
        }
        if !rows.in_row() {
            self.warn(
                self.pos(line, off),
                "text in a list-table before its first row is ignored".into(),
                Some("rows start with `* - `".into()),
            );
            return;
        }
        let continuation = rows.cell_indent.is_some_and(|c| indent > c);
        match marker {
            Some((_, cell_off, cell)) if !continuation => {
                let bullet_pos = self.pos(line, off);
                let text_pos = self.pos(line, off + cell_off);
                rows.start_cell(cell, bullet_pos, text_pos, indent);
            }
            _ => {
                if !rows.continue_cell(t, self.pos(line, off)) {
                    self.warn(
                        self.pos(line, off),
                        "text in a list-table row outside its cells is ignored".into(),
                        Some("cells start with `- `".into()),
                    );
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct RowBuilder<'a> {
    rows: Vec<Row>,
    cells: Vec<Cell<'a>>,
    row_indent: Option<usize>,
    cell_indent: Option<usize>,
}

impl<'a> RowBuilder<'a> {
    fn in_row(&self) -> bool {
        !self.rows.is_empty()
    }

    fn start_row(&mut self, pos: Pos, indent: usize) {
        if self.row_indent.is_none() {
            self.row_indent = Some(indent);
        }
        self.cell_indent = None;
        let at = self.cells.len();
        self.rows.push(Row {
            pos,
            start: at,
            end: at,
        });
    }

    fn start_cell(&mut self, text: &'a str, bullet: Pos, text_pos: Pos, indent: usize) {
        if self.cell_indent.is_none() {
            self.cell_indent = Some(indent);
        }
        if let Some(row) = self.rows.last_mut() {
            let text = trim(text);
            self.cells.push(Cell {
                text: Cow::Borrowed(text),
                pos: if text.is_empty() { bullet } else { text_pos },
            });
            row.end = self.cells.len();
        }
    }

    /// Appends a continuation line to the current cell; false when there is none.
    fn continue_cell(&mut self, text: &'a str, pos: Pos) -> bool {
        if self.rows.last().is_none_or(|r| r.end <= r.start) {
            return false;
        }
        let Some(cell) = self.cells.last_mut() else {
            return false;
        };
        if cell.text.is_empty() {
            cell.text = Cow::Borrowed(text);
            cell.pos = pos;
        } else {
            let owned = cell.text.to_mut();
            owned.push(' ');
            owned.push_str(text);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::lines::split;
    use super::*;

    fn parse(text: &str) -> (Vec<Block<'_>>, Vec<Finding>) {
        let lines: Vec<Line<'_>> = split(text).collect();
        let mut parser = Parser::new(&lines);
        let blocks = parser.blocks();
        (blocks, parser.findings)
    }

    fn p(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    #[test]
    fn reads_titles_sections_and_paragraphs() {
        let doc = "=====\nA to B Dataflow\n=====\n\nGenerated: x\n\nSec to B x\n~~~~~~~~~~\nfirst line\n  second line\n";
        let (blocks, findings) = parse(doc);
        assert_eq!(blocks.len(), 4, "{blocks:?}");
        let Block::Heading(title) = &blocks[0] else {
            panic!("{blocks:?}")
        };
        assert_eq!(
            (title.text, title.pos, title.overline),
            ("A to B Dataflow", p(2, 1), true)
        );
        assert_eq!(findings.len(), 1, "short overline warns: {findings:?}");
        let Block::Heading(section) = &blocks[2] else {
            panic!()
        };
        assert_eq!((section.text, section.adornment), ("Sec to B x", '~'));
        let Block::Paragraph(para) = &blocks[3] else {
            panic!()
        };
        assert_eq!(para.text, "first line second line");
        assert_eq!(para.pos(0), p(9, 1));
        assert_eq!(para.pos("first line s".len()), p(10, 4));
    }

    #[test]
    fn short_underlines_warn_or_are_text() {
        let (blocks, findings) = parse("Long heading\n------\n");
        assert!(matches!(blocks[0], Block::Heading(_)));
        assert_eq!(findings[0].pos, p(2, 1));
        let (blocks, findings) = parse("Long heading\n--\n");
        assert!(matches!(blocks[0], Block::Paragraph(_)), "{blocks:?}");
        assert!(findings.is_empty());
    }

    #[test]
    fn heading_without_blank_line_ends_a_paragraph() {
        let (blocks, _) = parse("para\nNext heading\n------------\ntext\n");
        assert_eq!(blocks.len(), 3);
        assert!(matches!(&blocks[1], Block::Heading(h) if h.text == "Next heading"));
    }

    #[test]
    fn reads_list_tables() {
        let doc = ".. list-table:: Title\n   :header-rows: 1\n   :widths: 1 2\n\n   * - a\n     - b b\n       continued\n\n     -\n   * - \"x\"\n     - y\n     - z\nafter\n";
        let (blocks, findings) = parse(doc);
        assert!(findings.is_empty(), "{findings:?}");
        let Block::ListTable(t) = &blocks[0] else {
            panic!("{blocks:?}")
        };
        assert_eq!(t.title, "Title");
        assert_eq!(t.pos, p(1, 1));
        assert_eq!(t.options.len(), 2);
        assert_eq!(
            (t.options[0].name, t.options[0].value),
            ("header-rows", "1")
        );
        assert_eq!(t.rows.len(), 2);
        let cells: Vec<&str> = t
            .cells(&t.rows[0])
            .iter()
            .map(|c| c.text.as_ref())
            .collect();
        assert_eq!(cells, ["a", "b b continued", ""]);
        assert_eq!(t.rows[0].pos, p(5, 4));
        assert_eq!(t.cells(&t.rows[0])[0].pos, p(5, 8));
        assert_eq!(t.cells(&t.rows[0])[1].pos, p(6, 8));
        assert_eq!(t.cells(&t.rows[0])[2].pos, p(9, 6));
        assert_eq!(t.cells(&t.rows[1])[0].pos, p(10, 8));
        assert!(!t.ends_file);
        assert_eq!(t.end, p(12, 9));
        assert!(matches!(&blocks[1], Block::Paragraph(q) if q.text == "after"));
    }

    #[test]
    fn table_at_end_of_file_and_bad_rows() {
        let (blocks, findings) = parse(".. list-table::\n\n   * text\n   * - a\n\n");
        let Block::ListTable(t) = &blocks[0] else {
            panic!()
        };
        assert!(t.ends_file);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Error);
        assert_eq!(findings[0].pos, p(3, 6));
    }

    #[test]
    fn skips_comments_directives_and_lists() {
        let (blocks, _) = parse(
            ".. a comment\n   more\n\n.. note:: x\n   body\n\n* item\n  more\n* two\n\npara\n",
        );
        assert_eq!(blocks.len(), 3, "{blocks:?}");
        assert!(matches!(&blocks[0], Block::Ignored { what, .. } if what == "directive `note`"));
        assert!(matches!(&blocks[1], Block::Ignored { pos, .. } if *pos == p(7, 1)));
        assert!(matches!(&blocks[2], Block::Paragraph(q) if q.text == "para"));
    }
}
