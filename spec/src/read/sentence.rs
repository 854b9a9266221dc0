//! The sentences of a flow section, recognized by their fixed wording with slots for the
//! names (X = `<source system> <source entity>`, Y likewise) and the free parts.
//!
//! Slots are byte ranges of the sentence; the caller maps them back to the document.

/// Which sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Every,
    LinkRequired,
    CreatedWhenConnected,
    MergeTable,
    Merge,
    CreateIfNoMatch,
    Condition,
    Bidirectional,
    PropertyTable,
}

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `<source system> <source entity>`
    X,
    /// `<target system> <target entity>`
    Y,
    /// The `<S> Z1, or Z2` of a connected-via sentence.
    Connected,
    /// The `<T>` a connected record is synchronized into.
    Into,
    /// The condition before `, it will be synchronized`.
    Condition,
}

/// A recognized sentence: its form and its slots as byte ranges of the sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    pub form: Form,
    // Inline, not a Vec: most candidate templates fail, and this runs for every paragraph.
    slots: [(Slot, usize, usize); MAX_SLOTS],
    count: usize,
}

/// The most slots a template has.
const MAX_SLOTS: usize = 4;

impl Sentence {
    /// Every slot, in sentence order.
    pub fn all(&self) -> &[(Slot, usize, usize)] {
        self.slots.get(..self.count).unwrap_or_default()
    }

    /// The ranges of every slot of kind `slot`.
    pub fn slots(&self, slot: Slot) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.all()
            .iter()
            .filter(move |s| s.0 == slot)
            .map(|&(_, a, b)| (a, b))
    }
}

#[derive(Debug, Clone, Copy)]
enum Part {
    Lit(&'static str),
    /// `a ` or `an `.
    Article,
    /// `A ` or `An `.
    CapitalArticle,
    Slot(Slot),
}

use Part::{Article, CapitalArticle, Lit, Slot as S};

const EVERY: &[Part] = &[
    Lit("Every "),
    S(Slot::X),
    Lit(" will be synchronized with "),
    Article,
    S(Slot::Y),
    Lit("."),
];
const LINK_REQUIRED: &[Part] = &[
    Lit("Before any synchronization can take place, a link between "),
    Article,
    S(Slot::X),
    Lit(" and "),
    Article,
    S(Slot::Y),
    Lit(" must be established."),
];
const CREATED_WHEN_CONNECTED: &[Part] = &[
    Lit("A new "),
    S(Slot::Y),
    Lit(" will be created from "),
    Article,
    S(Slot::X),
    Lit(" if it is connected to "),
    Article,
    S(Slot::Connected),
    Lit(" that is synchronized into "),
    S(Slot::Into),
    Lit("."),
];
const MERGE_TABLE: &[Part] = &[
    CapitalArticle,
    S(Slot::X),
    Lit(" will merge with "),
    Article,
    S(Slot::Y),
    Lit(" if one of the following property combinations match:"),
];
const MERGE: &[Part] = &[
    Lit("If a matching "),
    S(Slot::Y),
    Lit(" already exists, the "),
    S(Slot::X),
    Lit(" will be merged with the existing one."),
];
const CREATE_IF_NO_MATCH: &[Part] = &[
    Lit("If no matching "),
    S(Slot::Y),
    Lit(" is found, a new "),
    S(Slot::Y),
    Lit(" will be created."),
];
const CONDITION_MARKER: &str = ", it will be synchronized with ";
const CONDITION_MARKER_TWO_SPACES: &str = ", it  will be synchronized with ";
const CONDITION: &[Part] = &[
    S(Slot::Condition),
    Lit(CONDITION_MARKER),
    Article,
    S(Slot::Y),
    Lit("."),
];
const CONDITION_TWO_SPACES: &[Part] = &[
    S(Slot::Condition),
    Lit(CONDITION_MARKER_TWO_SPACES),
    Article,
    S(Slot::Y),
    Lit("."),
];
const BIDIRECTIONAL: &[Part] = &[
    Lit("Once a link between "),
    Article,
    S(Slot::X),
    Lit(" and "),
    Article,
    S(Slot::Y),
    Lit(
        " is established, it will keep in sync between the two systems, regardless of where it is edited.",
    ),
];
const PROPERTY_TABLE: &[Part] = &[
    Lit("The following properties are synchronized between "),
    Article,
    S(Slot::X),
    Lit(" and "),
    Article,
    S(Slot::Y),
    Lit(":"),
];

/// The expected names, tried first for a slot so that a name containing the next fixed
/// words (`… and …`) still splits right.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'e> {
    pub x: &'e str,
    pub y: &'e str,
}

