//! Paths through lists (element-wise loops, nested lists, `single`, references per
//! element, a second row into a list property): compiles with no warnings.
#![deny(warnings)]

flowgen_macros::dataflows!("../../fixtures/lists");

fn main() {
    let registry = registry();
    assert_eq!(registry.len(), 2);
    let order = store::Order {
        order_lines: vec![store::OrderLines {
            product_id: Some(flowgen_runtime::Ref::new("p1")),
            ..Default::default()
        }],
        ..Default::default()
    };
    let _: Vec<store::OrderShipments> = order.shipments;
    let _: Vec<books::InvoiceDeliveries> = books::Invoice::default().deliveries;
}
