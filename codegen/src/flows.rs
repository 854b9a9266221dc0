//! The flows: `pub mod flows` with one struct per flow implementing `Flow`.
//!
//! Mapping rules (both directions are generated from the flow's own rows; the inverse uses
//! them reversed, even when the other direction is documented as its own flow):
//! - Several rows into one property: the first non-empty value in document order wins
//!   (later rows are only evaluated while the value is still empty, so a later row's
//!   missing link cannot fail a record an earlier row already filled).
//! - Same type: the value is cloned. Different scalar types: `values::Convert` (integer →
//!   string always works; the other way fails at run time with `MapError::Conversion`;
//!   the documented direction of such a row is a compile error from the resolver's checks).
//! - Reference → reference: translated through `Links` (`values::translate`), an absent
//!   link is `MapError::Unlinked`. `references()`/`inverse_references()` list exactly these.
//!   A reference into a plain property copies the raw id (`values::ref_value`; the
//!   resolver warns), a plain value into a reference takes it as the id
//!   (`values::raw_reference`; the resolver rejects such rows).
//! - Paths: reading through a list takes its first element; writing through a nested
//!   object creates it on demand, writing through a list writes its first element
//!   (`values::Slot`). A nested object is only created when a value is written into it.

use proc_macro2::TokenStream;
use quote::quote;

use flowgen_spec::{Create, DataType, Diagnostic, Location, Property};

use crate::docs::{doc, short};
use crate::plan::{FlowPlan, Kind, Plan, Step};
use crate::types::{display_system, entity_key, ident, kind_type};

/// Which way a flow's rows are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Inverse,
}

/// One side of a mapping: its system and entity names.
struct Side<'a> {
    system: &'a str,
    entity: &'a str,
}

