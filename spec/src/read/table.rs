//! List-tables as merge tables (two columns) and property tables (three columns): options,
//! header rows, cell counts, data type cells.

use super::heading::same_name_parts;
use super::report::Report;
use super::rst::{Cell, ListTable, Pos};
use crate::ast::{MatchRow, PropertyRow, Spanned};
use crate::model::DataType;

/// Which table a sentence announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Match,
    Property,
}

impl Kind {
    fn columns(self) -> usize {
        match self {
            Kind::Match => 2,
            Kind::Property => 3,
        }
    }

    fn column_names(self) -> &'static str {
        match self {
            Kind::Match => "source property, target property",
            Kind::Property => "source property, target property, data type",
        }
    }

    fn row_help(self) -> &'static str {
        match self {
            Kind::Match => {
                "each row has 2 cells: `* - <source property>` and, under it, `  - <target property>`"
            }
            Kind::Property => {
                "each row has 3 cells: `* - <source property>`, then `  - <target property>` and `  - \"<type>\"` under it; an empty cell is a lone `-`"
            }
        }
    }
}

/// What a table's header cells should name: each side's system (as the title and as the
/// heading spell it) and entity.
#[derive(Debug, Clone, Copy)]
pub struct Header<'h> {
    pub source: Side<'h>,
    pub target: Side<'h>,
}

#[derive(Debug, Clone, Copy)]
pub struct Side<'h> {
    pub system: &'h str,
    pub spelling: &'h str,
    pub entity: &'h str,
}

impl Header<'_> {
    /// True when `cell` is header cell `column`; the expected text otherwise.
    fn check(&self, column: usize, cell: &str) -> Result<(), String> {
        let (side, parts): (Side<'_>, &[&str]) = match column {
            0 => (self.source, &["Property"]),
            1 => (self.target, &["Property"]),
            2 => (
                Side {
                    entity: "",
                    ..self.target
                },
                &["Data", "Type"],
            ),
            _ => return Ok(()),
        };
        let fits = |system: &str| {
            let mut all = [system, side.entity, "", ""];
            for (slot, part) in all[2..].iter_mut().zip(parts) {
                *slot = part;
            }
            same_name_parts(cell, &all)
        };
        if fits(side.system) || fits(side.spelling) {
            return Ok(());
        }
        let mut expected = side.system.to_string();
        for word in [side.entity].into_iter().chain(parts.iter().copied()) {
            if !word.is_empty() {
                if !expected.is_empty() {
                    expected.push(' ');
                }
                expected.push_str(word);
            }
        }
        Err(expected)
    }
}

/// What a table yields.
#[derive(Debug, Default)]
pub struct Rows {
    pub matches: Vec<MatchRow>,
    pub properties: Vec<PropertyRow>,
}

