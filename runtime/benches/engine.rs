//! The engine bench (`engine/run.rs`) with the allocator the `flowgen` binary ships with.

#[global_allocator]
static ALLOCATOR: flowgen_runtime::Allocator = flowgen_runtime::Allocator;

#[path = "engine/run.rs"]
mod run;

fn main() {
    run::main("mimalloc");
}
