//! STUB — owned by the resolve helper.
use crate::ast;
use crate::model::{Diagnostic, SPEC_VERSION, Spec};
use crate::overrides::Overrides;

/// Joins the documents into a spec.
pub fn resolve(
    documents: Vec<ast::Document>,
    overrides: Option<&Overrides>,
    diagnostics: Vec<Diagnostic>,
) -> Spec {
    let _ = (documents, overrides);
    Spec {
        version: SPEC_VERSION,
        documents: Vec::new(),
        flows: Vec::new(),
        systems: Default::default(),
        cascades: Vec::new(),
        diagnostics,
    }
}
