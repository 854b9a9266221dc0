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

pub use load::{LoadError, SourceFile, Sources, load};
pub use model::*;

/// Runs the whole pipeline over loaded sources: read every document, resolve across them,
/// check. Never fails: problems are diagnostics in the returned spec.
pub fn build_spec(sources: &Sources) -> Spec {
    let mut diagnostics = Vec::new();
    let mut documents = Vec::with_capacity(sources.documents.len());
    for file in &sources.documents {
        let (document, diags) = read::read_document(&file.name, &file.bytes);
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
    let mut spec = resolve::resolve(documents, overrides.as_ref(), diagnostics);
    check::check(&mut spec);
    spec
}
