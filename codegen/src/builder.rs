//! The build-script entry point (prost-build style):
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     flowgen_codegen::Builder::new().dataflows("dataflows").generate()?;
//!     Ok(())
//! }
//! // src/lib.rs: include!(concat!(env!("OUT_DIR"), "/dataflows.rs"));
//! ```
//!
//! Relative paths are taken from `CARGO_MANIFEST_DIR`. Writes `$OUT_DIR/dataflows.rs` and
//! `$OUT_DIR/spec.yaml`, and prints `cargo:rerun-if-changed` for every folder (cargo then
//! notices new and removed files too) and every file read. When the documents have
//! errors, `dataflows.rs` holds nothing but one `compile_error!` per error (the user sees
//! them, with document locations, where the file is included) and each error is also
//! printed as a `cargo:warning`. Files are only rewritten when their content changes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use flowgen_spec::Spec;

use crate::{Error, Options};

/// The file name written into the output folder.
pub const RUST_FILE: &str = "dataflows.rs";
pub const SPEC_FILE: &str = "spec.yaml";

/// Why the build step failed outright (document errors are not failures: they become
/// `compile_error!`s in the written file).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("no output folder: call `out_dir(..)` or run from a build script (OUT_DIR unset)")]
    NoOutDir,
    #[error("no documents: call `dataflows(\"folder\")`")]
    NoDocuments,
    #[error(transparent)]
    Load(#[from] flowgen_spec::LoadError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serialize the spec: {0}")]
    Spec(String),
    #[error(transparent)]
    Generate(Error),
}

/// What a [`Builder`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub rust: PathBuf,
    pub spec: PathBuf,
    /// The number of errors written as `compile_error!`s (0 when the code was generated).
    pub errors: usize,
}

/// A predicate over system names (see [`Builder::systems_where`]).
type SystemFilter = std::sync::Arc<dyn Fn(&str) -> bool>;

/// Configures and runs code generation from a build script.
#[derive(Clone)]
pub struct Builder {
    paths: Vec<PathBuf>,
    systems: Option<BTreeSet<String>>,
    systems_where: Option<SystemFilter>,
    out_dir: Option<PathBuf>,
    runtime: String,
    cargo: bool,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("paths", &self.paths)
            .field("systems", &self.systems)
            .field("systems_where", &self.systems_where.as_ref().map(|_| "fn"))
            .field("out_dir", &self.out_dir)
            .field("runtime", &self.runtime)
            .field("cargo", &self.cargo)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            paths: Vec::new(),
            systems: None,
            systems_where: None,
            out_dir: None,
            runtime: crate::DEFAULT_RUNTIME.to_string(),
            cargo: true,
        }
    }

    /// A documents folder (its `*.rst` and `overrides.yaml`) or file; may be called again.
    pub fn dataflows(mut self, path: impl Into<PathBuf>) -> Self {
        self.paths.push(path.into());
        self
    }

    /// Generates only the flows between these systems (and the entities they need).
    pub fn systems<I, S>(mut self, systems: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.systems = Some(systems.into_iter().map(Into::into).collect());
        self
    }

    /// Generates only the flows between the documents' systems for which `keep` is true
    /// (e.g. by cargo feature). When every system is kept, nothing is filtered. Combines
    /// with [`Builder::systems`] (a system must pass both).
    pub fn systems_where(mut self, keep: impl Fn(&str) -> bool + 'static) -> Self {
        self.systems_where = Some(std::sync::Arc::new(keep));
        self
    }

    /// Where to write (default: `$OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The runtime crate's path in generated code (default `::flowgen_runtime`).
    pub fn runtime(mut self, path: impl Into<String>) -> Self {
        self.runtime = path.into();
        self
    }

    /// Whether to print `cargo:` instructions (default true; off for use outside build scripts).
    pub fn cargo_instructions(mut self, on: bool) -> Self {
        self.cargo = on;
        self
    }

    fn resolve(path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) => PathBuf::from(dir).join(path),
            None => path.to_path_buf(),
        }
    }

    /// Reads the documents and writes `dataflows.rs` and `spec.yaml`.
    pub fn generate(&self) -> Result<Generated, BuildError> {
        if self.paths.is_empty() {
            return Err(BuildError::NoDocuments);
        }
        let out_dir = match &self.out_dir {
            Some(dir) => Self::resolve(dir),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        let paths: Vec<PathBuf> = self.paths.iter().map(|p| Self::resolve(p)).collect();
        if self.cargo {
            for path in &paths {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let sources = flowgen_spec::load(&paths)?;
        if self.cargo {
            for path in sources.paths() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let spec = flowgen_spec::build_spec(&sources);
        let mut systems = self.systems.clone();
        if let Some(keep) = &self.systems_where {
            let all: BTreeSet<String> = spec.systems.keys().cloned().collect();
            let kept: BTreeSet<String> = all
                .iter()
                .filter(|s| keep(s) && systems.as_ref().is_none_or(|set| set.contains(*s)))
                .cloned()
                .collect();
            if kept != all || systems.is_some() {
                systems = Some(kept);
            }
        }
        let options = Options {
            systems,
            runtime: self.runtime.clone(),
        };
        let (rust, errors) = match crate::generate_file(
            &spec,
            &options,
            Some("flowgen_codegen::Builder (build script)"),
        ) {
            Ok(code) => (code, 0),
            Err(Error::Documents(diagnostics)) => {
                if self.cargo {
                    for d in &diagnostics {
                        for line in crate::errors::message(d).lines() {
                            println!("cargo:warning={line}");
                        }
                    }
                }
                (error_file(&spec, &diagnostics), diagnostics.len())
            }
            Err(e) => return Err(BuildError::Generate(e)),
        };
        std::fs::create_dir_all(&out_dir).map_err(|source| BuildError::Write {
            path: out_dir.clone(),
            source,
        })?;
        let rust_path = out_dir.join(RUST_FILE);
        let spec_path = out_dir.join(SPEC_FILE);
        write_if_changed(&rust_path, &rust)?;
        let yaml = serde_yaml::to_string(&spec).map_err(|e| BuildError::Spec(e.to_string()))?;
        write_if_changed(&spec_path, &yaml)?;
        Ok(Generated {
            rust: rust_path,
            spec: spec_path,
            errors,
        })
    }
}

/// A file of nothing but `compile_error!`s, one per error.
fn error_file(spec: &Spec, diagnostics: &[flowgen_spec::Diagnostic]) -> String {
    let mut out = crate::stamp(
        &crate::document_names(spec),
        Some("flowgen_codegen::Builder (build script)"),
    );
    for d in diagnostics {
        let text = crate::errors::message(d);
        out.push_str(&format!("::core::compile_error!({text:?});\n"));
    }
    out
}

/// Writes `content` unless the file already holds exactly it (keeps mtimes, so nothing
/// downstream rebuilds for an unchanged result).
pub fn write_if_changed(path: &Path, content: &str) -> Result<(), BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == content.as_bytes()) {
        return Ok(());
    }
    std::fs::write(path, content).map_err(|source| BuildError::Write {
        path: path.to_path_buf(),
        source,
    })
}
