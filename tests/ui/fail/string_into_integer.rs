//! A string property mapped into an integer that is not a reference.
flowgen_macros::dataflows!("../../fixtures/string_into_integer");

fn main() {}
