//! The catalog as Rust types: a module per system, a struct per entity, a field per
//! property, nested structs for dotted paths.
//!
//! Field types: `string` → `String`, `integer` → `i64`, `float` → `f64`, `boolean` →
//! `bool`, `decimal`/`date`/`datetime` → the runtime's text newtypes
//! (`values::Decimal`, `values::Date`, `values::DateTime`), unknown (`N/A`, never stated)
//! → `serde_json::Value`, a reference → `Ref<Entity>` (the stated type is the id's JSON
//! form, which `RecordId` keeps). Every property field is an `Option` (absent and `null`
//! are `None`, and `None` is not written back); a list segment is a `Vec` (empty lists
//! are not written). Each entity struct also has `id: Option<Id<Self>>` (serde name `id`,
//! alias `Id`) unless a property already spells `id`.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, format_ident, quote};

use crate::docs::{doc, locations_text};
use crate::plan::{EntityPlan, Field, Kind, Node, Plan, SystemPlan};
use crate::tokens::moved;
use flowgen_spec::DataType;

pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// The alias generated modules give the runtime crate (`use ::flowgen_runtime as rt;`).
pub fn rt() -> Ident {
    ident("rt")
}

/// The Rust type of a property of kind `kind` (for references, `entity_path` turns an
/// entity name into the path of its struct), inside a module that imports the runtime as
/// `rt`.
pub fn kind_type(kind: &Kind, entity_path: &dyn Fn(&str) -> TokenStream) -> TokenStream {
    match kind {
        Kind::Scalar(DataType::String) => quote!(String),
        Kind::Scalar(DataType::Integer) => quote!(i64),
        Kind::Scalar(DataType::Float) => quote!(f64),
        Kind::Scalar(DataType::Boolean) => quote!(bool),
        Kind::Scalar(DataType::Decimal) => quote!(rt::values::Decimal),
        Kind::Scalar(DataType::Date) => quote!(rt::values::Date),
        Kind::Scalar(DataType::Datetime) => quote!(rt::values::DateTime),
        Kind::Json => quote!(rt::serde_json::Value),
        Kind::Ref(entity) => {
            let path = entity_path(entity);
            quote!(rt::Ref<#path>)
        }
    }
}

/// `entity_key("System", "Entity")`, in a module that imports `entity_key`.
pub fn entity_key(system: &str, entity: &str) -> TokenStream {
    quote!(entity_key(#system, #entity))
}

pub fn system_modules(plan: &Plan<'_>, rt_path: &TokenStream, serde_crate: &str) -> TokenStream {
    let mut out = TokenStream::new();
    for system in plan.systems.values() {
        out.extend(system_module(system, rt_path, serde_crate));
    }
    out
}

fn system_module(system: &SystemPlan, rt_path: &TokenStream, serde_crate: &str) -> TokenStream {
    let module = ident(&system.module);
    let docs = doc(&format!(
        "The records of {} ({} entities; {}).",
        display_system(&system.name),
        system.entities.len(),
        if system.documents.is_empty() {
            "named in headings only".to_string()
        } else {
            system.documents.join(", ")
        }
    ));
    let entity_path = |entity: &str| -> TokenStream {
        match system.entities.get(entity) {
            Some(e) => ident(&e.ident).into_token_stream(),
            // Unreachable by construction (references are planned with their entity);
            // fall back to JSON rather than emitting a dangling path.
            None => quote!(rt::serde_json::Value),
        }
    };
    let mut items = TokenStream::new();
    for entity in system.entities.values() {
        items.extend(entity_items(entity, serde_crate, &entity_path));
    }
    let items = moved(items);
    quote! {
        #docs
        pub mod #module {
            use #rt_path::{self as rt, generated_support::entity_key, serde::{Deserialize, Serialize}};
            #items
        }
    }
}

/// The system name as shown in docs (a blank name stays visible).
pub fn display_system(name: &str) -> String {
    if name.trim().is_empty() {
        "the unnamed system".to_string()
    } else {
        name.to_string()
    }
}

fn entity_items(
    entity: &EntityPlan,
    serde_crate: &str,
    entity_path: &dyn Fn(&str) -> TokenStream,
) -> TokenStream {
    let name = ident(&entity.ident);
    let docs = doc(&format!(
        "{} {} ({}).",
        display_system(&entity.system),
        entity.name,
        locations_text(&entity.locations)
    ));
    let id = if entity.id_field {
        let id_doc = doc("The record's own id, as the system gives it.");
        quote! {
            #id_doc
            #[serde(alias = "Id", skip_serializing_if = "Option::is_none")]
            pub id: Option<rt::Id<#name>>,
        }
    } else {
        TokenStream::new()
    };
    let mut nested = TokenStream::new();
    let fields = moved(fields(
        &entity.fields,
        serde_crate,
        entity_path,
        &entity.name,
        &mut nested,
    ));
    let derive = derives(serde_crate);
    let system = &entity.system;
    let entity_name = &entity.name;
    let nested = moved(nested);
    quote! {
        #docs
        #derive
        pub struct #name {
            #id
            #fields
        }

        impl rt::Record for #name {
            const KEY: rt::EntityKey = entity_key(#system, #entity_name);
        }

        #nested
    }
}

/// The derives of every generated struct. Absent fields deserialize as `None` (or an empty
/// list) through the struct-level `default`.
fn derives(serde_crate: &str) -> TokenStream {
    quote! {
        #[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
        #[serde(crate = #serde_crate, default)]
    }
}

/// `#[serde(rename = "…")]` when the field's ident is not already the serde name.
fn rename(field: &Field) -> TokenStream {
    if field.ident == field.name {
        TokenStream::new()
    } else {
        let name = &field.name;
        quote!(rename = #name,)
    }
}

fn fields(
    fields: &[Field],
    serde_crate: &str,
    entity_path: &dyn Fn(&str) -> TokenStream,
    owner: &str,
    nested: &mut TokenStream,
) -> TokenStream {
    let mut out = TokenStream::new();
    for field in fields {
        let f = ident(&field.ident);
        let rename = rename(field);
        match &field.node {
            Node::Leaf {
                path,
                kind,
                property,
            } => {
                let ty = kind_type(kind, entity_path);
                let inferred = if property.inferred {
                    ", type inferred from another document"
                } else {
                    ""
                };
                let docs = doc(&format!(
                    "`{path}`: {}{inferred} ({}).",
                    kind.describe(),
                    locations_text(&property.locations)
                ));
                out.extend(quote! {
                    #docs
                    #[serde(#rename skip_serializing_if = "Option::is_none")]
                    pub #f: Option<#ty>,
                });
            }
            Node::Object {
                list,
                path,
                struct_ident,
                fields: children,
            } => {
                let s = format_ident!("{}", struct_ident);
                let (ty, skip, what) = if *list {
                    (quote!(Vec<#s>), "Vec::is_empty", "list")
                } else {
                    (quote!(Option<#s>), "Option::is_none", "object")
                };
                let locations = field.node.locations();
                let docs = doc(&format!(
                    "`{path}`: a nested {what} ({}).",
                    locations_text(&locations)
                ));
                out.extend(quote! {
                    #docs
                    #[serde(#rename skip_serializing_if = #skip)]
                    pub #f: #ty,
                });
                let struct_docs = doc(&format!(
                    "`{path}` of {owner}{} ({}).",
                    if *list { ", one list element" } else { "" },
                    locations_text(&locations)
                ));
                let inner = moved(self::fields(
                    children,
                    serde_crate,
                    entity_path,
                    owner,
                    nested,
                ));
                let derive = derives(serde_crate);
                nested.extend(quote! {
                    #struct_docs
                    #derive
                    pub struct #s {
                        #inner
                    }
                });
            }
        }
    }
    out
}
