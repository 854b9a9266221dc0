//! References: properties that hold the id of another entity of the same system.
//!
//! A property (its last dotted segment) is a reference when its name ends with an `Id`
//! word — `Id`, `ID`, `_id`, `-id`, `.id` — and the words before it end with an entity's
//! name, compared case- and separator-insensitively with the plural `s` optional. The
//! longest run of trailing words that names an entity wins, so
//! `CustomerReferenceContactPersonId` refers to `Contactperson`, not to a `Person`. Words
//! are split at separators and camel-case humps, so `paid` and `valid` are no references
//! (no `Id` word) and `SalesorderId` never means `Order` (a suffix must start a word).
//! A bare `id` is the record's own id, and so is `<own entity>Id` (`CustomerId` on
//! `Customer`); a prefixed one (`ParentCustomerId`) refers to its own entity.

use std::collections::BTreeMap;

use crate::model::{Diagnostic, System};
use crate::overrides::Overrides;

use super::{FastMap as HashMap, normalize};

/// Sets `reference` on every catalog property, then applies the overrides.
pub(super) fn assign(
    systems: &mut BTreeMap<String, System>,
    overrides: Option<&Overrides>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for system in systems.values_mut() {
        let index = EntityIndex::new(system);
        for (entity, e) in system.entities.iter_mut() {
            for (name, p) in e.properties.iter_mut() {
                p.reference = index.referenced(name, entity);
            }
        }
    }
    if let Some(o) = overrides {
        apply_overrides(systems, o, diagnostics);
    }
}

/// The entities of one system by normalized name, singular forms too.
struct EntityIndex {
    /// normalized name → entity (exact forms).
    exact: HashMap<String, String>,
    /// normalized name without a trailing `s` → entity.
    singular: HashMap<String, String>,
}

impl EntityIndex {
    fn new(system: &System) -> Self {
        let mut exact = HashMap::default();
        let mut singular = HashMap::default();
        for name in system.entities.keys() {
            let n = normalize(name);
            if let Some(s) = n.strip_suffix('s').filter(|s| !s.is_empty()) {
                singular
                    .entry(s.to_string())
                    .or_insert_with(|| name.clone());
            }
            exact.entry(n).or_insert_with(|| name.clone());
        }
        EntityIndex { exact, singular }
    }

    /// The entity a word run names: exact first (`customers` → `Customers`), then with the
    /// plural `s` added or removed.
    fn lookup(&self, words: &str) -> Option<&String> {
        if let Some(e) = self.exact.get(words) {
            return Some(e);
        }
        if let Some(e) = self.singular.get(words) {
            return Some(e);
        }
        words
            .strip_suffix('s')
            .and_then(|w| self.exact.get(w).or_else(|| self.singular.get(w)))
    }

    /// The entity `property` (of `owner`) refers to, if any.
    fn referenced(&self, property: &str, owner: &str) -> Option<String> {
        let last = property.rsplit('.').next().unwrap_or(property);
        if !ends_with_id(last) {
            return None;
        }
        let words = words_before_id(last)?;
        // Longest trailing run of words first.
        for start in 0..words.len() {
            let run: String = words
                .get(start..)
                .unwrap_or_default()
                .iter()
                .flat_map(|w| w.chars().flat_map(char::to_lowercase))
                .collect();
            if let Some(entity) = self.lookup(&run) {
                if entity == owner && start == 0 {
                    // `CustomerId` on `Customer` is the record's own id.
                    return None;
                }
                return Some(entity.clone());
            }
        }
        None
    }
}

/// True when `name`, without trailing separators, ends with `id` in any case: a quick
/// test that every name with a final `Id` word passes (most names fail it, and splitting
/// them into words would allocate).
fn ends_with_id(name: &str) -> bool {
    let trimmed = name.trim_end_matches([' ', '_', '-', '.']);
    trimmed
        .as_bytes()
        .last_chunk::<2>()
        .is_some_and(|end| end.eq_ignore_ascii_case(b"id"))
}

/// The words of `name` before a final `Id` word, or `None` when it has no `Id` word (or
/// nothing before it).
fn words_before_id(name: &str) -> Option<Vec<&str>> {
    let words = split_words(name);
    let (last, before) = words.split_last()?;
    if !last.eq_ignore_ascii_case("id") || before.is_empty() {
        return None;
    }
    Some(before.to_vec())
}

