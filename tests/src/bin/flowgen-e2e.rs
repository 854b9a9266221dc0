//! The `flowgen` command line with the documents' flows, built in the test crate so that its
//! tests and benchmarks can start it as processes (`CARGO_BIN_EXE_flowgen-e2e`); the same
//! program as the `flowgen` binary of the `dataflows` crate.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    flowgen_runtime::cli::main_with(dataflows::registry)
}
