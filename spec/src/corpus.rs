//! A deterministic generator of realistic dataflow documents, for benchmarks and tests.
//!
//! [`generate`] makes `documents` documents (about 6 KB each) between 50 systems with
//! multi-word names, using every sentence form of the grammar (`Every …`, link required,
//! connected via, `When …`, merge tables with match-then-create), dotted properties,
//! references (`customer_id`, `CustomerId`), inverse flows (a document and its reverse
//! map mirrored rows), rows that feed one target from two sources, variant spellings of
//! system names in headings, and `N/A` types.
//!
//! The corpus resolves with no errors: a property's type is a function of (system, entity,
//! property) and a concept's types always convert into each other; a reference is mapped
//! only from a reference to the same kind of entity, in a document that also links the two
//! referenced entities. Warnings and notes (cascades, cycles, untyped sources) are expected.
//!
//! No `rand` dependency: a splitmix64 stream and a splitmix64 hash of names are enough.

use std::fmt::Write as _;
use std::path::Path;

/// splitmix64: tiny, fast, and good enough for test data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable hash of some names and numbers (FNV-1a, then mixed).
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xFF]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    mix(h)
}

/// Kinds of entity; each system spells a kind one way (its entity name).
const KINDS: &[&[&str]] = &[
    &["Customer", "Customers", "Client"],
    &["Contact person", "Contactperson", "Contacts"],
    &["Employee", "Employees", "Staff member"],
    &["Order", "Orders", "Sales order"],
    &["Order line", "Order lines", "Sales order line"],
    &["Product", "Products", "Item"],
    &["Invoice", "Invoices", "Bill"],
    &["Payment", "Payments", "Transaction"],
    &["Supplier", "Suppliers", "Vendor"],
    &["Project", "Projects", "Engagement"],
    &["Department", "Departments", "Division"],
    &["Quote", "Quotes", "Quotation"],
    &["Subscription", "Subscriptions", "Plan"],
    &["Business_entity", "Company", "Organisation"],
    &["Account", "Ledger account", "Accounts"],
    &["Customers (human data)", "Person", "People"],
];

/// Which kinds refer to which (the referencing kind holds `<kind>_id`).
const REFERENCES: &[(usize, usize)] = &[
    (3, 0),  // Order → Customer
    (4, 3),  // Order line → Order
    (4, 5),  // Order line → Product
    (6, 0),  // Invoice → Customer
    (7, 6),  // Payment → Invoice
    (1, 0),  // Contact person → Customer
    (11, 0), // Quote → Customer
    (12, 0), // Subscription → Customer
    (9, 0),  // Project → Customer
    (2, 10), // Employee → Department
];

/// Flows between different kinds (`Employees to Customer`), as unordered pairs.
const CROSS: &[(usize, usize)] = &[(2, 0), (1, 0), (11, 3), (4, 3), (15, 0), (8, 13), (12, 3)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    String,
    Integer,
    Float,
    Decimal,
    Boolean,
    Date,
    Datetime,
}

impl Ty {
    fn quoted(self) -> &'static str {
        match self {
            Ty::String => "\"string\"",
            Ty::Integer => "\"integer\"",
            Ty::Float => "\"float\"",
            Ty::Decimal => "\"decimal\"",
            Ty::Boolean => "\"boolean\"",
            Ty::Date => "\"date\"",
            Ty::Datetime => "\"datetime\"",
        }
    }
}

/// Plain properties: words (dots separate nesting) and the types a system may give them
/// (always mutually convertible).
const CONCEPTS: &[(&str, &[Ty])] = &[
    ("name", &[Ty::String]),
    ("email", &[Ty::String]),
    ("first name", &[Ty::String]),
    ("last name", &[Ty::String]),
    ("phone", &[Ty::String]),
    ("amount", &[Ty::Decimal, Ty::Float]),
    ("quantity", &[Ty::Integer]),
    ("unit price", &[Ty::Float, Ty::Decimal]),
    ("active", &[Ty::Boolean]),
    ("created at", &[Ty::Datetime]),
    ("due date", &[Ty::Date]),
    ("currency code", &[Ty::String]),
    ("address.city", &[Ty::String]),
    ("address.zip code", &[Ty::String]),
    ("address.street", &[Ty::String]),
    ("postal address.city", &[Ty::String]),
    ("vat rate", &[Ty::Float, Ty::Decimal]),
    ("discount", &[Ty::Decimal, Ty::Float]),
    ("number", &[Ty::Integer]),
    ("notes", &[Ty::String]),
    ("description", &[Ty::String]),
    ("website", &[Ty::String]),
    ("status", &[Ty::String]),
    ("order line items.unit price", &[Ty::Float, Ty::Decimal]),
];

