//! The `flowgen` command line. Each command lives in its own module; this one parses the
//! arguments and maps outcomes to exit codes: 0 clean, 1 findings (or failures), 2 usage.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod config;
pub mod demo;
mod docs;
mod generate;
pub mod run;
pub mod sandbox;
pub mod sync;

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
    /// Write a standalone crate with the typed flows generated from dataflow documents.
    Generate(generate::GenerateArgs),
    /// Synchronize the configured systems (`--once` for a single run).
    Sync(sync::SyncArgs),
    /// Synchronize continuously as workers that split the work (several processes share a
    /// postgres:// state); SIGINT or SIGTERM stops gracefully.
    Run(run::RunArgs),
    /// Show what a sync run would create, update, link and defer, writing nothing.
    Plan(sync::PlanArgs),
    /// Per flow: linked records, deferred records, dead letters, conflicts; the last run.
    Status(sync::StatusArgs),
    /// List the links between records.
    Links(sync::LinksArgs),
    /// List or retry the records that failed permanently.
    DeadLetters(sync::DeadLettersArgs),
    /// Serve emulations of the Chargebee, PowerOffice Go, WebCRM and REST APIs on loopback.
    Sandbox(sandbox::SandboxArgs),
    /// Sync the documents' flows against an in-process sandbox, twice (the second run writes nothing).
    Demo(demo::DemoArgs),
}

/// Runs the command line with the process arguments and returns the exit code. The runtime
/// commands (`sync`, `plan`, …) need flows: see [`main_with`].
pub fn main() -> ExitCode {
    main_inner(None)
}

/// Runs the command line with the flows of a generated crate (`dataflows::registry`).
pub fn main_with(registry: fn() -> crate::flow::Registry) -> ExitCode {
    main_inner(Some(registry))
}

fn main_inner(registry: Option<fn() -> crate::flow::Registry>) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success, usage errors to stderr.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    // The demo reports failures itself, grouped; a warning per record would bury it.
    init_tracing(if matches!(cli.command, Command::Demo(_)) {
        "error"
    } else {
        "warn"
    });
    ExitCode::from(run_with(cli, registry))
}

/// Runs a parsed command line without flows; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    run_with(cli, None)
}

/// Runs a parsed command line; returns the exit code.
pub fn run_with(cli: Cli, registry: Option<fn() -> crate::flow::Registry>) -> u8 {
    let flows = |name: &str| {
        registry.ok_or_else(|| {
            eprintln!(
                "error: `flowgen {name}` needs flows: this binary was built without them \
                 (call flowgen_runtime::cli::main_with(dataflows::registry))"
            );
            EXIT_USAGE
        })
    };
    match cli.command {
        Command::Sync(args) => flows("sync").map_or_else(|c| c, |r| sync::sync(args, r)),
        Command::Run(args) => flows("run").map_or_else(|c| c, |r| run::run(args, r)),
        Command::Plan(args) => flows("plan").map_or_else(|c| c, |r| sync::plan(args, r)),
        Command::Status(args) => flows("status").map_or_else(|c| c, |r| sync::status(args, r)),
        Command::Links(args) => flows("links").map_or_else(|c| c, |r| sync::links(args, r)),
        Command::DeadLetters(args) => {
            flows("dead-letters").map_or_else(|c| c, |r| sync::dead_letters(args, r))
        }
        Command::Demo(args) => flows("demo").map_or_else(|c| c, |r| demo::demo(args, r)),
        Command::Sandbox(args) => sandbox::sandbox(args, registry),
        Command::Spec(args) => docs::spec(args),
        Command::Check(args) => docs::check(args),
        Command::Generate(args) => generate::generate(args),
    }
}

fn init_tracing(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOWGEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
