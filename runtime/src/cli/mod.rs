//! The `flowgen` command line. Each command lives in its own module; this one parses the
//! arguments and maps outcomes to exit codes: 0 clean, 1 findings (or failures), 2 usage.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod docs;

/// Exit code for a clean run.
pub const EXIT_OK: u8 = 0;
/// Exit code when the documents have errors (or warnings under `--deny-warnings`), or a run failed.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code for a usage error (bad arguments, a path that does not exist).
pub const EXIT_USAGE: u8 = 2;

/// flowgen: dataflow documents to typed Rust sync code, and the runtime that runs it.
#[derive(Debug, Parser)]
#[command(name = "flowgen", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the spec read from dataflow documents (YAML or JSON).
    Spec(docs::SpecArgs),
    /// Check dataflow documents and print their diagnostics as a compiler does.
    Check(docs::CheckArgs),
}

/// Runs the command line with the process arguments and returns the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success, usage errors to stderr.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    init_tracing();
    ExitCode::from(run(cli))
}

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Spec(args) => docs::spec(args),
        Command::Check(args) => docs::check(args),
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOWGEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
