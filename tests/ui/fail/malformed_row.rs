//! A property row with two cells instead of three.
flowgen_macros::dataflows!("../../fixtures/malformed_row");

fn main() {}
