//! Titles and flow headings: `<Source> to <Target> Dataflow`, and
//! `<Source system> <source entity> to <Target system> <target entity>` where a system may
//! be blank or spelled differently from the title.

/// Lowercase without spaces, `_`, `-` and `.`: how system and entity names are compared.
pub fn normalize(name: &str) -> String {
    normalized(name).collect()
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '\t' | '_' | '-' | '.')
}

/// The characters [`normalize`] keeps, lowercased, without allocating.
fn normalized(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars()
        .filter(|&c| !is_separator(c))
        .flat_map(char::to_lowercase)
}

fn ascii_normalized(name: &str) -> impl Iterator<Item = u8> + '_ {
    name.bytes()
        .filter(|&b| !matches!(b, b' ' | b'\t' | b'_' | b'-' | b'.'))
        .map(|b| b.to_ascii_lowercase())
}

/// True when `a` and `b` name the same thing after [`normalize`], without allocating.
pub fn same_name(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return ascii_normalized(a).eq(ascii_normalized(b));
    }
    normalized(a).eq(normalized(b))
}

/// True when `name` is the concatenation of `parts` after [`normalize`] (a header cell
/// against `<system> <entity> Property`), without allocating.
pub fn same_name_parts(name: &str, parts: &[&str]) -> bool {
    // Most cells are written exactly: the non-empty parts joined by single spaces.
    let mut rest = Some(name);
    for part in parts.iter().filter(|p| !p.is_empty()) {
        rest = rest
            .and_then(|r| r.strip_prefix(' ').or(Some(r)))
            .and_then(|r| r.strip_prefix(part));
    }
    if rest == Some("") {
        return true;
    }
    if name.is_ascii() && parts.iter().all(|p| p.is_ascii()) {
        return ascii_normalized(name).eq(parts.iter().flat_map(|p| ascii_normalized(p)));
    }
    normalized(name).eq(parts.iter().flat_map(|p| normalized(p)))
}

/// The word-bounded ` to ` separators of `text`: byte offsets of the `t`.
fn separators(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    memchr::memmem::find_iter(bytes, b"to").filter(move |&i| {
        let before = i == 0 || bytes[i - 1] == b' ';
        let after = bytes.get(i + 2).is_none_or(|&b| b == b' ');
        before && after
    })
}

/// A title split into its two systems (byte offsets into the title text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title<'a> {
    pub source: (usize, &'a str),
    pub target: (usize, &'a str),
    /// False when the title does not end with `Dataflow`.
    pub says_dataflow: bool,
}

/// Splits `<Source> to <Target> Dataflow`. `None` when there is no ` to `.
pub fn split_title(text: &str) -> Option<Title<'_>> {
    let (body, says_dataflow) = match text.strip_suffix("Dataflow") {
        Some(body) if body.is_empty() || body.ends_with(' ') => (body, true),
        _ => (text, false),
    };
    let at = separators(body).next()?;
    let source = body[..at].trim();
    let source_at = body[..at].len() - body[..at].trim_start().len();
    let after = at + 2;
    let rest = &body[after..];
    let target = rest.trim();
    let target_at = if target.is_empty() {
        (after + 1).min(body.len())
    } else {
        after + (rest.len() - rest.trim_start().len())
    };
    Some(Title {
        source: (source_at, source),
        target: (target_at, target),
        says_dataflow,
    })
}

/// How well a heading's words name a system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fit {
    /// The first words of the system (`Exact` for `Exact Online`).
    Prefix,
    /// The same name, spelled differently (`Businesscentral`).
    Variant,
    /// As the title writes it (or a blank system).
    Exact,
}

/// A system name at the start of one side of a heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemAt<'a> {
    /// The heading's spelling of the system.
    pub spelling: &'a str,
    pub fit: Fit,
    /// Byte offset and text of the entity after it (trimmed, not empty).
    pub entity: (usize, &'a str),
}

