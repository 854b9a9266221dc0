//! Rust names for spec names: deterministic, legal for any input, and never two items with
//! one name.
//!
//! Rules:
//! - **Words.** A name splits into words at every character that is not a letter or digit
//!   (spaces, dashes, dots, parentheses, underscores), at a lower-to-upper case change
//!   (`CustomerId` → `customer`, `id`) and before the last capital of an acronym
//!   (`HTTPServer` → `http`, `server`). Digits stay with the word they follow.
//! - **Non-ASCII.** Common Latin letters are transliterated (`ø` → `o`, `æ` → `ae`,
//!   `ß` → `ss`); any other character becomes its own word `u<hex>` (`Ω` → `u3a9`), so
//!   output is always ASCII (no `non_ascii_idents` or confusable warnings).
//! - **Case.** [`snake`] for modules, fields and methods, [`pascal`] for types.
//! - **Illegal starts.** A name with no words becomes `unnamed`/`Unnamed`; one starting
//!   with a digit gets the prefix `n`/`N` (`24SevenOffice` → `n24_seven_office`,
//!   `N24SevenOffice`).
//! - **Keywords** (strict, reserved and weak, 2024 edition) get a trailing `_` in snake
//!   case (`type` → `type_`); in Pascal case `Self` is the only keyword and is handled as
//!   a reserved name.
//! - **Collisions.** A [`Namer`] assigns names to a whole set at once, sorted by spec
//!   name, so the result does not depend on document order. First every spec name whose
//!   natural ident is free takes it (the first in sort order wins a tie); then the rest get
//!   the lowest free numeric suffix (`customer_2`, `Customer2`). Reserved names (prelude
//!   types, generated helper items) count as taken. Natural names therefore never move
//!   because another name appeared.
//!
//! [`is_list_segment`] decides which path segments are lists (documents do not say).

use std::collections::{BTreeMap, BTreeSet};

/// Rust keywords (strict, reserved and weak) that cannot be plain identifiers or that
/// would read confusingly as one.
const KEYWORDS: &[&str] = &[
    "abstract",
    "as",
    "async",
    "await",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "crate",
    "do",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "macro_rules",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "pub",
    "raw",
    "ref",
    "return",
    "safe",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "union",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "yield",
];

/// Type names generated code uses unqualified (prelude and runtime items): an entity with
/// one of these names gets a suffix instead of shadowing it.
pub const RESERVED_TYPES: &[&str] = &[
    "Self",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "String",
    "Vec",
    "Box",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Fn",
    "FnMut",
    "FnOnce",
    "Iterator",
    "IntoIterator",
    "ToString",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Debug",
    "Id",
    "Ref",
    "Record",
    "Value",
    "Serialize",
    "Deserialize",
    "Conditions",
];

/// Transliterations of common non-ASCII Latin letters (lowercase; uppercase input is
/// lowercased first and the case change is kept as a word boundary).
fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'č' | 'ć' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
}

