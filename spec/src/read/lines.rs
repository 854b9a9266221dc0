//! Bytes to lines: the BOM, UTF-8 validation with the place of the first bad byte, line
//! endings (LF, CRLF, lone CR) and the character columns every location is counted in.

/// One line of a document, without its line ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub text: &'a str,
    /// 1-based line number.
    pub number: u32,
    /// True when the line is known to be ASCII: a column is then the byte offset plus one
    /// (most documents are ASCII, and columns are computed for every table cell).
    pub ascii: bool,
}

/// rst expands tabs to the next multiple of eight, for indentation only.
const TAB_WIDTH: usize = 8;

impl<'a> Line<'a> {
    /// True for a line of only whitespace.
    pub fn is_blank(&self) -> bool {
        self.text.bytes().all(|b| b == b' ' || b == b'\t')
    }

    /// The indentation width, tabs expanded as rst does.
    pub fn indent(&self) -> usize {
        indent_width(self.text)
    }

    /// The line without leading spaces and tabs, and the byte offset where that starts.
    pub fn trimmed_start(&self) -> (usize, &'a str) {
        let rest = trim_blank_start(self.text);
        (self.text.len() - rest.len(), rest)
    }

    /// The 1-based character column of byte offset `byte` of this line (clamped to the
    /// line, and to a character boundary at or before it).
    pub fn column(&self, byte: usize) -> u32 {
        if self.ascii {
            to_column(byte.min(self.text.len()))
        } else {
            column_of(self.text, byte)
        }
    }
}

/// `text` without leading spaces and tabs (a byte scan: both are ASCII).
pub fn trim_blank_start(text: &str) -> &str {
    let skip = text
        .bytes()
        .position(|b| b != b' ' && b != b'\t')
        .unwrap_or(text.len());
    text.get(skip..).unwrap_or_default()
}

/// `str::trim_end`, without decoding characters when the last one is ASCII and no
/// whitespace (nearly every line).
pub fn trim_end(text: &str) -> &str {
    match text.as_bytes().last() {
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => text,
        _ => text.trim_end(),
    }
}

/// `str::trim`, with the fast path of [`trim_end`] on both ends.
pub fn trim(text: &str) -> &str {
    let text = trim_end(text);
    match text.as_bytes().first() {
        Some(&b) if b.is_ascii() && !char::from(b).is_whitespace() => text,
        _ => text.trim_start(),
    }
}

/// The indentation width of `text`'s leading spaces and tabs, tabs expanded as rst does.
pub fn indent_width(text: &str) -> usize {
    let mut width = 0usize;
    for b in text.bytes() {
        match b {
            b' ' => width = width.saturating_add(1),
            b'\t' => width = (width / TAB_WIDTH + 1).saturating_mul(TAB_WIDTH),
            _ => break,
        }
    }
    width
}

/// The 1-based character column of byte offset `byte` in `text`.
pub fn column_of(text: &str, byte: usize) -> u32 {
    let mut end = byte.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let prefix = &text[..end];
    let chars = if prefix.is_ascii() {
        prefix.len()
    } else {
        prefix.chars().count()
    };
    to_column(chars)
}

/// The 1-based column after `chars` characters.
fn to_column(chars: usize) -> u32 {
    u32::try_from(chars)
        .unwrap_or(u32::MAX - 1)
        .saturating_add(1)
}

/// Why the bytes are not a readable text, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    pub line: u32,
    pub column: u32,
}

/// The document's text: the BOM skipped, UTF-8 checked.
pub fn decode(bytes: &[u8]) -> Result<&str, NotUtf8> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
            // The prefix is valid UTF-8 by definition; stay defensive all the same.
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            let (line, start) = last_line_start(valid);
            Err(NotUtf8 {
                line,
                column: column_of(&valid[start..], valid.len() - start),
            })
        }
    }
}

/// The number of the last line of `text` and the byte where it starts.
fn last_line_start(text: &str) -> (u32, usize) {
    let mut line = 1u32;
    let mut start = 0usize;
    for l in split(text) {
        line = l.number;
        start = l.text.as_ptr() as usize - text.as_ptr() as usize;
    }
    // A trailing line ending opens one more (empty) line.
    if text.ends_with(['\n', '\r']) {
        line = line.saturating_add(1);
        start = text.len();
    }
    (line, start)
}

/// The lines of `text`. A final line ending does not open an extra line.
pub fn split(text: &str) -> std::vec::IntoIter<Line<'_>> {
    let mut lines = Vec::new();
    split_into(text, &mut lines);
    lines.into_iter()
}

/// Appends the lines of `text` to `lines` (see [`split`]). One search for line endings
/// over the whole text (lines are short: a search per line would cost more than the lines).
pub fn split_into<'a>(text: &'a str, lines: &mut Vec<Line<'a>>) {
    let bytes = text.as_bytes();
    let mut cut = Cutter {
        text,
        ascii: text.is_ascii(),
        start: 0,
        crlf_lf: None,
        number: 0,
    };
    for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
        cut.end_at(i, lines);
    }
    if cut.start < bytes.len() {
        cut.push(bytes.len(), lines);
    }
}

/// Cuts a text into lines at its line endings, given in order.
struct Cutter<'a> {
    text: &'a str,
    ascii: bool,
    /// Where the current line starts.
    start: usize,
    /// The LF of a CRLF, which ends no line of its own.
    crlf_lf: Option<usize>,
    number: u32,
}

