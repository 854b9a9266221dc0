//! flowgen-spec: dataflow documents → a resolved, checked [`Spec`].
//!
//! Data flows one way: [`load`] finds the files, [`read`] turns each document into an
//! [`ast::Document`] with exact locations, [`resolve`] joins the documents into a
//! [`Spec`] (catalog, blank system names, references, inverses, cascades) and [`check`]
//! adds the findings that need the whole spec. [`render`] prints diagnostics as rustc does.
//!
//! This crate has no proc-macro or async dependencies: the macros use it at compile time.
#![forbid(unsafe_code)]

pub mod ast;
pub mod check;
pub mod corpus;
pub mod load;
pub mod model;
pub mod overrides;
pub mod read;
pub mod render;
pub mod resolve;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use load::{LoadError, SourceFile, Sources, load};
pub use model::*;

/// Runs the whole pipeline over loaded sources: read every document, resolve across them,
/// check. Never fails: problems are diagnostics in the returned spec.
///
/// Documents are read on every available core when there are enough of them, and resolved
/// on two ([`resolve::resolve_and_check`]); the result is the same as doing it all on one
/// thread (what each thread finds is joined in the order of doing so).
pub fn build_spec(sources: &Sources) -> Spec {
    let mut diagnostics = Vec::new();
    let mut documents = Vec::with_capacity(sources.documents.len());
    for (document, diags) in read_all(&sources.documents) {
        diagnostics.extend(diags);
        documents.extend(document);
    }
    let overrides = match &sources.overrides {
        Some(file) => match overrides::Overrides::parse(&file.name, &file.bytes) {
            Ok(o) => Some(o),
            Err(d) => {
                diagnostics.push(*d);
                None
            }
        },
        None => None,
    };
    resolve::resolve_and_check(documents, overrides.as_ref(), diagnostics)
}

/// What the reader makes of one file.
type ReadFile = (Option<ast::Document>, Vec<Diagnostic>);

/// Below this many bytes in all, documents are read on the calling thread: a thread costs
/// more to start than it saves.
const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// Documents a reading thread takes at a time: small enough to even out the threads'
/// loads (one may be descheduled), large enough that taking work costs nothing.
const BATCH: usize = 4;

/// Reads every file, in parallel when that pays; the results are in the files' order.
fn read_all(files: &[SourceFile]) -> Vec<ReadFile> {
    let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
    let threads = cores().min(files.len().div_ceil(BATCH));
    if threads < 2 || bytes < PARALLEL_MIN_BYTES {
        return files
            .iter()
            .map(|f| read::read_document(&f.name, &f.bytes))
            .collect();
    }
    let next = AtomicUsize::new(0);
    // Each thread takes the next batch until none is left, and returns what it read with
    // each file's index.
    let work = || {
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(BATCH, Ordering::Relaxed);
            let batch = files.get(start..).unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            for (i, f) in batch.iter().take(BATCH).enumerate() {
                done.push((start + i, read::read_document(&f.name, &f.bytes)));
            }
        }
        done
    };
    let mut read: Vec<(usize, ReadFile)> = std::thread::scope(|scope| {
        // A thread that cannot be started leaves its share to the others.
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut all = work();
        for helper in helpers {
            match helper.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    read.sort_unstable_by_key(|(i, _)| *i);
    read.into_iter().map(|(_, r)| r).collect()
}

/// The cores this process may run on (1 when unknown).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