/// Splits a spec name into lowercase ASCII words (see the module docs).
pub fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev: Option<Class> = None;
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let class = if c.is_ascii_digit() {
            Some(Class::Digit)
        } else if c.is_alphabetic() {
            Some(if c.is_uppercase() {
                Class::Upper
            } else {
                Class::Lower
            })
        } else {
            None
        };
        let Some(class) = class else {
            // Separator (space, dash, dot, parentheses, underscore, symbol): ends a word.
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        };
        let next_lower = chars
            .get(i + 1)
            .is_some_and(|n| n.is_alphabetic() && n.is_lowercase());
        let boundary = match (prev, class) {
            (Some(Class::Lower), Class::Upper) => true,
            // `HTTPServer`: the `S` starts a new word because a lowercase letter follows.
            (Some(Class::Upper), Class::Upper) => next_lower,
            (Some(Class::Digit), Class::Upper) => true,
            _ => false,
        };
        if boundary && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev = Some(class);
        if c.is_ascii() {
            current.push(c.to_ascii_lowercase());
            continue;
        }
        let lower: String = c.to_lowercase().collect();
        let mut escaped = true;
        let mut mapped = String::new();
        for l in lower.chars() {
            if let Some(t) = transliterate(l) {
                mapped.push_str(t);
                escaped = false;
            } else if l.is_ascii_alphanumeric() {
                mapped.push(l);
                escaped = false;
            } else {
                escaped = true;
                break;
            }
        }
        if escaped {
            // Not transliterable: its own word, so `a\u{3a9}b` cannot collide with `au3a9b`.
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            words.push(format!("u{:x}", c as u32));
            prev = None;
        } else {
            current.push_str(&mapped);
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// `snake_case` ident for a spec name: legal, ASCII, never a keyword.
pub fn snake(name: &str) -> String {
    let words = words(name);
    let mut out = words.join("_");
    if out.is_empty() {
        out = "unnamed".to_string();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'n');
    }
    if KEYWORDS.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// `PascalCase` ident for a spec name: legal and ASCII (`Self` is left to [`Namer`]'s
/// reserved names).
pub fn pascal(name: &str) -> String {
    let mut out = String::new();
    for word in words(name) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            // Two digit words side by side would merge (`1 2` → `12`): keep them apart.
            if first.is_ascii_digit() && out.ends_with(|c: char| c.is_ascii_digit()) {
                out.push('N');
            }
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() {
        out = "Unnamed".to_string();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'N');
    }
    out
}

/// Which case a [`Namer`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Snake,
    Pascal,
}

impl Case {
    fn convert(self, name: &str) -> String {
        match self {
            Case::Snake => snake(name),
            Case::Pascal => pascal(name),
        }
    }

    fn suffixed(self, base: &str, n: usize) -> String {
        match self {
            // `type_` + 2 → `type_2`: a double underscore would trip `non_snake_case`.
            Case::Snake => format!("{}_{n}", base.trim_end_matches('_')),
            Case::Pascal => format!("{base}{n}"),
        }
    }
}

/// Assigns unique idents to a set of spec names within one namespace (see module docs).
#[derive(Debug, Clone)]
pub struct Namer {
    case: Case,
    reserved: BTreeSet<String>,
}

impl Namer {
    pub fn new(case: Case) -> Self {
        let mut reserved = BTreeSet::new();
        if case == Case::Pascal {
            // The one keyword a Pascal-case name can spell.
            reserved.insert("Self".to_string());
        }
        Namer { case, reserved }
    }

    /// Idents that no spec name may take (names of generated helper items).
    pub fn reserve<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reserved.extend(names.into_iter().map(Into::into));
        self
    }

    /// Assigns an ident to every distinct name. The result depends only on the set of
    /// names, not on their order.
    pub fn assign<'a, I>(&self, names: I) -> BTreeMap<String, String>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let names: BTreeSet<&str> = names.into_iter().collect();
        let mut taken: BTreeSet<String> = self.reserved.clone();
        let mut out: BTreeMap<String, String> = BTreeMap::new();
        let mut pending = Vec::new();
        let mut naturals: BTreeSet<String> = BTreeSet::new();
        for name in &names {
            let natural = self.case.convert(name);
            naturals.insert(natural.clone());
            if taken.insert(natural.clone()) {
                out.insert((*name).to_string(), natural);
            } else {
                pending.push((*name, natural));
            }
        }
        // Every natural name that could be had is taken before any suffix is handed out,
        // so a suffixed name never steals another name's natural ident.
        for (name, natural) in pending {
            let mut n = 2;
            loop {
                let candidate = self.case.suffixed(&natural, n);
                if !naturals.contains(&candidate) && taken.insert(candidate.clone()) {
                    out.insert(name.to_string(), candidate);
                    break;
                }
                n += 1;
            }
        }
        out
    }
}

