//! A service that needs two systems compiles only their flows.
#![deny(warnings)]

flowgen_macros::dataflows!(
    "../../../generated/dataflows",
    systems = ["Chargebee", "Powerofficego"]
);

fn main() {
    let registry = registry();
    assert!(registry.len() >= 5 && registry.len() < 29);
    let _ = flows::ChargebeeOrderToPowerofficegoSalesorders;
}
