//! The embedding code implements one of the two documented conditions.
flowgen_macros::dataflows!("../../fixtures/shop");

struct Rules;

impl Conditions for Rules {
    fn the_order_is_paid(&self, _: &shop::Order) -> bool {
        true
    }
}

fn main() {
    let _ = registry(Rules);
}
