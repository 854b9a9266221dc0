//! Doc comments of generated items: every item says where the documents define it.

use flowgen_spec::Location;
use proc_macro2::TokenStream;
use quote::quote;

/// `#[doc = " text"]` (one leading space, as `///` writes it), one attribute per line.
pub fn doc(text: &str) -> TokenStream {
    text.lines()
        .map(|line| {
            let line = format!(" {line}");
            quote!(#[doc = #line])
        })
        .collect()
}

/// `file:line` of a location (columns are noise in docs).
pub fn short(location: &Location) -> String {
    format!("{}:{}", location.file, location.line)
}

/// `a.rst:12, b.rst:40` (deduplicated, in the given order), or `no document location`.
pub fn locations_text(locations: &[Location]) -> String {
    let mut seen = Vec::new();
    for location in locations {
        let s = short(location);
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    if seen.is_empty() {
        "no document location".to_string()
    } else {
        seen.join(", ")
    }
}