/// Recognizes one sentence (trimmed).
pub fn recognize(text: &str, expected: Expected<'_>) -> Option<Sentence> {
    // Any `<text>, it will be synchronized with a Y.` is a condition, whatever its first
    // word: `Every time …, it will be synchronized with a Y.` is no `Every` sentence.
    let bytes = text.as_bytes();
    for (marker, parts) in [
        (CONDITION_MARKER, CONDITION),
        (CONDITION_MARKER_TWO_SPACES, CONDITION_TWO_SPACES),
    ] {
        if find_lit(text, marker).is_some()
            && let Some(sentence) = matches(Form::Condition, text, parts, expected)
        {
            return Some(sentence);
        }
    }
    let candidates: &[(Form, &[Part])] = match bytes.first()? {
        b'E' => &[(Form::Every, EVERY)],
        b'B' => &[(Form::LinkRequired, LINK_REQUIRED)],
        b'A' => &[
            (Form::CreatedWhenConnected, CREATED_WHEN_CONNECTED),
            (Form::MergeTable, MERGE_TABLE),
        ],
        b'I' => &[
            (Form::Merge, MERGE),
            (Form::CreateIfNoMatch, CREATE_IF_NO_MATCH),
        ],
        b'O' => &[(Form::Bidirectional, BIDIRECTIONAL)],
        b'T' => &[(Form::PropertyTable, PROPERTY_TABLE)],
        _ => &[],
    };
    candidates
        .iter()
        .find_map(|&(form, parts)| matches(form, text, parts, expected))
}