/// Splits at separators and camel-case humps: `CustomerReferenceContactPersonId` →
/// `Customer Reference Contact Person Id`, `customer_id` → `customer id`, `HTTPId` →
/// `HTTP Id`, `customerID` → `customer ID`.
fn split_words(name: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for part in name.split([' ', '_', '-', '.']) {
        let chars: Vec<(usize, char)> = part.char_indices().collect();
        let mut start = 0;
        for (i, pair) in chars.windows(2).enumerate() {
            let [(_, prev), (at, c)] = [pair[0], pair[1]];
            let next_lower = chars.get(i + 2).is_some_and(|(_, n)| n.is_lowercase());
            // `HTTPServer` splits before `Server`; `customerID` keeps `ID` whole.
            let hump = c.is_uppercase()
                && (prev.is_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_uppercase() && next_lower));
            if hump {
                if let Some(w) = part.get(start..at) {
                    words.push(w);
                }
                start = at;
            }
        }
        if let Some(w) = part.get(start..).filter(|w| !w.is_empty()) {
            words.push(w);
        }
    }
    words
}

fn apply_overrides(
    systems: &mut BTreeMap<String, System>,
    overrides: &Overrides,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (system_name, entities) in &overrides.references {
        for (entity_name, properties) in entities {
            for (property, o) in properties {
                let Some(system) = systems.get_mut(system_name) else {
                    diagnostics.push(
                        Diagnostic::warning(format!(
                            "overrides.yaml names system `{system_name}`, which no document has; the entry is ignored"
                        ))
                        .at(&o.location)
                        .help(known_list("systems", systems.keys())),
                    );
                    continue;
                };
                if let Some(target) = &o.entity
                    && !system.entities.contains_key(target)
                {
                    diagnostics.push(
                        Diagnostic::warning(format!(
                            "overrides.yaml makes {system_name} {entity_name} `{property}` refer to `{target}`, which is not an entity of {system_name}; the entry is ignored"
                        ))
                        .at(&o.location)
                        .help(known_list("entities", system.entities.keys())),
                    );
                    continue;
                }
                let known_entities: Vec<String> = system.entities.keys().cloned().collect();
                let Some(entity) = system.entities.get_mut(entity_name) else {
                    diagnostics.push(
                        Diagnostic::warning(format!(
                            "overrides.yaml names {system_name} entity `{entity_name}`, which no document has; the entry is ignored"
                        ))
                        .at(&o.location)
                        .help(known_list("entities", known_entities.iter())),
                    );
                    continue;
                };
                let known_properties: Vec<String> = entity.properties.keys().cloned().collect();
                let Some(p) = entity.properties.get_mut(property) else {
                    diagnostics.push(
                        Diagnostic::warning(format!(
                            "overrides.yaml names {system_name} {entity_name} property `{property}`, which no document has; the entry is ignored"
                        ))
                        .at(&o.location)
                        .help(known_list("properties", known_properties.iter())),
                    );
                    continue;
                };
                p.reference = o.entity.clone();
            }
        }
    }
}

