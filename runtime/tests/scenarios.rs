//! The scenarios of issue 4 over the hand-written flows of `support/flows.rs`, with memory
//! systems and a SQLite state file, each asserting the exact records in the systems and the
//! exact links in the store. The same cases run over the generated flows in
//! `tests/tests/scenarios.rs`.

mod support;

fn registry() -> flowgen_runtime::flow::Registry {
    support::flows::registry()
}

include!("support/cases.rs");