pub fn flows_module(plan: &Plan<'_>, rt: &TokenStream) -> Result<TokenStream, Vec<Diagnostic>> {
    let mut items = TokenStream::new();
    let mut diagnostics = Vec::new();
    for flow in &plan.flows {
        match flow_items(plan, flow, rt) {
            Ok(tokens) => items.extend(tokens),
            Err(mut d) => diagnostics.append(&mut d),
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let docs = doc(&format!(
        "The documented flows ({}), each mapping records both ways ({}).",
        plan.flows.len(),
        crate::document_names(plan.spec).join(", ")
    ));
    Ok(quote! {
        #docs
        pub mod flows {
            #items
        }
    })
}

/// `super::<module>::<Struct>` of an entity, as seen from `mod flows`.
fn entity_path(plan: &Plan<'_>, system: &str, entity: &str) -> Option<TokenStream> {
    let (sys, ent) = plan.entity(system, entity)?;
    let module = ident(&sys.module);
    let name = ident(&ent.ident);
    Some(quote!(super::#module::#name))
}

fn missing_entity(system: &str, entity: &str, location: &Location) -> Diagnostic {
    Diagnostic::error(format!("{system} {entity} is not in the catalog"))
        .at(location)
        .help("this is a bug in flowgen's resolution: please report it with the documents")
}

fn describe_create(plan: &FlowPlan<'_>) -> String {
    let flow = plan.flow;
    let source_system = display_system(&flow.source.system);
    let target_system = display_system(&flow.target.system);
    let mut text = match flow.create {
        Create::Always => format!(
            "Every {source_system} {} gets a {target_system} {}.",
            flow.source.entity, flow.target.entity
        ),
        Create::WhenConnected => format!(
            "A {target_system} {} is created when a connected {source_system} {} is synchronized into {target_system}.",
            flow.target.entity,
            flow.connected_via.join(", ")
        ),
        Create::Never => "Records are only linked (by match rules), never created.".to_string(),
    };
    if flow.merge || !flow.match_rules.is_empty() {
        text.push_str(" Existing records are matched first.");
    }
    if let Some(condition) = &flow.condition {
        text.push_str(&format!("\n\nApplies only when: {condition}"));
    }
    text
}

fn flow_items(
    plan: &Plan<'_>,
    fp: &FlowPlan<'_>,
    rt: &TokenStream,
) -> Result<TokenStream, Vec<Diagnostic>> {
    let flow = fp.flow;
    let source_ty =
        entity_path(plan, &flow.source.system, &flow.source.entity).ok_or_else(|| {
            vec![missing_entity(
                &flow.source.system,
                &flow.source.entity,
                &flow.location,
            )]
        })?;
    let target_ty =
        entity_path(plan, &flow.target.system, &flow.target.entity).ok_or_else(|| {
            vec![missing_entity(
                &flow.target.system,
                &flow.target.entity,
                &flow.location,
            )]
        })?;
    let name = ident(&fp.ident);
    let source = Side {
        system: &flow.source.system,
        entity: &flow.source.entity,
    };
    let target = Side {
        system: &flow.target.system,
        entity: &flow.target.entity,
    };

    let mut diagnostics = Vec::new();
    let forward = mapping(
        plan,
        rt,
        &flow.properties,
        Direction::Forward,
        &source,
        &target,
        &target_ty,
        &mut diagnostics,
    );
    let inverse = mapping(
        plan,
        rt,
        &flow.properties,
        Direction::Inverse,
        &target,
        &source,
        &source_ty,
        &mut diagnostics,
    );
    let references = references(
        plan,
        rt,
        &flow.properties,
        Direction::Forward,
        &source,
        &target,
        &mut diagnostics,
    );
    let inverse_references = references_fn(
        plan,
        rt,
        &flow.properties,
        &target,
        &source,
        &mut diagnostics,
    );
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let info = flow_info(plan, fp, rt);
    let docs = doc(&format!(
        "{} {} → {} {} ({}).\n\n{}\n\nMaps {} propert{}.",
        display_system(&flow.source.system),
        flow.source.entity,
        display_system(&flow.target.system),
        flow.target.entity,
        std::iter::once(&flow.location)
            .chain(&flow.also_at)
            .map(short)
            .collect::<Vec<_>>()
            .join(", "),
        describe_create(fp),
        flow.properties.len(),
        if flow.properties.len() == 1 {
            "y"
        } else {
            "ies"
        }
    ));

    let Mapping {
        body: fwd_body,
        uses_input: fwd_in,
        uses_links: fwd_links,
    } = forward;
    let Mapping {
        body: inv_body,
        uses_input: inv_in,
        uses_links: inv_links,
    } = inverse;
    let src_param = param("source", fwd_in);
    let links_param = param("links", fwd_links);
    let tgt_param = param("target", inv_in);
    let inv_links_param = param("links", inv_links);
    let (ref_param, ref_body) = references;
    let (inv_ref_param, inv_ref_body) = inverse_references;

    let methods = quote! {
        type Source = #source_ty;
        type Target = #target_ty;

        fn info(&self) -> &'static #rt::FlowInfo {
            #info
            &INFO
        }

        fn forward(&self, #src_param: &#source_ty, #links_param: &dyn #rt::Links) -> Result<#target_ty, #rt::MapError> {
            #fwd_body
        }

        fn inverse(&self, #tgt_param: &#target_ty, #inv_links_param: &dyn #rt::Links) -> Result<#source_ty, #rt::MapError> {
            #inv_body
        }

        fn references(&self, #ref_param: &#source_ty) -> Vec<#rt::Reference> {
            #ref_body
        }

        fn inverse_references(&self, #inv_ref_param: &#target_ty) -> Vec<#rt::Reference> {
            #inv_ref_body
        }
    };

    Ok(match &fp.condition {
        None => quote! {
            #docs
            #[derive(Debug, Clone, Copy, Default)]
            pub struct #name;

            impl #rt::Flow for #name {
                #methods
            }
        },
        Some(method) => {
            let method = ident(method);
            let name_str = fp.ident.as_str();
            quote! {
                #docs
                ///
                /// Holds the embedding service's [`Conditions`](super::Conditions).
                pub struct #name<C> {
                    conditions: ::std::sync::Arc<C>,
                }

                impl<C> #name<C> {
                    pub fn new(conditions: ::std::sync::Arc<C>) -> Self {
                        #name { conditions }
                    }
                }

                impl<C> Clone for #name<C> {
                    fn clone(&self) -> Self {
                        #name { conditions: ::std::sync::Arc::clone(&self.conditions) }
                    }
                }

                impl<C> ::std::fmt::Debug for #name<C> {
                    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(#name_str)
                    }
                }

                impl<C: super::Conditions> #rt::Flow for #name<C> {
                    #methods

                    fn applies(&self, source: &#source_ty) -> bool {
                        self.conditions.#method(source)
                    }
                }
            }
        }
    })
}

fn param(name: &str, used: bool) -> proc_macro2::Ident {
    if used {
        ident(name)
    } else {
        ident(&format!("_{name}"))
    }
}