/// Index of `postal address.city` and `address.city`: a row from the first into the second
/// makes two rows feed one target property.
const POSTAL_CITY: usize = 15;
const CITY: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Snake,
    Camel,
    Pascal,
}

#[derive(Debug)]
struct SystemDef {
    name: String,
    style: Style,
    id_type: Ty,
    /// Per kind: the entity name, if the system has that kind.
    entities: Vec<Option<&'static str>>,
}

impl SystemDef {
    fn has(&self, kind: usize) -> bool {
        self.entities.get(kind).copied().flatten().is_some()
    }
    fn entity(&self, kind: usize) -> &'static str {
        self.entities
            .get(kind)
            .copied()
            .flatten()
            .unwrap_or("Record")
    }
    /// The concepts this system's entity of `kind` has.
    fn has_concept(&self, kind: usize, concept: usize) -> bool {
        // About 60% of concepts; `name` always.
        concept == 0 || hash(&[&self.name, self.entity(kind), &concept.to_string()]) % 100 < 60
    }
    fn concept_type(&self, kind: usize, concept: usize) -> Ty {
        let types = CONCEPTS.get(concept).map_or(&[Ty::String][..], |c| c.1);
        let h = hash(&[&self.name, self.entity(kind), "type", &concept.to_string()]);
        types
            .get((h % types.len() as u64) as usize)
            .copied()
            .unwrap_or(Ty::String)
    }
    fn property(&self, concept: usize) -> String {
        let words = CONCEPTS.get(concept).map_or("name", |c| c.0);
        spell(words, self.style)
    }
    /// The reference property naming the system's entity of `kind` (`customer_id`).
    fn reference(&self, kind: usize) -> Option<String> {
        let entity = self.entity(kind);
        if !entity
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '_')
        {
            return None;
        }
        let mut words: Vec<String> = entity.split([' ', '_']).map(str::to_lowercase).collect();
        if let Some(last) = words.last_mut()
            && last.ends_with('s')
            && !last.ends_with("ss")
        {
            last.pop();
        }
        words.push("id".to_string());
        Some(spell(&words.join(" "), self.style))
    }
}

