//! Errors of code generation, and their form as `compile_error!`s.
//!
//! Every error diagnostic becomes its own `compile_error!("file:line:column: message\nhelp:
//! …")`, all of them (not just the first), so rustc shows each document location. The
//! message names files as the spec does (relative to the documents folder), which keeps
//! compiler output stable across machines.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;

use flowgen_spec::{Diagnostic, Severity};

/// Why code could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The documents have errors (from reading, resolving, checking, or codegen's checks).
    #[error("{} error(s) in the documents{}", .0.len(), .0.first().map(|d| format!(", first: {}", message(d))).unwrap_or_default())]
    Documents(Vec<Diagnostic>),
    /// The `systems` filter names systems the documents do not have.
    #[error("unknown system(s) {}: the documents have {}", quoted(.unknown), quoted(.known))]
    UnknownSystems {
        unknown: Vec<String>,
        known: Vec<String>,
    },
    /// The runtime crate path option is not a Rust path.
    #[error("invalid runtime crate path {0:?}: expected a path such as `::flowgen_runtime`")]
    RuntimePath(String),
    /// The generated tokens do not parse as a file (a bug in flowgen).
    #[error("generated code does not parse (a bug in flowgen, please report it): {0}")]
    Unparsable(String),
}

fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// The error as diagnostics (one per document error).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::Documents(d) => d.clone(),
            other => vec![Diagnostic::error(other.to_string())],
        }
    }
}

/// `file:line:column: message`, then `help: …` and one `note: file:line:column: …` per
/// related place, each on its own line. (The label, which rustc-style rendering puts under
/// the source line, repeats the message here and is left out.)
pub fn message(d: &Diagnostic) -> String {
    let mut out = match d.location() {
        Some(loc) => format!("{loc}: {}", d.message),
        None => d.message.clone(),
    };
    for related in &d.related {
        out.push_str(&format!(
            "\nnote: {}:{}:{}: {}",
            related.file, related.line, related.column, related.message
        ));
    }
    if let Some(help) = &d.help {
        out.push_str(&format!("\nhelp: {help}"));
    }
    out
}

/// One `compile_error!` per error diagnostic, spanned at `span`.
pub fn compile_errors(diagnostics: &[Diagnostic], span: Span) -> TokenStream {
    diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let text = message(d);
            quote_spanned!(span=> ::core::compile_error!(#text);)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgen_spec::Location;

    #[test]
    fn every_error_becomes_a_compile_error_with_its_location() {
        let at = Location {
            file: "a.rst".into(),
            line: 3,
            column: 7,
        };
        let other = Location {
            file: "b.rst".into(),
            line: 9,
            column: 1,
        };
        let diagnostics = vec![
            Diagnostic::error("bad row").at(&at).help("add a cell"),
            Diagnostic::warning("just a warning").at(&at),
            Diagnostic::error("two types")
                .at(&at)
                .related("also stated here", &other),
        ];
        let tokens = compile_errors(&diagnostics, Span::call_site()).to_string();
        assert_eq!(tokens.matches("compile_error").count(), 2);
        assert!(
            tokens.contains(r#""a.rst:3:7: bad row\nhelp: add a cell""#),
            "{tokens}"
        );
        assert!(
            tokens.contains(r#"note: b.rst:9:1: also stated here"#),
            "{tokens}"
        );
    }
}
