//! `flowgen spec` and `flowgen check`: the document commands.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use flowgen_spec::{Severity, Sources, Spec};

use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// The folder read when no path is given.
pub const DEFAULT_DOCUMENTS: &str = "generated/dataflows";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Documents to read: files, or folders (their `*.rst` and `overrides.yaml`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Documents to check: files, or folders (their `*.rst` and `overrides.yaml`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors (exit 1 when there are any).
    #[arg(long)]
    pub deny_warnings: bool,
    /// Print only errors and warnings, not notes.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Loads the documents at `paths` (the default folder when empty) and builds the spec.
/// `Err` carries the exit code after the problem was printed.
pub fn load_spec(paths: &[PathBuf]) -> Result<(Sources, Spec), u8> {
    let default = [PathBuf::from(DEFAULT_DOCUMENTS)];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    match flowgen_spec::load(paths) {
        Ok(sources) => {
            let spec = flowgen_spec::build_spec(&sources);
            Ok((sources, spec))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_USAGE)
        }
    }
}

/// Prints diagnostics to stderr as a compiler does; returns (errors, warnings).
pub fn print_diagnostics(sources: &Sources, spec: &Spec, notes: bool) -> (usize, usize) {
    let color = std::io::stderr().is_terminal();
    let mut stderr = std::io::stderr().lock();
    let (mut errors, mut warnings) = (0, 0);
    for d in &spec.diagnostics {
        match d.severity {
            Severity::Error => errors += 1,
            Severity::Warning => warnings += 1,
            Severity::Note if !notes => continue,
            Severity::Note => {}
        }
        let _ = write!(
            stderr,
            "{}",
            flowgen_spec::render::render(d, sources, color)
        );
    }
    (errors, warnings)
}

pub fn spec(args: SpecArgs) -> u8 {
    let (sources, spec) = match load_spec(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if spec.has_errors() {
        let (errors, _) = print_diagnostics(&sources, &spec, false);
        eprintln!("error: {errors} error(s) in the documents; no spec printed");
        return EXIT_FINDINGS;
    }
    let text = match args.format {
        Format::Yaml => serde_yaml::to_string(&spec).map_err(|e| e.to_string()),
        Format::Json => serde_json::to_string_pretty(&spec)
            .map(|s| s + "\n")
            .map_err(|e| e.to_string()),
    };
    match text {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(text.as_bytes()).is_err() {
                return EXIT_FINDINGS;
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot serialize the spec: {e}");
            EXIT_FINDINGS
        }
    }
}

pub fn check(args: CheckArgs) -> u8 {
    let (sources, spec) = match load_spec(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let (errors, warnings) = print_diagnostics(&sources, &spec, !args.quiet);
    let flows = spec.flows.len();
    let docs = spec.documents.len();
    eprintln!(
        "checked {docs} document(s), {flows} flow(s): {errors} error(s), {warnings} warning(s)"
    );
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}
