//! The `flowgen` binary, built inside this package so that its end-to-end tests can run it
//! (`env!("CARGO_BIN_EXE_flowgen-e2e")`): Cargo tells a package's tests where its own
//! binaries are, not another package's. The same two lines as `generated/src/main.rs`.
#![forbid(unsafe_code)]

#[global_allocator]
static ALLOCATOR: flowgen_runtime::Allocator = flowgen_runtime::Allocator;

fn main() -> std::process::ExitCode {
    flowgen_runtime::cli::main_with(dataflows::registry)
}