const KNOWN_OPTIONS: &[&str] = &[
    "header-rows",
    "stub-columns",
    "widths",
    "width",
    "class",
    "name",
    "align",
];

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Reads `table` as a table of `kind`.
pub fn read(
    report: &mut Report<'_>,
    table: &ListTable<'_>,
    kind: Kind,
    header: &Header<'_>,
) -> Rows {
    let mut out = Rows::default();
    let mut header_rows = None;
    for option in &table.options {
        if option.name == "header-rows" {
            match option.value.parse::<usize>() {
                Ok(n) => header_rows = Some(n),
                Err(_) => {
                    report
                        .warning(
                            option.pos,
                            format!("`:header-rows:` is not a number: `{}`", option.value),
                        )
                        .help("write `:header-rows: 1` for a table with one header row");
                }
            }
        } else if !KNOWN_OPTIONS.contains(&option.name) {
            report
                .warning(option.pos, format!("unknown list-table option `:{}:`; it is ignored", option.name))
                .help("list-table options are :header-rows:, :stub-columns:, :widths:, :width:, :class:, :name:, :align:");
        }
    }
    if table.rows.is_empty() {
        if table.ends_file {
            report
                .error(table.end, "file ends inside a table")
                .label("the table has no rows")
                .help("the document looks cut off: restore the table's rows (a header row `* - …` and one row per property)");
        } else {
            report
                .error(table.pos, "list-table has no rows")
                .label("this table")
                .help("add the header row, indented under the directive: `* - <X> Property`");
        }
        return out;
    }
    let header_rows = header_rows.unwrap_or_else(|| {
        let looks_like_header = table
            .cells(&table.rows[0])
            .first()
            .is_some_and(|c| c.text.trim_end().to_ascii_lowercase().ends_with("property"));
        if looks_like_header {
            report
                .warning(table.pos, "the table's first row looks like a header but the table has no `:header-rows:` option")
                .help("add `:header-rows: 1` under the directive; the row is read as a header");
            1
        } else {
            0
        }
    });
    let columns = kind.columns();
    let body = table.rows.len().saturating_sub(header_rows);
    match kind {
        Kind::Match => out.matches.reserve(body),
        Kind::Property => out.properties.reserve(body),
    }
    let last = table.rows.len() - 1;
    for (i, row) in table.rows.iter().enumerate() {
        let cells = table.cells(row);
        let n = cells.len();
        if n != columns {
            if i == last && table.ends_file && n < columns {
                report
                    .error(table.end, "file ends inside a table")
                    .label(format!(
                        "the last row has {} of {columns}",
                        plural(n, "cell")
                    ))
                    .help("the document looks cut off: complete the last row or restore the file");
            } else {
                report
                    .error(
                        row.pos,
                        format!(
                            "row has {}; this table has {columns} columns ({})",
                            plural(n, "cell"),
                            kind.column_names()
                        ),
                    )
                    .label("this row")
                    .help(kind.row_help());
            }
            continue;
        }
        if i < header_rows {
            check_header(report, cells, header);
            continue;
        }
        match kind {
            Kind::Match => {
                if let Some((source, target)) = properties(report, cells, row.pos) {
                    out.matches.push(MatchRow {
                        source,
                        target,
                        location: report.loc(row.pos),
                    });
                }
            }
            Kind::Property => {
                let pair = properties(report, cells, row.pos);
                let ty = cells.get(2).and_then(|cell| data_type(report, cell));
                if let (Some((source, target)), Some(ty)) = (pair, ty) {
                    out.properties.push(PropertyRow {
                        source,
                        target,
                        ty,
                        location: report.loc(row.pos),
                    });
                }
            }
        }
    }
    out
}

fn check_header(report: &mut Report<'_>, cells: &[Cell<'_>], header: &Header<'_>) {
    for (i, cell) in cells.iter().enumerate() {
        if let Err(expected) = header.check(i, &cell.text) {
            report
                .warning(
                    cell.pos,
                    format!("table header `{}` does not match the section", cell.text),
                )
                .label("this header cell")
                .help(format!("expected `{expected}`"));
        }
    }
}

