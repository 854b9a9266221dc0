//! Finding and reading the document files: a folder means its `*.rst` (sorted by name) and
//! the `overrides.yaml` beside them; a file means itself.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The name of the overrides file read from a documents folder.
pub const OVERRIDES_FILE: &str = "overrides.yaml";

/// One file's bytes and the name diagnostics use for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name used in diagnostics and the spec: the file name for files found in a
    /// folder, the path as given otherwise.
    pub name: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// The files of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    pub documents: Vec<SourceFile>,
    pub overrides: Option<SourceFile>,
}

impl Sources {
    /// Sources from in-memory documents (tests, benchmarks, the proc macro).
    pub fn from_memory<'a>(docs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Sources {
        Sources {
            documents: docs
                .into_iter()
                .map(|(name, bytes)| SourceFile {
                    name: name.to_string(),
                    path: PathBuf::from(name),
                    bytes: bytes.to_vec(),
                })
                .collect(),
            overrides: None,
        }
    }

    /// The file a diagnostic names, to show its source line.
    pub fn get(&self, name: &str) -> Option<&SourceFile> {
        self.documents
            .iter()
            .chain(self.overrides.iter())
            .find(|f| f.name == name)
    }

    /// Every path read, for `cargo:rerun-if-changed` and `include_bytes!`.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.documents
            .iter()
            .chain(self.overrides.iter())
            .map(|f| f.path.as_path())
    }
}

/// Why documents could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a folder with no *.rst documents")]
    EmptyFolder { path: PathBuf },
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads the documents at `paths`. A folder contributes its `*.rst` files, sorted by name,
/// and its `overrides.yaml`; a file contributes itself. The same file named twice is read once.
pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Sources, LoadError> {
    let mut sources = Sources::default();
    let mut seen = HashSet::new();
    for path in paths {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| LoadError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let mut files = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|source| LoadError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                let p = entry.path();
                if p.extension().is_some_and(|e| e == "rst") && p.is_file() {
                    files.push(p);
                }
            }
            if files.is_empty() {
                return Err(LoadError::EmptyFolder {
                    path: path.to_path_buf(),
                });
            }
            files.sort();
            for p in files {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                push_unique(&mut sources, &mut seen, name, p)?;
            }
            let overrides = path.join(OVERRIDES_FILE);
            if overrides.is_file() && sources.overrides.is_none() {
                sources.overrides = Some(SourceFile {
                    name: OVERRIDES_FILE.to_string(),
                    bytes: read(&overrides)?,
                    path: overrides,
                });
            }
        } else {
            let name = path.to_string_lossy().into_owned();
            push_unique(&mut sources, &mut seen, name, path.to_path_buf())?;
            if let Some(dir) = path.parent() {
                let overrides = dir.join(OVERRIDES_FILE);
                if overrides.is_file() && sources.overrides.is_none() {
                    sources.overrides = Some(SourceFile {
                        name: overrides.to_string_lossy().into_owned(),
                        bytes: read(&overrides)?,
                        path: overrides,
                    });
                }
            }
        }
    }
    Ok(sources)
}

fn push_unique(
    sources: &mut Sources,
    seen: &mut HashSet<PathBuf>,
    name: String,
    path: PathBuf,
) -> Result<(), LoadError> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
    if seen.insert(canonical) {
        let bytes = read(&path)?;
        sources.documents.push(SourceFile { name, path, bytes });
    }
    Ok(())
}