fn entity_after(side: &str, from: usize) -> Option<(usize, &str)> {
    let rest = side.get(from..)?;
    let entity = rest.trim();
    if entity.is_empty() {
        return None;
    }
    Some((from + rest.len() - rest.trim_start().len(), entity))
}

/// Word ends in `side`: the byte offsets of the spaces that end each word.
fn word_ends(side: &str) -> impl Iterator<Item = usize> + '_ {
    side.bytes()
        .enumerate()
        .filter(|&(i, b)| b == b' ' && i > 0 && side.as_bytes()[i - 1] != b' ')
        .map(|(i, _)| i)
}

/// Finds `system` at the start of `side`, followed by an entity name.
pub fn system_at<'a>(side: &'a str, system: &str) -> Option<SystemAt<'a>> {
    if system.is_empty() {
        // A blank system leaves only the separating space before the entity.
        return entity_after(side, 0).map(|entity| SystemAt {
            spelling: "",
            fit: Fit::Exact,
            entity,
        });
    }
    let side_trimmed_at = side.len() - side.trim_start().len();
    let body = &side[side_trimmed_at..];
    if let Some(rest) = body.strip_prefix(system)
        && rest.starts_with(' ')
        && let Some((at, entity)) = entity_after(body, system.len())
    {
        return Some(SystemAt {
            spelling: &body[..system.len()],
            fit: Fit::Exact,
            entity: (side_trimmed_at + at, entity),
        });
    }
    let mut best: Option<SystemAt<'a>> = None;
    let system_words: Vec<&str> = system.split_whitespace().collect();
    // A spelling of the system is at most about as long as the system (separators aside):
    // longer prefixes need not be tried, which keeps absurd headings linear.
    let longest = system.len().saturating_mul(2).saturating_add(8);
    for end in word_ends(body) {
        if end > longest {
            break;
        }
        let words = &body[..end];
        let Some((at, entity)) = entity_after(body, end) else {
            break;
        };
        let fit = if same_name(words, system) {
            Fit::Variant
        } else if (1..system_words.len()).any(|n| same_name(words, &system_words[..n].join(" "))) {
            Fit::Prefix
        } else {
            continue;
        };
        if best.is_none_or(|b| fit > b.fit) {
            best = Some(SystemAt {
                spelling: words,
                fit,
                entity: (side_trimmed_at + at, entity),
            });
        }
        if fit == Fit::Variant {
            break;
        }
    }
    best
}

/// A heading read as a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowHeading<'a> {
    pub source: SystemAt<'a>,
    /// The target side; its entity offset counts from the start of the heading.
    pub target: SystemAt<'a>,
}

/// What a heading is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadingKind<'a> {
    Flow(FlowHeading<'a>),
    /// Looks like a flow heading but does not name the systems: (what is missing).
    Malformed(Missing),
    /// Not a flow heading at all.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Both,
    Source,
    Target,
    /// The side names its system and nothing after it.
    SourceEntity,
    TargetEntity,
}

const MAX_SEPARATORS: usize = 16;

