//! `Ledger Contact.EmailAddress` is "string" in one document and "integer" in the other.
flowgen_macros::dataflows!("../../fixtures/type_conflict");

fn main() {}
