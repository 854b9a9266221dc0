//! The shop test set: awkward names, nested paths, lists, references and conditions.
#![deny(warnings)]

flowgen_macros::dataflows!("../../fixtures/shop");

struct Rules;

impl Conditions for Rules {
    fn the_order_is_paid(&self, source: &shop::Order) -> bool {
        source.total.is_some()
    }

    fn the_person_is_not_a_duplicate(&self, source: &shop::CustomersPerson2) -> bool {
        source.name.is_some()
    }
}

fn main() {
    let registry = registry(Rules);
    assert_eq!(registry.len(), 8);
    let customer = shop::Customer {
        email: Some("a@example.com".to_string()),
        n2fa_enabled: Some(true),
        loyalty_points: Some(7),
        ..Default::default()
    };
    let _: Option<flowgen_runtime::serde_json::Value> = customer.type_;
    let _: Option<shop::CustomerBilling> = customer.billing;
    let _: Option<flowgen_runtime::Id<shop::Customer>> = customer.id;
}