/// Reads a section heading against the title's systems.
pub fn split_heading<'a>(text: &'a str, source: &str, target: &str) -> HeadingKind<'a> {
    let mut best: Option<(Fit, Fit, FlowHeading<'a>)> = None;
    let mut source_seen = false;
    let mut target_seen = false;
    let mut source_bare = false;
    let mut target_bare = false;
    let mut any_separator = false;
    // A heading has one or two ` to `; trying a bounded number keeps absurd ones cheap.
    for at in separators(text).take(MAX_SEPARATORS) {
        any_separator = true;
        let left = text[..at].strip_suffix(' ').unwrap_or(&text[..at]);
        let right_from = (at + 3).min(text.len());
        let right = &text[right_from..];
        let s = system_at(left, source);
        let t = system_at(right, target);
        source_seen |= s.is_some();
        target_seen |= t.is_some();
        source_bare |= s.is_none() && same_name(left.trim(), source);
        target_bare |= t.is_none() && same_name(right.trim(), target);
        if let (Some(s), Some(mut t)) = (s, t) {
            t.entity.0 += right_from;
            let score = (s.fit.min(t.fit), s.fit.max(t.fit));
            if best.as_ref().is_none_or(|b| score > (b.0, b.1)) {
                best = Some((
                    score.0,
                    score.1,
                    FlowHeading {
                        source: s,
                        target: t,
                    },
                ));
            }
        }
    }
    if let Some((_, _, flow)) = best {
        return HeadingKind::Flow(flow);
    }
    // Only a name as the title writes it (or a variant spelling) counts here: a first word
    // alone (`Business plan` for `Business Central`) is too weak to call this a flow.
    let names_system = |system: &str| {
        !system.is_empty()
            && system_at(&format!("{text} x"), system).is_some_and(|s| s.fit >= Fit::Variant)
    };
    if any_separator || names_system(source) || names_system(target) {
        return HeadingKind::Malformed(match (source_seen, target_seen) {
            _ if source_bare && (source_seen || target_seen || target_bare) => {
                Missing::SourceEntity
            }
            _ if target_bare && (source_seen || target_seen) => Missing::TargetEntity,
            (true, false) => Missing::Target,
            (false, true) => Missing::Source,
            _ => Missing::Both,
        });
    }
    HeadingKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow<'a>(text: &'a str, s: &str, t: &str) -> (&'a str, &'a str, &'a str, &'a str) {
        match split_heading(text, s, t) {
            HeadingKind::Flow(f) => (
                f.source.spelling,
                f.source.entity.1,
                f.target.spelling,
                f.target.entity.1,
            ),
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn splits_titles() {
        let t = split_title("Chargebee to Powerofficego Dataflow").unwrap();
        assert_eq!(
            (t.source, t.target, t.says_dataflow),
            ((0, "Chargebee"), (13, "Powerofficego"), true)
        );
        let t = split_title("Powerofficego to  Dataflow").unwrap();
        assert_eq!((t.source.1, t.target.1), ("Powerofficego", ""));
        let t = split_title("to Chargebee Dataflow").unwrap();
        assert_eq!((t.source, t.target), ((0, ""), (3, "Chargebee")));
        let t = split_title("Wix.com to PowerOffice GO").unwrap();
        assert_eq!(
            (t.source.1, t.target.1, t.says_dataflow),
            ("Wix.com", "PowerOffice GO", false)
        );
        assert!(split_title("Tomato Dataflow").is_none());
    }

    #[test]
    fn splits_plain_and_multi_word_headings() {
        assert_eq!(
            flow(
                "Chargebee Customer to Powerofficego Customers person",
                "Chargebee",
                "Powerofficego"
            ),
            ("Chargebee", "Customer", "Powerofficego", "Customers person")
        );
        assert_eq!(
            flow(
                "PowerOffice GO Customers (human data) to Wix.com Contact 2.0",
                "PowerOffice GO",
                "Wix.com"
            ),
            (
                "PowerOffice GO",
                "Customers (human data)",
                "Wix.com",
                "Contact 2.0"
            )
        );
        assert_eq!(
            flow(
                "24SevenOffice Invoice to 24SevenOffice Invoice copy",
                "24SevenOffice",
                "24SevenOffice"
            ),
            ("24SevenOffice", "Invoice", "24SevenOffice", "Invoice copy")
        );
        // An entity may itself contain "to": the split that names both systems wins.
        assert_eq!(
            flow("A Go to market to B Plan", "A", "B"),
            ("A", "Go to market", "B", "Plan")
        );
    }

    #[test]
    fn splits_blank_systems() {
        assert_eq!(
            flow("Powerofficego Customers to  Customer", "Powerofficego", ""),
            ("Powerofficego", "Customers", "", "Customer")
        );
        let HeadingKind::Flow(f) =
            split_heading("Powerofficego Customers to  Customer", "Powerofficego", "")
        else {
            panic!()
        };
        assert_eq!(f.target.entity.0, "Powerofficego Customers to  ".len());
        assert_eq!(
            flow("Customer to Chargebee Customer", "", "Chargebee"),
            ("", "Customer", "Chargebee", "Customer")
        );
        assert_eq!(
            flow(" Customer to Chargebee Customer", "", "Chargebee").1,
            "Customer"
        );
    }

    #[test]
    fn splits_variant_spellings() {
        assert_eq!(
            flow(
                "Businesscentral Customer to Exact Account",
                "Business Central",
                "Exact Online"
            ),
            ("Businesscentral", "Customer", "Exact", "Account")
        );
        assert_eq!(
            flow(
                "business-central Sales Order to Exact Online Sales order",
                "Business Central",
                "Exact Online"
            ),
            (
                "business-central",
                "Sales Order",
                "Exact Online",
                "Sales order"
            )
        );
    }

    #[test]
    fn splits_self_documents() {
        assert_eq!(
            flow(
                "Tripletex Customer to Tripletex Customer",
                "Tripletex",
                "Tripletex"
            ),
            ("Tripletex", "Customer", "Tripletex", "Customer")
        );
    }

    #[test]
    fn tells_malformed_from_other_headings() {
        assert_eq!(
            split_heading("Foo Customer to Bar Thing", "Chargebee", "Powerofficego"),
            HeadingKind::Malformed(Missing::Both)
        );
        assert_eq!(
            split_heading(
                "Chargebee Customer to Bar Thing",
                "Chargebee",
                "Powerofficego"
            ),
            HeadingKind::Malformed(Missing::Target)
        );
        assert_eq!(
            split_heading(
                "Foo Customer to Powerofficego X",
                "Chargebee",
                "Powerofficego"
            ),
            HeadingKind::Malformed(Missing::Source)
        );
        assert_eq!(
            split_heading("Chargebee Customer", "Chargebee", "Powerofficego"),
            HeadingKind::Malformed(Missing::Both)
        );
        assert_eq!(
            split_heading(
                "Chargebee Customer to Powerofficego",
                "Chargebee",
                "Powerofficego"
            ),
            HeadingKind::Malformed(Missing::TargetEntity)
        );
        assert_eq!(
            split_heading(
                "Chargebee to Powerofficego Customers",
                "Chargebee",
                "Powerofficego"
            ),
            HeadingKind::Malformed(Missing::SourceEntity)
        );
        assert_eq!(
            split_heading("Powerofficego Customers to ", "Powerofficego", ""),
            HeadingKind::Malformed(Missing::TargetEntity)
        );
        assert_eq!(
            split_heading("Notes", "Chargebee", "Powerofficego"),
            HeadingKind::Other
        );
        assert_eq!(
            split_heading("Tomorrow", "Chargebee", "Powerofficego"),
            HeadingKind::Other
        );
        assert_eq!(
            split_heading("Business plan", "Business Central", "X"),
            HeadingKind::Other
        );
        assert_eq!(
            split_heading("businesscentral notes", "Business Central", "X"),
            HeadingKind::Malformed(Missing::Both)
        );
    }

    #[test]
    fn compares_names() {
        assert!(same_name("Business Central", "businesscentral"));
        assert!(same_name("Wix.com", "wixcom"));
        assert!(same_name("Ærø Ø", "ærøø"));
        assert!(!same_name("Customer", "Customers"));
        assert_eq!(normalize("Business_Central-X."), "businesscentralx");
        assert!(same_name_parts(
            "Business Central Customer Property",
            &["businesscentral", "Customer", "Property"]
        ));
        assert!(!same_name_parts(
            "Customer Property",
            &["", "Customers", "Property"]
        ));
    }
}
