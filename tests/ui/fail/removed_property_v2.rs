//! The same user code against the updated document, which no longer maps `Phone`.
flowgen_macros::dataflows!("../../fixtures/removed_property/v2");

fn main() {
    let contact = ledger::Contact::default();
    let _: Option<String> = contact.phone;
    assert_eq!(registry().len(), 1);
}
