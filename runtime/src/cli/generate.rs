//! `flowgen generate [PATH…] --out DIR [--systems A,B] [--name NAME] [--check]`: writes a
//! standalone crate (Cargo.toml, src/lib.rs, spec.yaml) with the typed flows, formatted
//! and stamped with the command that made it. `--check` writes nothing: it exits 1 and
//! lists the stale files when the crate on disk differs from what would be written.
//!
//! The stamped command is rebuilt from the arguments (without `--check`), so checking a
//! crate with the same arguments it was generated with compares like with like.

use std::path::{Path, PathBuf};

use clap::Args;
use flowgen_codegen::crate_writer::{self, CrateOptions, RuntimeDependency};
use flowgen_codegen::{Error, Options};

use super::docs::{DEFAULT_DOCUMENTS, load_spec, print_diagnostics};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Documents to read: files, or folders (their `*.rst` and `overrides.yaml`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The folder of the crate to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Only the flows between these systems (comma-separated, as the documents name them).
    #[arg(long, value_delimiter = ',', value_name = "SYSTEM,…")]
    pub systems: Vec<String>,
    /// The package name (default: from the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Write nothing; exit 1 listing the stale files if the crate is out of date.
    #[arg(long)]
    pub check: bool,
}

/// `flowgen generate …` as given (without `--check`), shell-quoted where needed.
fn command_line(args: &GenerateArgs) -> String {
    let mut parts = vec!["flowgen".to_string(), "generate".to_string()];
    if args.paths.is_empty() {
        parts.push(DEFAULT_DOCUMENTS.to_string());
    }
    parts.extend(args.paths.iter().map(|p| p.display().to_string()));
    parts.push("--out".to_string());
    parts.push(args.out.display().to_string());
    if !args.systems.is_empty() {
        parts.push("--systems".to_string());
        parts.push(args.systems.join(","));
    }
    if let Some(name) = &args.name {
        parts.push("--name".to_string());
        parts.push(name.clone());
    }
    parts
        .iter()
        .map(|p| {
            let plain = !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./,=:+@".contains(c));
            if plain {
                p.clone()
            } else {
                format!("'{}'", p.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The runtime crate's folder when its sources are on this machine (a workspace build),
/// else its published version.
fn runtime_dependency() -> RuntimeDependency {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    if dir.join("Cargo.toml").is_file() && dir.join("src/flow.rs").is_file() {
        RuntimeDependency::Path(dir.to_path_buf())
    } else {
        RuntimeDependency::Version(env!("CARGO_PKG_VERSION").to_string())
    }
}

pub fn generate(args: GenerateArgs) -> u8 {
    let (sources, spec) = match load_spec(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if spec.has_errors() {
        let (errors, _) = print_diagnostics(&sources, &spec, false);
        eprintln!("error: {errors} error(s) in the documents; nothing generated");
        return EXIT_FINDINGS;
    }
    let options = CrateOptions {
        name: args
            .name
            .clone()
            .unwrap_or_else(|| crate_writer::package_name(&args.out)),
        out: args.out.clone(),
        runtime: runtime_dependency(),
        command: command_line(&args),
        options: Options {
            systems: (!args.systems.is_empty()).then(|| args.systems.iter().cloned().collect()),
            ..Options::default()
        },
    };
    let files = match crate_writer::render(&spec, &options) {
        Ok(files) => files,
        Err(Error::Documents(diagnostics)) => {
            let failed = flowgen_spec::Spec {
                diagnostics,
                ..spec
            };
            let (errors, _) = print_diagnostics(&sources, &failed, false);
            eprintln!("error: {errors} error(s) in the documents; nothing generated");
            return EXIT_FINDINGS;
        }
        Err(e @ Error::UnknownSystems { .. }) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FINDINGS;
        }
    };
    if args.check {
        let stale = crate_writer::stale(&args.out, &files);
        if stale.is_empty() {
            eprintln!("{} is up to date", args.out.display());
            return EXIT_OK;
        }
        for path in &stale {
            eprintln!("stale: {}", args.out.join(path).display());
        }
        eprintln!(
            "error: {} file(s) out of date; run `{}`",
            stale.len(),
            options.command
        );
        return EXIT_FINDINGS;
    }
    match crate_writer::write(&args.out, &files) {
        Ok(()) => {
            eprintln!(
                "wrote {} ({} flows) to {}",
                options.name,
                spec.flows.len(),
                args.out.display()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", args.out.display());
            EXIT_FINDINGS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &Path, check: bool) -> GenerateArgs {
        GenerateArgs {
            paths: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../generated/dataflows")],
            out: out.to_path_buf(),
            systems: Vec::new(),
            name: Some("flows".to_string()),
            check,
        }
    }

    #[test]
    fn command_lines_are_quoted_and_omit_check() {
        let a = GenerateArgs {
            paths: vec![PathBuf::from("my docs")],
            out: PathBuf::from("out"),
            systems: vec!["Chargebee".into(), "Powerofficego".into()],
            name: None,
            check: true,
        };
        assert_eq!(
            command_line(&a),
            "flowgen generate 'my docs' --out out --systems Chargebee,Powerofficego"
        );
    }

    #[test]
    fn generate_then_check_is_fresh_and_an_edit_is_stale() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("flows");
        assert_eq!(
            generate(args(&out, true)),
            EXIT_FINDINGS,
            "missing crate is stale"
        );
        assert_eq!(generate(args(&out, false)), EXIT_OK);
        let lib = std::fs::read_to_string(out.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.starts_with("// generated by flowgen from "));
        assert!(lib.contains("// command: flowgen generate "));
        assert!(out.join("Cargo.toml").is_file() && out.join("spec.yaml").is_file());
        assert_eq!(generate(args(&out, true)), EXIT_OK);
        std::fs::write(out.join("spec.yaml"), "edited").expect("edit");
        assert_eq!(generate(args(&out, true)), EXIT_FINDINGS);
    }

    #[test]
    fn unknown_systems_are_a_usage_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut a = args(dir.path(), false);
        a.systems = vec!["Nope".into()];
        assert_eq!(generate(a), EXIT_USAGE);
    }
}
