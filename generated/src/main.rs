//! The `flowgen` binary: the command line lives in `flowgen_runtime::cli`.
#![forbid(unsafe_code)]

#[global_allocator]
static ALLOCATOR: flowgen_runtime::Allocator = flowgen_runtime::Allocator;

fn main() -> std::process::ExitCode {
    flowgen_runtime::cli::main_with(dataflows::registry)
}
