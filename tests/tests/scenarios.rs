//! The scenarios of issue 4 over the generated flows of the `dataflows` crate (the five
//! documents; scenarios 6 and 10 use a test document of their own), with memory systems
//! and a SQLite state file. The cases live in `runtime/tests/support/cases.rs` and also run
//! there over hand-written flows.

#[path = "../../runtime/tests/support/mod.rs"]
mod support;

fn registry() -> flowgen_runtime::flow::Registry {
    dataflows::registry()
}

include!("../../runtime/tests/support/cases.rs");
