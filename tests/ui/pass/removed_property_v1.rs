//! User code reading `phone`, which the first version of the document maps.
#![deny(warnings)]

flowgen_macros::dataflows!("../../fixtures/removed_property/v1");

fn main() {
    let contact = ledger::Contact::default();
    let _: Option<String> = contact.phone;
    assert_eq!(registry().len(), 1);
}