fn flow_info(plan: &Plan<'_>, fp: &FlowPlan<'_>, rt: &TokenStream) -> TokenStream {
    let flow = fp.flow;
    let name = crate::plan::flow_name(flow);
    let source = entity_key(rt, &flow.source.system, &flow.source.entity);
    let target = entity_key(rt, &flow.target.system, &flow.target.entity);
    let create = match flow.create {
        Create::Always => quote!(#rt::CreatePolicy::Always),
        Create::WhenConnected => quote!(#rt::CreatePolicy::WhenConnected),
        Create::Never => quote!(#rt::CreatePolicy::Never),
    };
    let via = flow
        .connected_via
        .iter()
        .map(|entity| entity_key(rt, &flow.source.system, entity));
    let condition = match &flow.condition {
        Some(text) => quote!(Some(#text)),
        None => quote!(None),
    };
    let merge = flow.merge;
    let rules = flow.match_rules.iter().map(|rule| {
        let (s, t) = (&rule.source, &rule.target);
        quote!(#rt::MatchInfo { source: #s, target: #t })
    });
    let reference_key = |system: &str, entity: &str, path: &str| -> TokenStream {
        match plan
            .spec
            .entity(system, entity)
            .and_then(|e| e.properties.get(path))
            .and_then(|p| p.reference.as_ref())
        {
            Some(referenced) => {
                let key = entity_key(rt, system, referenced);
                quote!(Some(#key))
            }
            None => quote!(None),
        }
    };
    let properties = flow.properties.iter().map(|row| {
        let (s, t) = (&row.source, &row.target);
        let ty = match row.ty {
            Some(ty) => {
                let ty = ty.as_str();
                quote!(Some(#ty))
            }
            None => quote!(None),
        };
        let sref = reference_key(&flow.source.system, &flow.source.entity, s);
        let tref = reference_key(&flow.target.system, &flow.target.entity, t);
        let location = short(&row.location);
        quote!(#rt::PropertyInfo {
            source: #s, target: #t, ty: #ty,
            source_reference: #sref, target_reference: #tref,
            location: #location,
        })
    });
    let location = short(&flow.location);
    quote! {
        static INFO: #rt::FlowInfo = #rt::FlowInfo {
            name: #name,
            source: #source,
            target: #target,
            create: #create,
            connected_via: &[#(#via),*],
            condition: #condition,
            merge: #merge,
            match_rules: &[#(#rules),*],
            properties: &[#(#properties),*],
            location: #location,
        };
    }
}

struct Mapping {
    body: TokenStream,
    uses_input: bool,
    uses_links: bool,
}

/// A row seen in one direction: read `from` on the input, write `to` on the output.
struct Row<'a> {
    from: &'a str,
    to: &'a str,
    location: &'a Location,
}

fn rows(properties: &[Property], direction: Direction) -> Vec<Row<'_>> {
    properties
        .iter()
        .map(|p| match direction {
            Direction::Forward => Row {
                from: &p.source,
                to: &p.target,
                location: &p.location,
            },
            Direction::Inverse => Row {
                from: &p.target,
                to: &p.source,
                location: &p.location,
            },
        })
        .collect()
}

fn kind_at(plan: &Plan<'_>, side: &Side<'_>, path: &str) -> Kind {
    Kind::of(
        plan.spec
            .entity(side.system, side.entity)
            .and_then(|e| e.properties.get(path)),
    )
}

fn steps(
    plan: &Plan<'_>,
    side: &Side<'_>,
    path: &str,
    location: &Location,
) -> Result<Vec<Step>, Box<Diagnostic>> {
    plan.path(side.system, side.entity, path).ok_or_else(|| {
        Box::new(
            Diagnostic::error(format!(
                "`{path}` is not a property of {} {} in the catalog",
                display_system(side.system),
                side.entity
            ))
            .at(location)
            .help("this is a bug in flowgen's resolution: please report it with the documents"),
        )
    })
}

/// How a getter yields the leaf value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Take {
    /// `Option<&T>`.
    Borrow,
    /// `Option<T>` by `clone()`.
    Clone,
    /// `Option<T>` by copy (integers, floats, booleans: `clone()` would trip clippy).
    Copy,
}

impl Take {
    fn owned(kind: &Kind) -> Take {
        match kind {
            Kind::Scalar(DataType::Integer | DataType::Float | DataType::Boolean) => Take::Copy,
            _ => Take::Clone,
        }
    }
}

/// Reads a path: `input.a.as_ref().and_then(|v| v.b.clone())`.
fn getter(input: &proc_macro2::Ident, steps: &[Step], take: Take) -> TokenStream {
    let leaf_of = |expr: TokenStream| match take {
        Take::Borrow => quote!(#expr.as_ref()),
        Take::Clone => quote!(#expr.clone()),
        Take::Copy => expr,
    };
    match steps {
        [] => quote!(None),
        [leaf] => {
            let f = ident(&leaf.ident);
            leaf_of(quote!(#input.#f))
        }
        [first, rest @ ..] => {
            let f = ident(&first.ident);
            let mut expr = if first.list {
                quote!(#input.#f.first())
            } else {
                quote!(#input.#f.as_ref())
            };
            let (leaf, middle) = match rest.split_last() {
                Some(split) => split,
                None => return expr,
            };
            for step in middle {
                let f = ident(&step.ident);
                expr = if step.list {
                    quote!(#expr.and_then(|v| v.#f.first()))
                } else {
                    quote!(#expr.and_then(|v| v.#f.as_ref()))
                };
            }
            let f = ident(&leaf.ident);
            let leaf = leaf_of(quote!(v.#f));
            quote!(#expr.and_then(|v| #leaf))
        }
    }
}

/// The value one row contributes: `Result`-free expression of type `Option<T>` (uses `?`).
#[allow(clippy::too_many_arguments)]
fn row_value(
    plan: &Plan<'_>,
    rt: &TokenStream,
    input: &proc_macro2::Ident,
    row: &Row<'_>,
    from_side: &Side<'_>,
    to_side: &Side<'_>,
    uses_links: &mut bool,
) -> Result<TokenStream, Box<Diagnostic>> {
    let from_kind = kind_at(plan, from_side, row.from);
    let to_kind = kind_at(plan, to_side, row.to);
    let steps = steps(plan, from_side, row.from, row.location)?;
    let property = row.from;
    match (&from_kind, &to_kind) {
        (Kind::Ref(a), Kind::Ref(b)) => {
            let a = entity_path(plan, from_side.system, a)
                .ok_or_else(|| Box::new(missing_entity(from_side.system, a, row.location)))?;
            let b = entity_path(plan, to_side.system, b)
                .ok_or_else(|| Box::new(missing_entity(to_side.system, b, row.location)))?;
            let get = getter(input, &steps, Take::Borrow);
            *uses_links = true;
            Ok(quote!(#rt::values::translate::<#a, #b>(#get, #property, links)?))
        }
        // A raw id copied into a plain property (the resolver warns about it).
        (Kind::Ref(_), _) => {
            let get = getter(input, &steps, Take::Borrow);
            Ok(quote!(#rt::values::convert(#rt::values::ref_value(#get), #property)?))
        }
        // A plain value into a reference (the resolver rejects it; kept total for specs
        // built by other means): the value is taken as the id.
        (_, Kind::Ref(_)) => {
            let get = getter(input, &steps, Take::owned(&from_kind));
            Ok(quote!(#rt::values::raw_reference(#get, #property)?))
        }
        (a, b) if a == b => Ok(getter(input, &steps, Take::owned(a))),
        _ => {
            let get = getter(input, &steps, Take::owned(&from_kind));
            Ok(quote!(#rt::values::convert(#get, #property)?))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn mapping(
    plan: &Plan<'_>,
    rt: &TokenStream,
    properties: &[Property],
    direction: Direction,
    from_side: &Side<'_>,
    to_side: &Side<'_>,
    output_ty: &TokenStream,
    diagnostics: &mut Vec<Diagnostic>,
) -> Mapping {
    let input = ident(match direction {
        Direction::Forward => "source",
        Direction::Inverse => "target",
    });
    let rows = rows(properties, direction);
    // Group by the written property, in document order of first appearance.
    let mut groups: Vec<(&str, Vec<&Row<'_>>)> = Vec::new();
    for row in &rows {
        match groups.iter_mut().find(|(to, _)| *to == row.to) {
            Some((_, group)) => {
                // An exact duplicate row adds nothing.
                if !group.iter().any(|r| r.from == row.from) {
                    group.push(row);
                }
            }
            None => groups.push((row.to, vec![row])),
        }
    }
    let mut uses_links = false;
    let mut literal_fields = Vec::new();
    let mut nested_writes = Vec::new();
    for (to, group) in &groups {
        let Some(first) = group.first() else { continue };
        let to_steps = match steps(plan, to_side, to, first.location) {
            Ok(s) => s,
            Err(d) => {
                diagnostics.push(*d);
                continue;
            }
        };
        let to_kind = kind_at(plan, to_side, to);
        let entity_path = |entity: &str| {
            entity_path(plan, to_side.system, entity)
                .unwrap_or_else(|| quote!(#rt::serde_json::Value))
        };
        let ty = kind_type(&to_kind, rt, &entity_path);
        let mut values = Vec::new();
        for row in group {
            match row_value(plan, rt, &input, row, from_side, to_side, &mut uses_links) {
                Ok(v) => values.push(v),
                Err(d) => diagnostics.push(*d),
            }
        }
        let value = match values.as_slice() {
            [single] => single.clone(),
            [first, rest @ ..] => quote! {{
                let mut value: Option<#ty> = #first;
                #(if value.is_none() { value = #rest; })*
                value
            }},
            [] => continue,
        };
        match to_steps.as_slice() {
            [leaf] => {
                let f = ident(&leaf.ident);
                literal_fields.push(quote!(#f: #value));
            }
            [path @ .., leaf] => {
                let slots = path.iter().map(|s| ident(&s.ident));
                let f = ident(&leaf.ident);
                nested_writes.push(quote! {
                    if let Some(value) = #value {
                        output #(.#slots.slot())* .#f = Some(value);
                    }
                });
            }
            [] => {}
        }
    }
    let uses_input = !literal_fields.is_empty() || !nested_writes.is_empty();
    // Every field set in the literal: `..Default::default()` would be a needless update.
    let all_set = plan_field_count(plan, to_side) == literal_fields.len();
    let rest = if all_set {
        quote!()
    } else {
        quote!(..Default::default())
    };
    let body = if !uses_input {
        quote!(Ok(<#output_ty as Default>::default()))
    } else if nested_writes.is_empty() {
        quote! {
            Ok(#output_ty { #(#literal_fields,)* #rest })
        }
    } else {
        quote! {
            use #rt::values::Slot as _;
            let mut output = #output_ty { #(#literal_fields,)* #rest };
            #(#nested_writes)*
            Ok(output)
        }
    };
    Mapping {
        body,
        uses_input,
        uses_links,
    }
}

/// The number of top-level fields of an entity struct (the id field included).
fn plan_field_count(plan: &Plan<'_>, side: &Side<'_>) -> usize {
    plan.entity(side.system, side.entity)
        .map(|(_, e)| e.fields.len() + usize::from(e.id_field))
        .unwrap_or(0)
}

/// `references()`: the references the mapping in `direction` translates.
#[allow(clippy::too_many_arguments)]
fn references(
    plan: &Plan<'_>,
    rt: &TokenStream,
    properties: &[Property],
    direction: Direction,
    from_side: &Side<'_>,
    to_side: &Side<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (proc_macro2::Ident, TokenStream) {
    let input = ident(match direction {
        Direction::Forward => "source",
        Direction::Inverse => "target",
    });
    let mut found = Vec::new();
    let mut seen = Vec::new();
    for row in rows(properties, direction) {
        let (Kind::Ref(a), Kind::Ref(b)) = (
            kind_at(plan, from_side, row.from),
            kind_at(plan, to_side, row.to),
        ) else {
            continue;
        };
        // One source reference feeding two targets of the same entity is one translation.
        if seen.contains(&(row.from, b.clone())) {
            continue;
        }
        seen.push((row.from, b.clone()));
        let steps = match steps(plan, from_side, row.from, row.location) {
            Ok(s) => s,
            Err(d) => {
                diagnostics.push(*d);
                continue;
            }
        };
        let (Some(a), Some(b)) = (
            entity_path(plan, from_side.system, &a),
            entity_path(plan, to_side.system, &b),
        ) else {
            continue;
        };
        let get = getter(&input, &steps, Take::Borrow);
        let property = row.from;
        found.push(quote!(#rt::values::reference::<#a, #b>(#get, #property)));
    }
    if found.is_empty() {
        (ident(&format!("_{input}")), quote!(Vec::new()))
    } else {
        (input, quote!([#(#found),*].into_iter().flatten().collect()))
    }
}

fn references_fn(
    plan: &Plan<'_>,
    rt: &TokenStream,
    properties: &[Property],
    from_side: &Side<'_>,
    to_side: &Side<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> (proc_macro2::Ident, TokenStream) {
    references(
        plan,
        rt,
        properties,
        Direction::Inverse,
        from_side,
        to_side,
        diagnostics,
    )
}