fn known_list<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<&str> = names.map(String::as_str).take(20).collect();
    format!("known {what}: {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CatalogProperty, Entity};

    fn system(entities: &[&str]) -> System {
        System {
            entities: entities
                .iter()
                .map(|e| (e.to_string(), Entity::default()))
                .collect(),
        }
    }

    fn refers(entities: &[&str], property: &str, owner: &str) -> Option<String> {
        EntityIndex::new(&system(entities)).referenced(property, owner)
    }

    const POGO: &[&str] = &[
        "Contactperson",
        "Customers",
        "Customers person",
        "Departments",
        "Employees",
        "Product",
        "Salesorderlines",
        "Salesorders",
    ];

    #[test]
    fn the_required_references() {
        assert_eq!(
            refers(&["Customer", "Order", "Item"], "customer_id", "Order").as_deref(),
            Some("Customer")
        );
        assert_eq!(
            refers(POGO, "CustomerId", "Salesorders").as_deref(),
            Some("Customers")
        );
        assert_eq!(
            refers(POGO, "CustomerReferenceContactPersonId", "Salesorders").as_deref(),
            Some("Contactperson")
        );
    }

    #[test]
    fn id_word_forms() {
        let e = &["Customer", "Contact person"];
        for p in [
            "customer_id",
            "CustomerId",
            "customerId",
            "customer-id",
            "CUSTOMER_ID",
            "customerID",
            "order.customer_id",
            "contact_person_id",
            "ContactPersonID",
        ] {
            assert!(refers(e, p, "Order").is_some(), "{p}");
        }
        for p in [
            "Customer.Id",
            "paid",
            "valid",
            "customerid",
            "id",
            "Id",
            "ID",
            "customer",
            "customer_ids",
            "Identity",
        ] {
            assert_eq!(refers(e, p, "Order"), None, "{p}");
        }
    }

    #[test]
    fn suffixes_start_words_and_the_longest_wins() {
        assert_eq!(refers(&["Order"], "SalesorderId", "X"), None);
        assert_eq!(
            refers(&["Order", "Sales order"], "SalesOrderId", "X").as_deref(),
            Some("Sales order")
        );
        assert_eq!(
            refers(&["Order"], "parent_order_id", "X").as_deref(),
            Some("Order")
        );
        assert_eq!(
            refers(&["Person", "Contact person"], "main_contact_person_id", "X").as_deref(),
            Some("Contact person")
        );
        assert_eq!(refers(&["Customers"], "external_id", "X"), None);
    }

    #[test]
    fn own_id_is_not_a_reference_but_a_prefixed_one_is() {
        assert_eq!(refers(&["Customer"], "CustomerId", "Customer"), None);
        assert_eq!(
            refers(&["Customer"], "ParentCustomerId", "Customer").as_deref(),
            Some("Customer")
        );
    }

    #[test]
    fn plural_s_is_optional_both_ways() {
        assert_eq!(
            refers(&["Customers"], "customer_id", "X").as_deref(),
            Some("Customers")
        );
        assert_eq!(
            refers(&["Customer"], "customers_id", "X").as_deref(),
            Some("Customer")
        );
        // An exact form beats a plural form.
        assert_eq!(
            refers(&["Customer", "Customers"], "customer_id", "X").as_deref(),
            Some("Customer")
        );
        assert_eq!(
            refers(&["Customer", "Customers"], "customers_id", "X").as_deref(),
            Some("Customers")
        );
    }

    #[test]
    fn words_split_at_humps_and_separators() {
        assert_eq!(
            split_words("CustomerReferenceContactPersonId"),
            ["Customer", "Reference", "Contact", "Person", "Id"]
        );
        assert_eq!(split_words("HTTPServerId"), ["HTTP", "Server", "Id"]);
        assert_eq!(split_words("customerID"), ["customer", "ID"]);
        assert_eq!(split_words("a_b-c.d e"), ["a", "b", "c", "d", "e"]);
        assert_eq!(split_words("Item2Id"), ["Item2", "Id"]);
        assert_eq!(split_words("øreId"), ["øre", "Id"]);
    }

    #[test]
    fn the_quick_id_test() {
        for name in [
            "customer_id",
            "CustomerID",
            "Id",
            "iD",
            "parent-id--",
            "x_id _",
        ] {
            assert!(ends_with_id(name), "{name}");
        }
        for name in ["paid", "valid"] {
            assert!(
                ends_with_id(name),
                "{name}: passes, the word split rejects it"
            );
            assert_eq!(words_before_id(name), None);
        }
        for name in ["", "d", "ident", "customer_i d", "idx", "Customer"] {
            assert!(!ends_with_id(name), "{name}");
        }
    }

    proptest::proptest! {
        /// The quick test never turns away a name with a final `Id` word.
        #[test]
        fn the_quick_id_test_keeps_every_id_name(
            name in "[a-zA-Zø0-9 _.-]{0,10}([iI][dD])?[ _.-]{0,2}",
        ) {
            if words_before_id(&name).is_some() {
                proptest::prop_assert!(ends_with_id(&name), "{}", name);
            }
        }
    }

    #[test]
    fn overrides_add_and_remove_and_warn_on_unknown_names() {
        let mut systems = BTreeMap::new();
        let mut order = Entity::default();
        order
            .properties
            .insert("buyer".into(), CatalogProperty::default());
        order
            .properties
            .insert("customer_id".into(), CatalogProperty::default());
        let mut s = system(&["Customer"]);
        s.entities.insert("Order".into(), order);
        systems.insert("Shop".to_string(), s);
        let yaml = "references:\n  Shop:\n    Order:\n      buyer: Customer\n      customer_id: null\n      nope: Customer\n      \
                    total: Nothing\n    Ghost:\n      x: null\n  Nowhere:\n    A:\n      b: null\n";
        let o = Overrides::parse("overrides.yaml", yaml.as_bytes()).unwrap();
        let mut diags = Vec::new();
        assign(&mut systems, Some(&o), &mut diags);
        let props = &systems["Shop"].entities["Order"].properties;
        assert_eq!(props["buyer"].reference.as_deref(), Some("Customer"));
        assert_eq!(props["customer_id"].reference, None);
        assert_eq!(diags.len(), 4, "{diags:#?}");
        assert!(
            diags
                .iter()
                .all(|d| d.file.as_deref() == Some("overrides.yaml"))
        );
        assert!(
            diags
                .iter()
                .any(|d| d.message.contains("`nope`") && d.line == Some(6))
        );
        assert!(diags.iter().any(|d| d.message.contains("`Nothing`")));
        assert!(diags.iter().any(|d| d.message.contains("`Ghost`")));
        assert!(diags.iter().any(|d| d.message.contains("`Nowhere`")));
    }
}
