//! `dataflows!`: typed sync code from dataflow documents, at compile time.
//!
//! ```ignore
//! flowgen_macros::dataflows!("dataflows");
//! flowgen_macros::dataflows!("dataflows", systems = ["Chargebee", "Powerofficego"]);
//! flowgen_macros::dataflows!("dataflows", runtime = "::my_runtime_reexport");
//! ```
//!
//! The path is taken from `CARGO_MANIFEST_DIR`; when nothing is there, from the folder of
//! the file calling the macro. Every document (and `overrides.yaml`) is included with
//! `include_bytes!`, so editing one rebuilds the crate (a document *added* to the folder is
//! noticed at the next rebuild; a build script with the `Builder` notices it at once).
//! Document errors are `compile_error!`s at the macro call, one per error, each naming
//! `file:line:column` of the document. The expansion is the same as the build-script and
//! CLI modes' (`flowgen_codegen::generate`).
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token, bracketed, punctuated::Punctuated};

struct Input {
    path: LitStr,
    systems: Option<Vec<String>>,
    runtime: Option<String>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut systems = None;
        let mut runtime = None;
        while input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "systems" if systems.is_none() => {
                    let content;
                    bracketed!(content in input);
                    let names: Punctuated<LitStr, Token![,]> =
                        content.parse_terminated(|p| p.parse::<LitStr>(), Token![,])?;
                    systems = Some(names.iter().map(LitStr::value).collect());
                }
                "runtime" if runtime.is_none() => {
                    runtime = Some(input.parse::<LitStr>()?.value());
                }
                "systems" | "runtime" => {
                    return Err(syn::Error::new(key.span(), format!("`{key}` given twice")));
                }
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{key}`: expected `systems = [\"…\"]` or `runtime = \"…\"`"
                        ),
                    ));
                }
            }
        }
        if !input.is_empty() {
            return Err(input.error("expected `, systems = [...]` or `, runtime = \"...\"`"));
        }
        Ok(Input {
            path,
            systems,
            runtime,
        })
    }
}

/// Generates the typed modules, flows and `registry()` from a folder of dataflow documents.
#[proc_macro]
pub fn dataflows(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as Input);
    expand(&input).into()
}

fn error(span: Span, message: String) -> proc_macro2::TokenStream {
    quote::quote_spanned!(span=> ::core::compile_error!(#message);)
}

/// Where the documents are: from `CARGO_MANIFEST_DIR`, else beside the calling file.
fn locate(relative: &str) -> Result<PathBuf, String> {
    let given = Path::new(relative);
    if given.is_absolute() {
        return Ok(given.to_path_buf());
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let candidate = PathBuf::from(dir).join(given);
        if candidate.exists() {
            return Ok(candidate);
        }
        tried.push(candidate);
    }
    if let Some(file) = proc_macro::Span::call_site().local_file()
        && let Some(dir) = file.parent()
    {
        let candidate = dir.join(given);
        if candidate.exists() {
            return Ok(candidate);
        }
        tried.push(candidate);
    }
    Err(format!(
        "cannot find the dataflow documents `{relative}` (looked in {})",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    ))
}

fn expand(input: &Input) -> proc_macro2::TokenStream {
    let span = input.path.span();
    let folder = match locate(&input.path.value()) {
        Ok(folder) => folder,
        Err(message) => return error(span, message),
    };
    let sources = match flowgen_spec::load(&[&folder]) {
        Ok(sources) => sources,
        Err(e) => return error(span, e.to_string()),
    };
    // Rebuild when any document changes.
    let includes = sources.paths().map(|path| {
        let absolute = path
            .canonicalize()
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned();
        quote!(
            const _: &[u8] = include_bytes!(#absolute);
        )
    });
    let includes: proc_macro2::TokenStream = includes.collect();
    let spec = flowgen_spec::build_spec(&sources);
    let options = flowgen_codegen::Options {
        systems: input
            .systems
            .as_ref()
            .map(|s| s.iter().cloned().collect::<BTreeSet<String>>()),
        runtime: input
            .runtime
            .clone()
            .unwrap_or_else(|| flowgen_codegen::DEFAULT_RUNTIME.to_string()),
    };
    match flowgen_codegen::generate(&spec, &options) {
        Ok(code) => quote! {
            #includes
            #code
        },
        Err(e) => {
            let errors = flowgen_codegen::compile_errors(&e.diagnostics(), span);
            quote! {
                #includes
                #errors
            }
        }
    }
}
