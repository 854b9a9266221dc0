//! `registry()` and the `Conditions` trait.
//!
//! When the selected flows have `When …` conditions, the embedding service implements
//! `Conditions` (one required method per condition and source entity, documented with the
//! verbatim text) and passes it to `registry(conditions)`; the conditional flows share it
//! through an `Arc`. A missing method is rustc's "not all trait items implemented,
//! missing: `…`". Without conditions, `registry()` takes nothing.

use proc_macro2::TokenStream;
use quote::quote;

use crate::docs::{doc, locations_text};
use crate::plan::Plan;
use crate::types::{display_system, ident};

pub fn conditions_trait(plan: &Plan<'_>) -> TokenStream {
    if plan.conditions.is_empty() {
        return TokenStream::new();
    }
    let methods = plan.conditions.iter().map(|c| {
        let method = ident(&c.method);
        let ty = match plan.entity(&c.source.system, &c.source.entity) {
            Some((sys, ent)) => {
                let (m, e) = (ident(&sys.module), ident(&ent.ident));
                quote!(#m::#e)
            }
            None => quote!(()),
        };
        let docs = doc(&format!(
            "\"{}\" ({} {}; {}).",
            c.text,
            display_system(&c.source.system),
            c.source.entity,
            locations_text(&c.locations)
        ));
        quote! {
            #docs
            fn #method(&self, source: &#ty) -> bool;
        }
    });
    let docs = doc(
        "The documents' `When …` conditions: the embedding service decides them.\n\nA flow with a condition applies to a source record only when its method returns `true`.",
    );
    quote! {
        #docs
        pub trait Conditions: Send + Sync + 'static {
            #(#methods)*
        }
    }
}

pub fn registry_fn(plan: &Plan<'_>, rt: &TokenStream) -> TokenStream {
    let conditional = !plan.conditions.is_empty();
    let registrations: Vec<TokenStream> = plan
        .flows
        .iter()
        .map(|f| {
            let name = ident(&f.ident);
            if f.condition.is_some() {
                quote!(registry.register(flows::#name::new(::std::sync::Arc::clone(&conditions)));)
            } else {
                quote!(registry.register(flows::#name);)
            }
        })
        .collect();
    let count = registrations.len();
    let docs = doc(&format!(
        "Every generated flow ({count}), for the engine ({}).",
        crate::document_names(plan.spec).join(", ")
    ));
    let body = if registrations.is_empty() {
        quote!(#rt::Registry::new())
    } else {
        quote! {
            let mut registry = #rt::Registry::new();
            #(#registrations)*
            registry
        }
    };
    if conditional {
        quote! {
            #docs
            pub fn registry<C: Conditions>(conditions: C) -> #rt::Registry {
                let conditions = ::std::sync::Arc::new(conditions);
                #body
            }
        }
    } else {
        quote! {
            #docs
            pub fn registry() -> #rt::Registry {
                #body
            }
        }
    }
}