/// The source and target property of a row; errors for empty cells.
fn properties(
    report: &mut Report<'_>,
    cells: &[Cell<'_>],
    at: Pos,
) -> Option<(Spanned<String>, Spanned<String>)> {
    let mut cell = |i: usize, side: &str| {
        let c = cells.get(i)?;
        if c.text.is_empty() {
            report
                .error(at, format!("empty {side} property"))
                .label("this row")
                .help(format!(
                    "write the {side} system's property name in cell {}, or remove the row",
                    i + 1
                ));
            return None;
        }
        Some(Spanned::new(c.text.to_string(), report.loc(c.pos)))
    };
    let source = cell(0, "source");
    let target = cell(1, "target");
    Some((source?, target?))
}

/// Aliases that are not close in spelling but are clearly meant.
const ALIASES: &[(&str, DataType)] = &[
    ("text", DataType::String),
    ("str", DataType::String),
    ("int", DataType::Integer),
    ("long", DataType::Integer),
    ("number", DataType::Decimal),
    ("double", DataType::Float),
    ("bool", DataType::Boolean),
    ("timestamp", DataType::Datetime),
    ("money", DataType::Decimal),
];

/// The known type nearest to `name`, when it is close enough to be a likely typo.
pub fn suggest(name: &str) -> Option<DataType> {
    let lower = name.trim().to_lowercase();
    if let Some(&(_, ty)) = ALIASES.iter().find(|(alias, _)| *alias == lower) {
        return Some(ty);
    }
    let best = DataType::ALL.into_iter().map(|ty| {
        let distance = strsim::damerau_levenshtein(&lower, ty.as_str());
        let similarity = strsim::jaro_winkler(&lower, ty.as_str());
        (ty, distance, similarity)
    });
    let best = best.min_by(|a, b| a.1.cmp(&b.1).then(b.2.total_cmp(&a.2)))?;
    (best.1 <= 2 || best.2 >= 0.88).then_some(best.0)
}

fn did_you_mean(name: &str) -> String {
    match suggest(name) {
        Some(ty) => format!("did you mean \"{ty}\"?"),
        None => format!(
            "the known types are {}; write N/A when the type is unknown",
            DataType::ALL.map(|t| format!("\"{t}\"")).join(", ")
        ),
    }
}

/// Reads a data type cell; `None` (after an error) when it cannot be read.
fn data_type(report: &mut Report<'_>, cell: &Cell<'_>) -> Option<Spanned<Option<DataType>>> {
    let text = cell.text.as_ref();
    let loc = report.loc(cell.pos);
    if text.is_empty() {
        report
            .error(cell.pos, "empty data type")
            .label("this cell")
            .help("write the target property's type, e.g. \"string\", or N/A when it is unknown");
        return None;
    }
    if text.eq_ignore_ascii_case("n/a") {
        report
            .warning(cell.pos, "type unknown (N/A); kept as null")
            .label("this type")
            .help("state the type (e.g. \"string\") when it is known");
        return Some(Spanned::new(None, loc));
    }
    if let Some(rest) = text.strip_prefix('"') {
        let Some(name) = rest.strip_suffix('"') else {
            report
                .error(cell.pos, "unterminated quote in data type")
                .label("this type")
                .help(format!(
                    "close the quote: \"{}\"",
                    rest.trim_end_matches('"')
                ));
            return None;
        };
        if let Some(ty) = DataType::from_name(name) {
            return Some(Spanned::new(Some(ty), loc));
        }
        if let Some(ty) = DataType::from_name(&name.to_ascii_lowercase()) {
            report
                .warning(
                    cell.pos,
                    format!("data type \"{name}\" is written in capitals"),
                )
                .label("this type")
                .help(format!("write \"{ty}\""));
            return Some(Spanned::new(Some(ty), loc));
        }
        report
            .error(cell.pos, format!("unknown data type \"{name}\""))
            .label("this type")
            .help(did_you_mean(name));
        return None;
    }
    if let Some(ty) = DataType::from_name(&text.to_ascii_lowercase()) {
        report
            .warning(cell.pos, format!("data type `{text}` is not quoted"))
            .label("this type")
            .help(format!("quote the type: \"{ty}\""));
        return Some(Spanned::new(Some(ty), loc));
    }
    report
        .error(cell.pos, format!("unknown data type `{text}`"))
        .label("this type")
        .help(did_you_mean(text.trim_end_matches('"')));
    None
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::model::Severity;
    use crate::read::rst::{Row, TableOption};

    fn p(line: u32, column: u32) -> Pos {
        Pos { line, column }
    }

    fn row(line: u32, cells: &[&'static str]) -> (u32, Vec<&'static str>) {
        (line, cells.to_vec())
    }

    /// A table whose row at `line` has its `*` at column 4 and cell `i` at line `line + i`,
    /// column 8.
    fn table(rows: Vec<(u32, Vec<&'static str>)>, ends_file: bool) -> ListTable<'static> {
        let mut t = ListTable {
            pos: p(1, 1),
            title: "",
            options: vec![TableOption {
                name: "header-rows",
                value: "1",
                pos: p(2, 4),
            }],
            rows: Vec::new(),
            cells: Vec::new(),
            ends_file,
            end: p(99, 9),
        };
        for (line, cells) in rows {
            let start = t.cells.len();
            for (i, text) in cells.into_iter().enumerate() {
                t.cells.push(Cell {
                    text: Cow::Borrowed(text),
                    pos: p(line + i as u32, 8),
                });
            }
            t.rows.push(Row {
                pos: p(line, 4),
                start,
                end: t.cells.len(),
            });
        }
        t
    }

    fn header() -> Header<'static> {
        let side = |system, entity| Side {
            system,
            spelling: system,
            entity,
        };
        Header {
            source: side("A", "X"),
            target: side("B", "Y"),
        }
    }

    #[test]
    fn checks_header_cells() {
        let h = Header {
            source: Side {
                system: "",
                spelling: "",
                entity: "Customer",
            },
            target: Side {
                system: "Exact Online",
                spelling: "Exact",
                entity: "Account",
            },
        };
        assert_eq!(h.check(0, "Customer Property"), Ok(()));
        assert_eq!(h.check(1, "Exact Account Property"), Ok(()));
        assert_eq!(h.check(1, "exact-online account property"), Ok(()));
        assert_eq!(h.check(2, "Exact Data Type"), Ok(()));
        assert_eq!(h.check(2, "ExactOnline Data type"), Ok(()));
        assert_eq!(
            h.check(0, "Customers Property"),
            Err("Customer Property".to_string())
        );
        assert_eq!(
            h.check(2, "Data Type"),
            Err("Exact Online Data Type".to_string())
        );
        assert_eq!(h.check(3, "anything"), Ok(()));
    }

    #[test]
    fn reads_property_rows_and_types() {
        let mut report = Report::new("f.rst");
        let t = table(
            vec![
                row(4, &["A X Property", "B Y Property", "B Data Type"]),
                row(10, &["a.b", "c", "\"decimal\""]),
                row(20, &["d", "e", "N/A"]),
                row(30, &["f", "g", "boolean"]),
            ],
            false,
        );
        let rows = read(&mut report, &t, Kind::Property, &header());
        assert_eq!(rows.properties.len(), 3);
        assert_eq!(rows.properties[0].source.value, "a.b");
        assert_eq!(rows.properties[0].ty.value, Some(DataType::Decimal));
        assert_eq!(rows.properties[0].ty.location.line, 12);
        assert_eq!(rows.properties[1].ty.value, None);
        assert_eq!(rows.properties[2].ty.value, Some(DataType::Boolean));
        let messages: Vec<&str> = report
            .diagnostics
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "type unknown (N/A); kept as null",
                "data type `boolean` is not quoted"
            ]
        );
    }

    #[test]
    fn reports_bad_rows() {
        let mut report = Report::new("f.rst");
        let t = table(
            vec![
                row(4, &["A X Property", "wrong", "B Data Type"]),
                row(10, &["a", "b"]),
                row(20, &["", "e", "\"string\""]),
                row(30, &["f", "g", "\"strnig\""]),
                row(40, &["f", "g", "\"string"]),
                row(50, &["f", "g", ""]),
                row(60, &["f"]),
            ],
            true,
        );
        let rows = read(&mut report, &t, Kind::Property, &header());
        assert!(rows.properties.is_empty());
        let got: Vec<(Severity, u32, &str, Option<&str>)> = report
            .diagnostics
            .iter()
            .map(|d| {
                (
                    d.severity,
                    d.line.unwrap(),
                    d.message.as_str(),
                    d.help.as_deref(),
                )
            })
            .collect();
        assert_eq!(got[0].0, Severity::Warning);
        assert_eq!(got[0].1, 5);
        assert_eq!(
            report.diagnostics[0].help.as_deref(),
            Some("expected `B Y Property`")
        );
        assert_eq!(
            report.diagnostics[0].help.as_deref(),
            Some("expected `B Y Property`")
        );
        assert_eq!(
            &got[1..3],
            &[
                (
                    Severity::Error,
                    10,
                    "row has 2 cells; this table has 3 columns (source property, target property, data type)",
                    Some(Kind::Property.row_help())
                ),
                (
                    Severity::Error,
                    20,
                    "empty source property",
                    Some("write the source system's property name in cell 1, or remove the row")
                ),
            ]
        );
        assert_eq!(got[3].2, "unknown data type \"strnig\"");
        assert_eq!((got[3].1, got[3].3), (32, Some("did you mean \"string\"?")));
        assert_eq!(got[4].2, "unterminated quote in data type");
        assert_eq!(got[5].2, "empty data type");
        assert_eq!((got[6].1, got[6].2), (99, "file ends inside a table"));
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn reads_match_rows_and_empty_tables() {
        let mut report = Report::new("f.rst");
        let mut t = table(vec![row(4, &["email", "emailAddress"])], false);
        t.options.clear();
        let rows = read(&mut report, &t, Kind::Match, &header());
        assert_eq!(rows.matches.len(), 1);
        assert_eq!(rows.matches[0].target.value, "emailAddress");
        assert!(report.diagnostics.is_empty());

        let t = table(vec![], true);
        read(&mut report, &t, Kind::Property, &header());
        assert_eq!(report.diagnostics[0].message, "file ends inside a table");
    }

    #[test]
    fn suggests_near_types_only() {
        assert_eq!(suggest("strnig"), Some(DataType::String));
        assert_eq!(suggest("integr"), Some(DataType::Integer));
        assert_eq!(suggest("bool"), Some(DataType::Boolean));
        assert_eq!(suggest("datetme"), Some(DataType::Datetime));
        assert_eq!(suggest("dat"), Some(DataType::Date));
        assert_eq!(suggest("geometry"), None);
        assert_eq!(suggest("x"), None);
    }
}