/// Spells words (dots separate path segments) in a naming style.
fn spell(words: &str, style: Style) -> String {
    words
        .split('.')
        .map(|segment| {
            let parts: Vec<&str> = segment.split(' ').filter(|w| !w.is_empty()).collect();
            match style {
                Style::Snake => parts.join("_"),
                Style::Camel | Style::Pascal => parts
                    .iter()
                    .enumerate()
                    .map(|(i, w)| {
                        if i == 0 && style == Style::Camel {
                            w.to_string()
                        } else {
                            capitalize(w)
                        }
                    })
                    .collect(),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn capitalize(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

const FIRST: &[&str] = &[
    "Nordic", "Blue", "Swift", "Acme", "Bright", "Cloud", "Green", "North", "Open", "Prime",
    "Silver", "True", "Vivid", "Zen", "Polar", "Fjord", "Harbor", "Summit",
];
const SECOND: &[&str] = &[
    "Ledger", "Office", "CRM", "Shop", "Books", "Pay", "Desk", "Hub", "Flow", "Works", "Cart",
    "HR", "Billing", "Suite",
];

fn systems(seed: u64) -> Vec<SystemDef> {
    let mut rng = Rng(seed ^ 0x5157_E405);
    let mut names: Vec<String> = Vec::new();
    let mut i = 0usize;
    while names.len() < 50 {
        let name = match i % 10 {
            // Digits and dots, as in `24SevenOffice` and `Wix.com`.
            3 => format!("{}{}", 24 + i, SECOND[i % SECOND.len()]),
            7 => format!("{}.io", FIRST[(i / 3) % FIRST.len()]),
            _ => format!(
                "{} {}",
                FIRST[rng.below(FIRST.len())],
                SECOND[rng.below(SECOND.len())]
            ),
        };
        // No name may be the first words of another (`Nordic` and `Nordic Ledger`).
        let clash = names.iter().any(|n| {
            n == &name || n.starts_with(&format!("{name} ")) || name.starts_with(&format!("{n} "))
        });
        if !clash {
            names.push(name);
        }
        i += 1;
    }
    names
        .into_iter()
        .map(|name| {
            let h = hash(&[&name, "system"]);
            let style = match h % 3 {
                0 => Style::Snake,
                1 => Style::Camel,
                _ => Style::Pascal,
            };
            let id_type = if (h >> 8).is_multiple_of(2) {
                Ty::Integer
            } else {
                Ty::String
            };
            let entities = KINDS
                .iter()
                .enumerate()
                .map(|(k, spellings)| {
                    let hk = hash(&[&name, "kind", &k.to_string()]);
                    // About 75% of kinds, each spelled one of three ways.
                    (hk % 100 < 75)
                        .then(|| spellings[((hk >> 16) % spellings.len() as u64) as usize])
                })
                .collect();
            SystemDef {
                name,
                style,
                id_type,
                entities,
            }
        })
        .collect()
}

/// How a flow may create records.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Every,
    Connected,
    Condition,
    Match,
    LinkOnly,
}

struct FlowDef {
    source_kind: usize,
    target_kind: usize,
}

/// Generates `documents` documents; the same arguments give the same bytes.
pub fn generate(documents: usize, seed: u64) -> Vec<(String, String)> {
    let systems = systems(seed);
    let n = systems.len();
    let mut pairs: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect();
    let mut rng = Rng(seed);
    // Shuffle, then move each picked pair's reverse next to it half of the time, so that
    // many documents have their reverse document (inverse flows).
    for i in (1..pairs.len()).rev() {
        let j = rng.below(i + 1);
        pairs.swap(i, j);
    }
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(pairs.len());
    let mut used = std::collections::HashSet::new();
    for &(a, b) in &pairs {
        if used.insert((a, b)) {
            order.push((a, b));
            if rng.chance(50) && used.insert((b, a)) {
                order.push((b, a));
            }
        }
    }
    let mut out = Vec::with_capacity(documents);
    for i in 0..documents {
        let Some(&(a, b)) = order.get(i % order.len().max(1)) else {
            break;
        };
        let (Some(s), Some(t)) = (systems.get(a), systems.get(b)) else {
            break;
        };
        let round = i / order.len().max(1);
        let mut file = format!("{}-to-{}", slug(&s.name), slug(&t.name));
        if round > 0 {
            let _ = write!(file, "-{round}");
        }
        file.push_str(".rst");
        let text = document(s, t, &mut Rng(seed ^ hash(&[&file])), i);
        out.push((file, text));
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

fn slug(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A heading's spelling of a multi-word system: `Nordicledger` for `Nordic Ledger`.
fn variant(name: &str) -> String {
    let joined: String = name.split(' ').collect();
    capitalize(&joined.to_lowercase())
}

/// The kinds of flows of the document between `s` and `t`, the same (mirrored) for the
/// reverse document.
fn flow_defs(s: &SystemDef, t: &SystemDef) -> Vec<FlowDef> {
    let (lo, hi) = if s.name < t.name {
        (&s.name, &t.name)
    } else {
        (&t.name, &s.name)
    };
    let mut same: Vec<(u64, usize)> = (0..KINDS.len())
        .filter(|&k| s.has(k) && t.has(k))
        .map(|k| (hash(&[lo, hi, "same", &k.to_string()]), k))
        .collect();
    same.sort_unstable();
    let mut defs: Vec<FlowDef> = same
        .iter()
        .take(4)
        .map(|&(_, k)| FlowDef {
            source_kind: k,
            target_kind: k,
        })
        .collect();
    for &(x, y) in CROSS {
        for (from, to) in [(x, y), (y, x)] {
            if !(s.has(from) && t.has(to)) {
                continue;
            }
            // Keyed by the unordered pair of (system, kind) ends, so the reverse document
            // picks the reverse flow.
            let a = format!("{}/{from}", s.name);
            let b = format!("{}/{to}", t.name);
            let (x, y) = if a < b { (&a, &b) } else { (&b, &a) };
            if hash(&[x, y, "cross"]) % 100 < 30 {
                defs.push(FlowDef {
                    source_kind: from,
                    target_kind: to,
                });
            }
        }
    }
    defs
}

fn document(s: &SystemDef, t: &SystemDef, rng: &mut Rng, index: usize) -> String {
    let title = format!("{} to {} Dataflow", s.name, t.name);
    let bar = "=".repeat(title.chars().count());
    let mut out = String::with_capacity(7000);
    let _ = write!(
        out,
        "{bar}\n{title}\n{bar}\n\nGenerated: 2024-09-{:02} {:02}:{:02}:{:02}\n\n",
        1 + index % 28,
        index % 24,
        (index * 7) % 60,
        (index * 13) % 60
    );
    let _ = write!(
        out,
        "Introduction\n------------\n\nThis technical document provides a detailed overview of the Sesam Talk data flow from {} to {}. It serves as a QA checklist for testing purposes and is the intellectual property of Sesam.io AS. The content contains confidential information regulated under an NDA agreement, and sharing or distributing it without written permission is prohibited.\n\n",
        s.name, t.name
    );
    let use_variant = s.name.contains(' ') && rng.chance(10);
    let heading_source = if use_variant {
        variant(&s.name)
    } else {
        s.name.clone()
    };
    let defs = flow_defs(s, t);
    let doc_kinds: Vec<(usize, usize)> = defs
        .iter()
        .map(|d| (d.source_kind, d.target_kind))
        .collect();
    for def in &defs {
        section(&mut out, s, t, &heading_source, def, &doc_kinds, rng);
    }
    out
}

fn section(
    out: &mut String,
    s: &SystemDef,
    t: &SystemDef,
    heading_source: &str,
    def: &FlowDef,
    doc_kinds: &[(usize, usize)],
    rng: &mut Rng,
) {
    let se = s.entity(def.source_kind);
    let te = t.entity(def.target_kind);
    let (sn, tn) = (&s.name, &t.name);
    let heading = format!("{heading_source} {se} to {tn} {te}");
    let _ = write!(out, "{heading}\n{}\n", "-".repeat(heading.chars().count()));
    let rule = match rng.below(100) {
        0..45 => Rule::Every,
        45..65 => Rule::Connected,
        65..75 => Rule::Condition,
        75..90 => Rule::Match,
        _ => Rule::LinkOnly,
    };
    match rule {
        Rule::Every => {
            let _ = writeln!(
                out,
                "Every {sn} {se} will be synchronized with a {tn} {te}.\n"
            );
        }
        Rule::Connected | Rule::LinkOnly => {
            let _ = writeln!(
                out,
                "Before any synchronization can take place, a link between a {sn} {se} and a {tn} {te} must be established.\n"
            );
            let via: Vec<&str> = doc_kinds
                .iter()
                .map(|&(k, _)| s.entity(k))
                .filter(|e| *e != se)
                .take(1 + rng.below(3))
                .collect();
            if matches!(rule, Rule::Connected) && !via.is_empty() {
                let list = match via.as_slice() {
                    [one] => one.to_string(),
                    [init @ .., last] => format!("{}, or {last}", init.join(", ")),
                    [] => String::new(),
                };
                let _ = writeln!(
                    out,
                    "A new {tn} {te} will be created from a {sn} {se} if it is connected to a {sn} {list} that is synchronized into {tn}.\n"
                );
            }
        }
        Rule::Condition => {
            let _ = writeln!(
                out,
                "When the {} is active, it  will be synchronized with a {tn} {te}.\n",
                se.to_lowercase()
            );
        }
        Rule::Match => {
            let _ = writeln!(
                out,
                "A {sn} {se} will merge with a {tn} {te} if one of the following property combinations match:\n"
            );
            let _ = writeln!(
                out,
                ".. list-table::\n   :header-rows: 1\n\n   * - {sn} {se} Property\n     - {tn} {te} Property"
            );
            for c in [1usize, 0, 18] {
                if s.has_concept(def.source_kind, c) && t.has_concept(def.target_kind, c) {
                    let _ = writeln!(out, "   * - {}\n     - {}", s.property(c), t.property(c));
                }
            }
            out.push('\n');
            let _ = writeln!(
                out,
                "If a matching {tn} {te} already exists, the {sn} {se} will be merged with the existing one.\n"
            );
            let _ = writeln!(
                out,
                "If no matching {tn} {te} is found, a new {tn} {te} will be created.\n"
            );
        }
    }
    let _ = writeln!(
        out,
        "Once a link between a {sn} {se} and a {tn} {te} is established, it will keep in sync between the two systems, regardless of where it is edited.\n"
    );
    let _ = writeln!(
        out,
        "The following properties are synchronized between a {sn} {se} and a {tn} {te}:\n"
    );
    let _ = writeln!(
        out,
        ".. list-table::\n   :header-rows: 1\n\n   * - {sn} {se} Property\n     - {tn} {te} Property\n     - {tn} Data Type"
    );
    rows(out, s, t, def, doc_kinds);
    out.push_str("\n\n");
}

/// The property rows of a flow: shared concepts (the same set for the reverse flow), the
/// postal-city fan-in, and references between kinds this document links.
fn rows(
    out: &mut String,
    s: &SystemDef,
    t: &SystemDef,
    def: &FlowDef,
    doc_kinds: &[(usize, usize)],
) {
    let (lo, hi) = if s.name < t.name {
        (&s.name, &t.name)
    } else {
        (&t.name, &s.name)
    };
    let (sk, tk) = (def.source_kind, def.target_kind);
    let (klo, khi) = if s.name < t.name { (sk, tk) } else { (tk, sk) };
    let flow_key = [lo.as_str(), hi.as_str(), &klo.to_string(), &khi.to_string()];
    let mut count = 0;
    for c in 0..CONCEPTS.len() {
        if !(s.has_concept(sk, c) && t.has_concept(tk, c)) {
            continue;
        }
        let mut key = flow_key.to_vec();
        let cs = c.to_string();
        key.push(&cs);
        if hash(&key) % 100 >= 45 || count >= 7 {
            continue;
        }
        count += 1;
        row(
            out,
            &s.property(c),
            &t.property(c),
            type_cell(t, tk, c, &key),
        );
    }
    // Two sources into one target: postal city into city (mirrored in the reverse flow).
    if s.has_concept(sk, POSTAL_CITY)
        && t.has_concept(tk, CITY)
        && hash(&flow_key).is_multiple_of(4)
    {
        row(
            out,
            &s.property(POSTAL_CITY),
            &t.property(CITY),
            t.concept_type(tk, CITY).quoted(),
        );
    }
    if t.has_concept(tk, POSTAL_CITY)
        && s.has_concept(sk, CITY)
        && hash(&flow_key).is_multiple_of(4)
    {
        row(
            out,
            &s.property(CITY),
            &t.property(POSTAL_CITY),
            t.concept_type(tk, POSTAL_CITY).quoted(),
        );
    }
    // References: only between kinds this document links both ways of naming.
    for &(holder, referenced) in REFERENCES {
        let linked = doc_kinds.contains(&(referenced, referenced));
        if holder == sk
            && holder == tk
            && linked
            && s.has(referenced)
            && t.has(referenced)
            && let (Some(from), Some(to)) = (s.reference(referenced), t.reference(referenced))
        {
            row(out, &from, &to, t.id_type.quoted());
        }
    }
}

fn type_cell(t: &SystemDef, kind: usize, concept: usize, key: &[&str]) -> &'static str {
    let mut k = key.to_vec();
    k.push("na");
    if hash(&k) % 1000 < 5 {
        "N/A"
    } else {
        t.concept_type(kind, concept).quoted()
    }
}

fn row(out: &mut String, source: &str, target: &str, ty: &str) {
    let _ = writeln!(out, "   * - {source}\n     - {target}\n     - {ty}");
}

/// Writes generated documents into `dir` (created if missing).
pub fn write(dir: &Path, documents: &[(String, String)]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in documents {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a = generate(40, 7);
        let b = generate(40, 7);
        assert_eq!(a, b);
        assert_ne!(a, generate(40, 8));
        assert_eq!(a.len(), 40);
        let total: usize = a.iter().map(|(_, t)| t.len()).sum();
        let average = total / a.len();
        assert!(
            (3_000..10_000).contains(&average),
            "average {average} bytes"
        );
        let names: std::collections::HashSet<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), a.len(), "file names are unique");
    }

    #[test]
    fn more_documents_than_pairs_get_distinct_names() {
        let docs = generate(2_600, 1);
        let names: std::collections::HashSet<&str> = docs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 2_600);
    }

    #[test]
    fn spelling_styles() {
        assert_eq!(spell("first name", Style::Snake), "first_name");
        assert_eq!(spell("first name", Style::Camel), "firstName");
        assert_eq!(spell("address.zip code", Style::Pascal), "Address.ZipCode");
        assert_eq!(variant("Nordic Ledger"), "Nordicledger");
    }

    #[test]
    fn system_names_are_distinct_and_not_prefixes() {
        let s = systems(3);
        assert_eq!(s.len(), 50);
        for a in &s {
            for b in &s {
                if a.name != b.name {
                    assert!(!b.name.starts_with(&format!("{} ", a.name)));
                }
            }
        }
    }
}
