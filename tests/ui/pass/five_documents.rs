//! The five real documents through the macro: compiles with no warnings, 29 flows.
#![deny(warnings)]

flowgen_macros::dataflows!("../../../generated/dataflows");

fn main() {
    let registry = registry();
    assert_eq!(registry.len(), 29);
    let order = chargebee::Order {
        currency_code: Some("NOK".to_string()),
        ..Default::default()
    };
    let _: Option<flowgen_runtime::Ref<chargebee::Customer>> = order.customer_id;
    let _: Vec<chargebee::OrderLineItems> = order.order_line_items;
}