/// Whether an intermediate path segment is a list of objects. Documents do not say, so the
/// rule is by name: a segment is a list when its last word is `items`, `lines`, `entries`,
/// `rows` or `list`, or is a plural noun ending in `s` (but not `ss`, `us`, `is`, `os`,
/// `as`), e.g. `order_line_items`, `SalesOrderLines`, `addresses`. `MailAddress`,
/// `status`, `billing_address` are objects. Leaf segments are never lists: the property
/// itself is the value.
pub fn is_list_segment(segment: &str) -> bool {
    let words = words(segment);
    let Some(last) = words.last() else {
        return false;
    };
    if matches!(
        last.as_str(),
        "list" | "items" | "lines" | "entries" | "rows"
    ) {
        return true;
    }
    last.len() > 2
        && last.ends_with('s')
        && !["ss", "us", "is", "os", "as"]
            .iter()
            .any(|suffix| last.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AWKWARD: &[&str] = &[
        "type",
        "fn",
        "self",
        "Self",
        "crate",
        "async",
        "Option",
        "Id",
        "Customer",
        "customer",
        "CUSTOMER",
        "2fa",
        "24SevenOffice",
        "Straße",
        "Kunde-Æble",
        "Ω",
        "日本",
        "é",
        "Wix.com",
        "(human data)",
        "Customers person",
        "order_line_items",
        "HTTPServer",
        "_",
        "1",
        "",
    ];
    const SEPARATORS: &[&str] = &["", " ", "-", ".", "(", ")", "_", "  "];

    #[test]
    fn words_split_case_separators_and_acronyms() {
        assert_eq!(
            words("CustomerReferenceContactPersonId").join(" "),
            "customer reference contact person id"
        );
        assert_eq!(
            words("order_line_items.unit_price").join(" "),
            "order line items unit price"
        );
        assert_eq!(words("HTTPServer").join(" "), "http server");
        assert_eq!(
            words("Customers (human data)").join(" "),
            "customers human data"
        );
        assert_eq!(words("Wix.com").join(" "), "wix com");
        assert_eq!(words("24SevenOffice").join(" "), "24 seven office");
        assert_eq!(words("address2").join(" "), "address2");
    }

    #[test]
    fn snake_and_pascal_cover_awkward_names() {
        assert_eq!(snake("PowerOffice GO"), "power_office_go");
        assert_eq!(pascal("PowerOffice GO"), "PowerOfficeGo");
        assert_eq!(snake("24SevenOffice"), "n24_seven_office");
        assert_eq!(pascal("24SevenOffice"), "N24SevenOffice");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("Self"), "self_");
        assert_eq!(snake(""), "unnamed");
        assert_eq!(pascal("  "), "Unnamed");
        assert_eq!(snake("Kunde-Æble"), "kunde_aeble");
        assert_eq!(snake("Ω"), "u3a9");
        assert_eq!(pascal("Business_entity"), "BusinessEntity");
        assert_eq!(snake("emailAddress"), "email_address");
        assert_eq!(pascal("a 1 2"), "A1N2");
    }

    #[test]
    fn collisions_get_deterministic_suffixes() {
        let namer = Namer::new(Case::Pascal).reserve(["Option"]);
        let names = namer.assign([
            "Customers person",
            "Customers_person",
            "customer",
            "Customer",
            "Option",
        ]);
        assert_eq!(names["Customer"], "Customer");
        assert_eq!(names["customer"], "Customer2");
        assert_eq!(names["Customers person"], "CustomersPerson");
        assert_eq!(names["Customers_person"], "CustomersPerson2");
        assert_eq!(names["Option"], "Option2");
    }

    #[test]
    fn natural_names_are_not_stolen_by_suffixes() {
        let names = Namer::new(Case::Snake).assign(["a", "A", "a_2"]);
        // `A` sorts first and wins `a`; `a_2` keeps its own natural name.
        assert_eq!(names["a_2"], "a_2");
        assert_eq!(names["A"], "a");
        assert_eq!(names["a"], "a_3");
    }

    #[test]
    fn list_rule() {
        assert!(is_list_segment("order_line_items"));
        assert!(is_list_segment("SalesOrderLines"));
        assert!(is_list_segment("addresses"));
        assert!(is_list_segment("tags"));
        assert!(!is_list_segment("MailAddress"));
        assert!(!is_list_segment("status"));
        assert!(!is_list_segment("billing_address"));
        assert!(!is_list_segment("analysis"));
        assert!(!is_list_segment("as"));
    }

    proptest! {
        #[test]
        fn idents_are_legal_and_distinct(names in proptest::collection::vec(".{0,12}", 0..12)) {
            for case in [Case::Snake, Case::Pascal] {
                let assigned = Namer::new(case).reserve(RESERVED_TYPES.iter().copied()).assign(names.iter().map(String::as_str));
                let mut seen = BTreeSet::new();
                for ident in assigned.values() {
                    prop_assert!(syn::parse_str::<syn::Ident>(ident).is_ok(), "{ident:?} is not an ident");
                    prop_assert!(ident.is_ascii());
                    prop_assert!(!RESERVED_TYPES.contains(&ident.as_str()));
                    prop_assert!(seen.insert(ident.clone()), "{ident} twice");
                }
                let distinct: BTreeSet<&String> = names.iter().collect();
                prop_assert_eq!(assigned.len(), distinct.len());
            }
        }

        /// Names built from what documents actually contain: keywords, leading digits,
        /// non-ASCII letters, spaces, dashes, dots, parentheses and names that differ only
        /// in case. Every namespace gets legal, distinct, non-reserved idents, and the same
        /// idents whatever the order of the names.
        #[test]
        fn awkward_names_get_legal_distinct_stable_idents(
            parts in proptest::collection::vec(
                (proptest::sample::select(AWKWARD), proptest::sample::select(SEPARATORS)),
                1..4,
            ),
            more in proptest::collection::vec(
                proptest::collection::vec(
                    (proptest::sample::select(AWKWARD), proptest::sample::select(SEPARATORS)),
                    1..3,
                ),
                0..10,
            ),
        ) {
            let join = |parts: &[(&str, &str)]| -> String {
                parts.iter().map(|(word, sep)| format!("{word}{sep}")).collect()
            };
            let mut names: Vec<String> = std::iter::once(join(&parts))
                .chain(more.iter().map(|p| join(p)))
                .collect();
            // Case-only variants of the first name must not share its ident.
            names.push(names[0].to_uppercase());
            names.push(names[0].to_lowercase());
            for case in [Case::Snake, Case::Pascal] {
                let namer = Namer::new(case).reserve(RESERVED_TYPES.iter().copied());
                let assigned = namer.assign(names.iter().map(String::as_str));
                let mut seen = BTreeSet::new();
                for (name, ident) in &assigned {
                    prop_assert!(
                        syn::parse_str::<syn::Ident>(ident).is_ok(),
                        "{name:?} → {ident:?} is not an ident"
                    );
                    prop_assert!(ident.is_ascii(), "{name:?} → {ident:?}");
                    prop_assert!(!KEYWORDS.contains(&ident.as_str()), "{name:?} → keyword {ident:?}");
                    prop_assert!(!RESERVED_TYPES.contains(&ident.as_str()), "{name:?} → {ident:?}");
                    prop_assert!(seen.insert(ident.clone()), "{ident} twice");
                }
                let distinct: BTreeSet<&String> = names.iter().collect();
                prop_assert_eq!(assigned.len(), distinct.len());
                let mut reversed = names.clone();
                reversed.reverse();
                prop_assert_eq!(&assigned, &namer.assign(reversed.iter().map(String::as_str)));
            }
        }

        #[test]
        fn assignment_ignores_order(mut names in proptest::collection::vec("[a-cA-C _2-]{0,4}", 0..8)) {
            let namer = Namer::new(Case::Snake);
            let first = namer.assign(names.iter().map(String::as_str));
            names.reverse();
            prop_assert_eq!(first, namer.assign(names.iter().map(String::as_str)));
        }
    }
}
