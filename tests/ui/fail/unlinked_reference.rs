//! `customer_id` (a Shop Customer) into `CustomerId` (a Ledger Customers), but no flow
//! links Shop Customer and Ledger Customers.
flowgen_macros::dataflows!("../../fixtures/unlinked_reference");

fn main() {}