impl<'a> Cutter<'a> {
    /// A `\n` or `\r` at byte `i`.
    fn end_at(&mut self, i: usize, lines: &mut Vec<Line<'a>>) {
        if self.crlf_lf == Some(i) {
            self.start = i + 1;
            return;
        }
        let bytes = self.text.as_bytes();
        if bytes.get(i) == Some(&b'\r') && bytes.get(i + 1) == Some(&b'\n') {
            self.crlf_lf = Some(i + 1);
        }
        self.push(i, lines);
        self.start = i + 1;
    }

    /// The line from `start` to `end`.
    fn push(&mut self, end: usize, lines: &mut Vec<Line<'a>>) {
        self.number = self.number.saturating_add(1);
        lines.push(Line {
            // Line endings are ASCII: both ends are character boundaries.
            text: self.text.get(self.start..end).unwrap_or_default(),
            number: self.number,
            ascii: self.ascii,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<(&str, u32)> {
        split(s).map(|l| (l.text, l.number)).collect()
    }

    #[test]
    fn splits_every_line_ending() {
        assert_eq!(
            texts("a\nb\r\nc\rd"),
            vec![("a", 1), ("b", 2), ("c", 3), ("d", 4)]
        );
        assert_eq!(texts("a\n"), vec![("a", 1)]);
        assert_eq!(texts("a\n\n"), vec![("a", 1), ("", 2)]);
        assert_eq!(texts("\r\n\r\n"), vec![("", 1), ("", 2)]);
        assert_eq!(texts("\r\r\n"), vec![("", 1), ("", 2)]);
        assert!(texts("").is_empty());
    }

    /// Line splitting done the slow way: byte by byte.
    fn reference(text: &str) -> Vec<(String, u32)> {
        let bytes = text.as_bytes();
        let (mut out, mut line, mut i) = (Vec::new(), Vec::new(), 0);
        let end_line = |line: &mut Vec<u8>, out: &mut Vec<(String, u32)>| {
            let number = out.len() as u32 + 1;
            out.push((String::from_utf8_lossy(line).into_owned(), number));
            line.clear();
        };
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\n' => end_line(&mut line, &mut out),
                b'\r' => {
                    end_line(&mut line, &mut out);
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                }
                _ => line.push(b),
            }
            i += 1;
        }
        if !line.is_empty() {
            end_line(&mut line, &mut out);
        }
        out
    }

    proptest::proptest! {
        /// Bytes next to `\n` and `\r` in value included: a word-wise search must not
        /// take them for line endings.
        #[test]
        fn splits_as_the_byte_by_byte_reference(text in "[a\r\n\t\x0b\x0c\x0eæ ]{0,60}") {
            let got: Vec<(String, u32)> =
                split(&text).map(|l| (l.text.to_string(), l.number)).collect();
            proptest::prop_assert_eq!(got, reference(&text));
        }
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(column_of("abc", 0), 1);
        assert_eq!(column_of("abc", 2), 3);
        assert_eq!(column_of("æøå x", "æøå ".len()), 5);
        // Past the end and inside a character: clamped, never a panic.
        assert_eq!(column_of("ab", 99), 3);
        assert_eq!(column_of("æ", 1), 1);
    }

    #[test]
    fn line_columns_agree_with_column_of() {
        for text in ["a\n  * - cell\n", "æ\n  * - cøll\n", "x\r\n\t- y"] {
            for line in split(text) {
                assert_eq!(line.ascii, text.is_ascii());
                for byte in 0..line.text.len() + 3 {
                    assert_eq!(
                        line.column(byte),
                        column_of(line.text, byte),
                        "{line:?} {byte}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_trims_agree_with_str() {
        for text in [
            "",
            " ",
            "a",
            " a ",
            "\ta\t",
            "a\u{b}",
            "\u{b}a",
            "a\u{a0}",
            "\u{3000}a",
            "æ ",
            " æ",
            "a\x0c",
            "\r\na\n",
        ] {
            assert_eq!(trim_end(text), text.trim_end(), "{text:?}");
            assert_eq!(trim(text), text.trim(), "{text:?}");
            assert_eq!(
                trim_blank_start(text),
                text.trim_start_matches([' ', '\t']),
                "{text:?}"
            );
        }
    }

    #[test]
    fn indentation_expands_tabs() {
        let line = |text: &'static str| Line {
            text,
            number: 1,
            ascii: text.is_ascii(),
        };
        assert_eq!(line("   x").indent(), 3);
        assert_eq!(line("\tx").indent(), 8);
        assert_eq!(line("  \tx").indent(), 8);
        assert_eq!(line("\t  x").indent(), 10);
        assert_eq!(line("\t  x").trimmed_start(), (3, "x"));
        assert!(line(" \t ").is_blank());
    }

    #[test]
    fn decodes_with_bom_and_reports_the_first_bad_byte() {
        assert_eq!(decode(b"\xEF\xBB\xBFabc"), Ok("abc"));
        assert_eq!(decode(b"ab\xFFc"), Err(NotUtf8 { line: 1, column: 3 }));
        let mut bytes = "line one\r\nlæ".as_bytes().to_vec();
        bytes.push(0xC3); // a cut-off two-byte sequence
        assert_eq!(decode(&bytes), Err(NotUtf8 { line: 2, column: 3 }));
        assert_eq!(decode(b"a\r\xFE"), Err(NotUtf8 { line: 2, column: 1 }));
        assert_eq!(decode(b"a\n\xFE"), Err(NotUtf8 { line: 2, column: 1 }));
    }
}