/// The first place of the template literal `lit` in `text`. Sentences are short and the
/// literals fixed: a scan for the first byte beats building a searcher per call (which
/// `memmem::find` and `str::find` both do).
fn find_lit(text: &str, lit: &str) -> Option<usize> {
    let (hay, needle) = (text.as_bytes(), lit.as_bytes());
    let Some((&first, tail)) = needle.split_first() else {
        return Some(0);
    };
    let mut from = 0usize;
    while let Some(i) = hay.get(from..).and_then(|h| memchr::memchr(first, h)) {
        let at = from + i;
        if hay.get(at + 1..).is_some_and(|h| h.starts_with(tail)) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The last place of the template literal `lit` in `text`; see [`find_lit`].
fn rfind_lit(text: &str, lit: &str) -> Option<usize> {
    let (hay, needle) = (text.as_bytes(), lit.as_bytes());
    let Some((&first, tail)) = needle.split_first() else {
        return Some(hay.len());
    };
    let mut end = hay.len();
    while let Some(at) = hay.get(..end).and_then(|h| memchr::memrchr(first, h)) {
        if hay.get(at + 1..).is_some_and(|h| h.starts_with(tail)) {
            return Some(at);
        }
        end = at;
    }
    None
}

fn article(text: &str, capital: bool) -> Option<usize> {
    let (short, long) = if capital {
        ("A ", "An ")
    } else {
        ("a ", "an ")
    };
    if text.starts_with(short) {
        Some(short.len())
    } else if text.starts_with(long) {
        Some(long.len())
    } else {
        None
    }
}

fn matches(form: Form, text: &str, parts: &[Part], expected: Expected<'_>) -> Option<Sentence> {
    let mut slots = [(Slot::X, 0, 0); MAX_SLOTS];
    let mut count = 0usize;
    let mut pos = 0usize;
    for (k, part) in parts.iter().enumerate() {
        let rest = text.get(pos..)?;
        match *part {
            Lit(lit) => {
                if !rest.starts_with(lit) {
                    return None;
                }
                pos += lit.len();
            }
            Article => pos += article(rest, false)?,
            CapitalArticle => pos += article(rest, true)?,
            S(slot) => {
                // Every template has a literal after each slot.
                let Some(&Lit(next)) = parts.get(k + 1) else {
                    return None;
                };
                let last = k + 2 == parts.len();
                let want = match slot {
                    Slot::X => Some(expected.x),
                    Slot::Y => Some(expected.y),
                    _ => None,
                };
                let preferred = want.filter(|w| {
                    rest.strip_prefix(*w).is_some_and(|after| {
                        if last {
                            after == next
                        } else {
                            after.starts_with(next)
                        }
                    })
                });
                let len = match preferred {
                    Some(w) => w.len(),
                    None if last => rest.strip_suffix(next)?.len(),
                    // The connected list ends at the last "that is synchronized into".
                    None if slot == Slot::Connected => rfind_lit(rest, next)?,
                    None => find_lit(rest, next)?,
                };
                *slots.get_mut(count)? = (slot, pos, pos + len);
                count += 1;
                pos += len;
            }
        }
    }
    (pos == text.len()).then_some(Sentence { form, slots, count })
}

/// Splits a paragraph into sentences at `. ` or `: ` followed by a capital letter (for
/// paragraphs that hold more than one sentence). Byte ranges, trimmed.
pub fn split_sentences(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while i + 2 < bytes.len() {
        if matches!(bytes[i], b'.' | b':') && bytes[i + 1] == b' ' {
            let mut j = i + 1;
            while bytes.get(j) == Some(&b' ') {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_uppercase) {
                out.push((start, i + 1));
                start = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    if start < text.len() {
        out.push((start, text.len()));
    }
    out
}

/// The entities of a `Z1, Z2, or Zn` list (after the system name): byte ranges in `list`.
pub fn split_entities(list: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut push = |from: usize, piece: &str| {
        let trimmed = piece.trim_start();
        let lead = piece.len() - trimmed.len();
        let trimmed = trimmed.trim_end();
        let name = trimmed
            .strip_prefix("or ")
            .or_else(|| trimmed.strip_prefix("and "))
            .unwrap_or(trimmed)
            .trim_start();
        if !name.is_empty() {
            // `name` is a suffix of `trimmed`.
            let at = from + lead + (trimmed.len() - name.len());
            out.push((at, at + name.len()));
        }
    };
    let mut from = 0usize;
    for piece in list.split(", ") {
        // `Z1 or Z2` without a comma.
        let mut inner = 0usize;
        for part in piece.split(" or ") {
            push(from + inner, part);
            inner += part.len() + " or ".len();
        }
        from += piece.len() + ", ".len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_search_agrees_with_str_find() {
        for (hay, lit) in [
            ("a, it will be x, it will be y", ", it will be"),
            ("abcabc", "bc"),
            ("abc", "abcd"),
            ("", "a"),
            ("abc", ""),
            ("æ, ø", ", ø"),
            ("aaa", "aa"),
        ] {
            assert_eq!(find_lit(hay, lit), hay.find(lit), "{hay:?} {lit:?}");
            assert_eq!(rfind_lit(hay, lit), hay.rfind(lit), "{hay:?} {lit:?}");
        }
    }

    const E: Expected<'static> = Expected {
        x: "Chargebee Customer",
        y: "Powerofficego Contactperson",
    };

    fn slot_texts<'a>(text: &'a str, s: &Sentence) -> Vec<(Slot, &'a str)> {
        s.all().iter().map(|&(k, a, b)| (k, &text[a..b])).collect()
    }

    #[test]
    fn recognizes_every_form() {
        let cases: &[(&str, Form)] = &[
            (
                "Every Chargebee Customer will be synchronized with a Powerofficego Contactperson.",
                Form::Every,
            ),
            (
                "Before any synchronization can take place, a link between a Chargebee Customer and a Powerofficego Contactperson must be established.",
                Form::LinkRequired,
            ),
            (
                "A new Powerofficego Contactperson will be created from a Chargebee Customer if it is connected to a Chargebee Order that is synchronized into Powerofficego.",
                Form::CreatedWhenConnected,
            ),
            (
                "A Chargebee Customer will merge with a Powerofficego Contactperson if one of the following property combinations match:",
                Form::MergeTable,
            ),
            (
                "If a matching Powerofficego Contactperson already exists, the Chargebee Customer will be merged with the existing one.",
                Form::Merge,
            ),
            (
                "If no matching Powerofficego Contactperson is found, a new Powerofficego Contactperson will be created.",
                Form::CreateIfNoMatch,
            ),
            (
                "When the customer is active, it  will be synchronized with a Powerofficego Contactperson.",
                Form::Condition,
            ),
            (
                "Once a link between a Chargebee Customer and a Powerofficego Contactperson is established, it will keep in sync between the two systems, regardless of where it is edited.",
                Form::Bidirectional,
            ),
            (
                "The following properties are synchronized between a Chargebee Customer and a Powerofficego Contactperson:",
                Form::PropertyTable,
            ),
        ];
        for (text, form) in cases {
            let s = recognize(text, E).unwrap_or_else(|| panic!("not recognized: {text}"));
            assert_eq!(s.form, *form, "{text}");
            for (slot, value) in slot_texts(text, &s) {
                match slot {
                    Slot::X => assert_eq!(value, E.x),
                    Slot::Y => assert_eq!(value, E.y),
                    Slot::Connected => assert_eq!(value, "Chargebee Order"),
                    Slot::Into => assert_eq!(value, "Powerofficego"),
                    Slot::Condition => assert_eq!(value, "When the customer is active"),
                }
            }
        }
    }

    #[test]
    fn reads_conditions_and_blank_names() {
        let e = Expected {
            x: "Powerofficego Customers",
            y: " Customer",
        };
        let text = "When a Customer has an email, it will be synchronized with a  Customer.";
        let s = recognize(text, e).unwrap();
        assert_eq!(s.form, Form::Condition);
        assert_eq!(
            slot_texts(text, &s),
            vec![
                (Slot::Condition, "When a Customer has an email"),
                (Slot::Y, " Customer")
            ]
        );
        let text = "Every time it is paid, it will be synchronized with a  Customer.";
        let s = recognize(text, e).unwrap();
        assert_eq!(s.form, Form::Condition);
        assert_eq!(
            slot_texts(text, &s)[0],
            (Slot::Condition, "Every time it is paid")
        );
        let text = "Unless archived, it will be synchronized with an Order.";
        let s = recognize(text, e).unwrap();
        assert_eq!(
            slot_texts(text, &s)[0],
            (Slot::Condition, "Unless archived")
        );
        let text = "A new  Customer will be created from a Powerofficego Customers if it is connected to a Powerofficego Salesorders, or Salesorderlines that is synchronized into .";
        let s = recognize(text, e).unwrap();
        assert_eq!(
            slot_texts(text, &s),
            vec![
                (Slot::Y, " Customer"),
                (Slot::X, "Powerofficego Customers"),
                (
                    Slot::Connected,
                    "Powerofficego Salesorders, or Salesorderlines"
                ),
                (Slot::Into, ""),
            ]
        );
    }

    #[test]
    fn names_that_differ_from_the_heading_are_still_slots() {
        let text = "Every Chargebee Item will be synchronized with an Powerofficego Product.";
        let s = recognize(text, E).unwrap();
        assert_eq!(
            slot_texts(text, &s),
            vec![
                (Slot::X, "Chargebee Item"),
                (Slot::Y, "Powerofficego Product")
            ]
        );
    }

    #[test]
    fn rejects_other_text() {
        assert!(recognize("This is a note.", E).is_none());
        assert!(
            recognize(
                "Every Chargebee Customer will be synchronized with a Powerofficego Contactperson",
                E
            )
            .is_none()
        );
        assert!(recognize("", E).is_none());
        assert!(recognize("Every", E).is_none());
    }

    #[test]
    fn splits_sentences_and_lists() {
        let text = "If a matching Y already exists, the X will be merged. If no matching Y is found, a new Y will be created.";
        let parts: Vec<&str> = split_sentences(text)
            .into_iter()
            .map(|(a, b)| &text[a..b])
            .collect();
        assert_eq!(
            parts,
            [
                "If a matching Y already exists, the X will be merged.",
                "If no matching Y is found, a new Y will be created."
            ]
        );
        assert_eq!(split_sentences("Wix.com sells. fine").len(), 1);

        let list = "Salesorders, Salesorderlines, or Order lines";
        let names: Vec<&str> = split_entities(list)
            .into_iter()
            .map(|(a, b)| &list[a..b])
            .collect();
        assert_eq!(names, ["Salesorders", "Salesorderlines", "Order lines"]);
        let list = "Salesorders or Invoice";
        let names: Vec<&str> = split_entities(list)
            .into_iter()
            .map(|(a, b)| &list[a..b])
            .collect();
        assert_eq!(names, ["Salesorders", "Invoice"]);
        let list = "Order";
        assert_eq!(split_entities(list), vec![(0, 5)]);
    }
}
