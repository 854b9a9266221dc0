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
//! - Paths through lists (a segment is a list by [`crate::naming::is_list_segment`]):
//!   the list levels of the path read and of the path written are paired in order, and each
//!   pair is mapped element by element (element `i` of the source list is written to element
//!   `i` of the target list, created on demand with the elements before it). Extra list
//!   levels on the side read must hold one value (`generated_support::single`: several
//!   different values into one property is `MapError::Conversion`); extra list levels on the
//!   side written get element 0. `references()` lists the reference of every element.
//! - A nested object is only created when a value is written into it.
//!
//! The items use the names `mod flows` imports from the runtime (`Flow`, `FlowInfo`,
//! `convert`, `single`, … and `rt` for the rest), so each flow spells out little: every
//! token here is generated ~6,000 times for a 1,000-document corpus.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use flowgen_spec::{Create, DataType, Diagnostic, Location, Property};

use crate::docs::{doc, short};
use crate::plan::{FlowPlan, Kind, Plan, Step};
use crate::tokens::moved;
use crate::types::{display_system, entity_key, ident, kind_type};

/// Which way a flow's rows are read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Inverse,
}

pub fn flows_module(
    plan: &Plan<'_>,
    rt_path: &TokenStream,
) -> Result<TokenStream, Vec<Diagnostic>> {
    let mut items = TokenStream::new();
    let mut diagnostics = Vec::new();
    for flow in &plan.flows {
        match flow_items(plan, flow) {
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
    let items = moved(items);
    Ok(quote! {
        #docs
        pub mod flows {
            #[allow(unused_imports)]
            use #rt_path::{
                self as rt, CreatePolicy, Flow, FlowInfo, Links, MapError, Reference,
                generated_support::{
                    SlotAt as _, entity_key, flow_info, match_rule, property, references, single,
                },
                values::{Slot as _, convert, raw_reference, ref_value, reference, translate},
            };
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

fn missing_path(system: &str, entity: &str, path: &str, location: &Location) -> Diagnostic {
    Diagnostic::error(format!(
        "`{path}` is not a property of {} {entity} in the catalog",
        display_system(system),
    ))
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

/// One side of a property row, resolved once per flow: the field chain and the kind.
struct End<'a> {
    path: &'a str,
    steps: Vec<Step>,
    kind: &'a Kind,
    /// `super::<module>::<Struct>` of the referenced entity, for references.
    reference: Option<TokenStream>,
}

impl End<'_> {
    /// List levels before the leaf.
    fn lists(&self) -> usize {
        self.steps.iter().filter(|s| s.list).count()
    }
}

/// A property row with both ends resolved.
struct Row<'a> {
    property: &'a Property,
    source: End<'a>,
    target: End<'a>,
}

impl<'a> Row<'a> {
    /// (read, written) in a direction.
    fn ends(&self, direction: Direction) -> (&End<'a>, &End<'a>) {
        match direction {
            Direction::Forward => (&self.source, &self.target),
            Direction::Inverse => (&self.target, &self.source),
        }
    }
}

fn resolve_end<'a>(
    plan: &'a Plan<'_>,
    system: &str,
    entity: &str,
    path: &'a str,
    location: &Location,
) -> Result<End<'a>, Box<Diagnostic>> {
    let (steps, kind) = plan
        .leaf(system, entity, path)
        .ok_or_else(|| Box::new(missing_path(system, entity, path, location)))?;
    let reference = match kind {
        Kind::Ref(referenced) => Some(
            entity_path(plan, system, referenced)
                .ok_or_else(|| Box::new(missing_entity(system, referenced, location)))?,
        ),
        _ => None,
    };
    Ok(End {
        path,
        steps,
        kind,
        reference,
    })
}

fn flow_items(plan: &Plan<'_>, fp: &FlowPlan<'_>) -> Result<TokenStream, Vec<Diagnostic>> {
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
    let mut diagnostics = Vec::new();
    let mut rows = Vec::with_capacity(flow.properties.len());
    for property in &flow.properties {
        let source = resolve_end(
            plan,
            &flow.source.system,
            &flow.source.entity,
            &property.source,
            &property.location,
        );
        let target = resolve_end(
            plan,
            &flow.target.system,
            &flow.target.entity,
            &property.target,
            &property.location,
        );
        match (source, target) {
            (Ok(source), Ok(target)) => rows.push(Row {
                property,
                source,
                target,
            }),
            (source, target) => {
                diagnostics.extend(source.err().map(|d| *d));
                diagnostics.extend(target.err().map(|d| *d));
            }
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }

    let name = ident(&fp.ident);
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

    let info = moved(flow_info(fp, &rows));
    let field_count = |system: &str, entity: &str| {
        plan.entity(system, entity)
            .map(|(_, e)| e.fields.len() + usize::from(e.id_field))
            .unwrap_or(0)
    };
    let forward = mapping(
        &rows,
        Direction::Forward,
        field_count(&flow.target.system, &flow.target.entity),
    );
    let inverse = mapping(
        &rows,
        Direction::Inverse,
        field_count(&flow.source.system, &flow.source.entity),
    );
    let src_param = param("source", forward.uses_input);
    let links_param = param("links", forward.uses_links);
    let tgt_param = param("target", inverse.uses_input);
    let inv_links_param = param("links", inverse.uses_links);
    let fwd_body = moved(forward.body);
    let inv_body = moved(inverse.body);
    let references = match (
        references(&rows, Direction::Forward),
        references(&rows, Direction::Inverse),
    ) {
        (None, None) => quote!(rt::no_references!();),
        (forward, inverse) => {
            let (ref_param, ref_body) = references_fn("source", forward);
            let (inv_ref_param, inv_ref_body) = references_fn("target", inverse);
            quote! {
                fn references(&self, #ref_param: &Self::Source) -> Vec<Reference> {
                    #ref_body
                }

                fn inverse_references(&self, #inv_ref_param: &Self::Target) -> Vec<Reference> {
                    #inv_ref_body
                }
            }
        }
    };
    let references = moved(references);

    let methods = moved(quote! {
        type Source = #source_ty;
        type Target = #target_ty;

        fn info(&self) -> &'static FlowInfo {
            static INFO: FlowInfo = #info;
            &INFO
        }

        fn forward(&self, #src_param: &Self::Source, #links_param: &dyn Links) -> Result<Self::Target, MapError> {
            #fwd_body
        }

        fn inverse(&self, #tgt_param: &Self::Target, #inv_links_param: &dyn Links) -> Result<Self::Source, MapError> {
            #inv_body
        }

        #references
    });

    Ok(match &fp.condition {
        None => quote! {
            #docs
            #[derive(Debug, Clone, Copy, Default)]
            pub struct #name;

            impl Flow for #name {
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

                impl<C: super::Conditions> Flow for #name<C> {
                    #methods

                    fn applies(&self, source: &Self::Source) -> bool {
                        self.conditions.#method(source)
                    }
                }
            }
        }
    })
}

fn param(name: &str, used: bool) -> Ident {
    if used {
        ident(name)
    } else {
        ident(&format!("_{name}"))
    }
}

/// The `FlowInfo` constant expression: `flow_info(…)` and a `.with_*(…)` per non-default part.
fn flow_info(fp: &FlowPlan<'_>, rows: &[Row<'_>]) -> TokenStream {
    let flow = fp.flow;
    let name = crate::plan::flow_name(flow);
    let source = entity_key(&flow.source.system, &flow.source.entity);
    let target = entity_key(&flow.target.system, &flow.target.entity);
    let create = ident(match flow.create {
        Create::Always => "Always",
        Create::WhenConnected => "WhenConnected",
        Create::Never => "Never",
    });
    let location = short(&flow.location);
    let mut out = quote!(flow_info(#name, #source, #target, CreatePolicy::#create, #location));
    if !flow.connected_via.is_empty() {
        let via = flow
            .connected_via
            .iter()
            .map(|entity| entity_key(&flow.source.system, entity));
        out.extend(quote!(.with_connected_via(&[#(#via),*])));
    }
    if let Some(text) = &flow.condition {
        out.extend(quote!(.with_condition(#text)));
    }
    if flow.merge {
        out.extend(quote!(.with_merge()));
    }
    if !flow.match_rules.is_empty() {
        let rules = flow.match_rules.iter().map(|rule| {
            let (s, t) = (&rule.source, &rule.target);
            quote!(match_rule(#s, #t))
        });
        out.extend(quote!(.with_match_rules(&[#(#rules),*])));
    }
    if !rows.is_empty() {
        let reference_key = |system: &str, end: &End<'_>| match end.kind {
            Kind::Ref(referenced) => {
                let key = entity_key(system, referenced);
                quote!(Some(#key))
            }
            _ => quote!(None),
        };
        let mut properties = TokenStream::new();
        for row in rows {
            let p = row.property;
            let (s, t) = (&p.source, &p.target);
            let ty = p.ty.map_or("", |ty| ty.as_str());
            let location = short(&p.location);
            properties.extend(quote!(property(#s, #t, #ty, #location)));
            if row.source.reference.is_some() || row.target.reference.is_some() {
                let sref = reference_key(&flow.source.system, &row.source);
                let tref = reference_key(&flow.target.system, &row.target);
                properties.extend(quote!(.with_references(#sref, #tref)));
            }
            properties.extend(quote!(,));
        }
        let properties = moved(properties);
        out.extend(quote!(.with_properties(&[#properties])));
    }
    out
}

struct Mapping {
    body: TokenStream,
    uses_input: bool,
    uses_links: bool,
}

/// How a read yields the leaf value.
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

    fn leaf(self, expr: TokenStream) -> TokenStream {
        match self {
            Take::Borrow => quote!(#expr.as_ref()),
            Take::Clone => quote!(#expr.clone()),
            Take::Copy => expr,
        }
    }
}

/// Reads a path without lists before its leaf as an `Option`:
/// `input.a.as_ref().and_then(|v| v.b.clone())`.
fn getter(input: TokenStream, steps: &[Step], take: Take) -> TokenStream {
    let Some((leaf, path)) = steps.split_last() else {
        return quote!(None);
    };
    let leaf_ident = ident(&leaf.ident);
    let Some((first, middle)) = path.split_first() else {
        return take.leaf(quote!(#input.#leaf_ident));
    };
    let f = ident(&first.ident);
    let mut expr = quote!(#input.#f.as_ref());
    for step in middle {
        let f = ident(&step.ident);
        expr.extend(quote!(.and_then(|v| v.#f.as_ref())));
    }
    let leaf = take.leaf(quote!(v.#leaf_ident));
    expr.extend(quote!(.and_then(|v| #leaf)));
    expr
}

/// Every value along a path (through lists and optional objects) as an iterator:
/// `input.a.iter().flat_map(|v| v.b.iter()).filter_map(|v| v.c.clone())`.
fn values_iter(input: TokenStream, steps: &[Step], take: Take) -> TokenStream {
    let Some((leaf, path)) = steps.split_last() else {
        return quote!(::std::iter::empty());
    };
    let leaf_ident = ident(&leaf.ident);
    let Some((first, middle)) = path.split_first() else {
        return quote!(#input.#leaf_ident.iter());
    };
    let f = ident(&first.ident);
    let mut expr = quote!(#input.#f.iter());
    for step in middle {
        let f = ident(&step.ident);
        expr.extend(quote!(.flat_map(|v| v.#f.iter())));
    }
    let leaf = take.leaf(quote!(v.#leaf_ident));
    expr.extend(quote!(.filter_map(|v| #leaf)));
    expr
}

/// Reads a path as one `Option` value: directly without lists, through [`single`] (which
/// fails on differing values) with lists. Uses `?`.
fn read_one(input: TokenStream, steps: &[Step], take: Take, property: &str) -> TokenStream {
    let lists = steps.iter().filter(|s| s.list).count();
    if lists == 0 {
        getter(input, steps, take)
    } else {
        let values = values_iter(input, steps, take);
        quote!(single(#values, #property)?)
    }
}

/// The value one row contributes, read from `input` along `steps` (the part of the row's
/// path below `input`): an `Option<T>` expression of the written property's type (uses `?`).
fn row_value(
    input: TokenStream,
    steps: &[Step],
    from: &End<'_>,
    to: &End<'_>,
    uses_links: &mut bool,
) -> TokenStream {
    let property = from.path;
    match (&from.reference, &to.reference) {
        (Some(a), Some(b)) => {
            let get = read_one(input, steps, Take::Borrow, property);
            *uses_links = true;
            quote!(translate::<#a, #b>(#get, #property, links)?)
        }
        // A raw id copied into a plain property (the resolver warns about it).
        (Some(_), None) => {
            let get = read_one(input, steps, Take::Borrow, property);
            quote!(convert(ref_value(#get), #property)?)
        }
        // A plain value into a reference (the resolver rejects it; kept total for specs
        // built by other means): the value is taken as the id.
        (None, Some(_)) => {
            let get = read_one(input, steps, Take::owned(from.kind), property);
            quote!(raw_reference(#get, #property)?)
        }
        (None, None) if from.kind == to.kind => {
            read_one(input, steps, Take::owned(from.kind), property)
        }
        (None, None) => {
            let get = read_one(input, steps, Take::owned(from.kind), property);
            quote!(convert(#get, #property)?)
        }
    }
}

/// `output.a.slot_at(i0).b.slot().c`: the place a value is written (lists paired with the
/// loops' indices `i0, i1, …` first, element 0 for the rest).
fn write_place(steps: &[Step], paired: usize) -> TokenStream {
    let mut place = quote!(output);
    let mut level = 0;
    for (n, step) in steps.iter().enumerate() {
        let f = ident(&step.ident);
        place.extend(quote!(.#f));
        if n + 1 == steps.len() {
            break;
        }
        if step.list && level < paired {
            let index = ident(&format!("i{level}"));
            place.extend(quote!(.slot_at(#index)));
        } else {
            place.extend(quote!(.slot()));
        }
        level += usize::from(step.list);
    }
    place
}

/// `output.a.get(i0).and_then(|v| v.b.as_ref()).is_none()`: whether the place
/// [`write_place`] names holds no value yet (creating nothing).
fn place_is_empty(steps: &[Step], paired: usize) -> TokenStream {
    let mut expr = TokenStream::new();
    let mut level = 0;
    for (n, step) in steps.iter().enumerate() {
        let f = ident(&step.ident);
        let last = n + 1 == steps.len();
        let access = if last || !step.list {
            quote!(.#f.as_ref())
        } else if level < paired {
            let index = ident(&format!("i{level}"));
            quote!(.#f.get(#index))
        } else {
            quote!(.#f.first())
        };
        level += usize::from(step.list);
        if n == 0 {
            expr.extend(quote!(output #access));
        } else {
            expr.extend(quote!(.and_then(|v| v #access)));
        }
    }
    expr.extend(quote!(.is_none()));
    expr
}

/// The statement writing one row into a target path through lists: a loop per paired list
/// level, the value read below the loops, written at the paired indices. A row after the
/// first into the same property is evaluated only where the place is still empty.
fn list_row_statement(
    input: &Ident,
    from: &End<'_>,
    to: &End<'_>,
    first_in_group: bool,
    uses_links: &mut bool,
) -> TokenStream {
    let paired = from.lists().min(to.lists());
    // Where the loops stop: the step of the `paired`-th list of the path read.
    let mut split = 0;
    let mut seen = 0;
    if paired > 0 {
        for (n, step) in from.steps.iter().enumerate() {
            if step.list {
                seen += 1;
                if seen == paired {
                    split = n + 1;
                    break;
                }
            }
        }
    }
    let (outer, below) = from.steps.split_at(split);
    let reader = if outer.is_empty() {
        quote!(#input)
    } else {
        quote!(v)
    };
    let value = row_value(reader, below, from, to, uses_links);
    let place = write_place(&to.steps, paired);
    let mut statement = if first_in_group {
        quote! {
            if let Some(value) = #value {
                #place = Some(value);
            }
        }
    } else {
        // `let` first: a nested `if let` would be clippy's `collapsible_if`, and a let
        // chain needs edition 2024 of the crate the code lands in.
        let empty = place_is_empty(&to.steps, paired);
        quote! {
            if #empty {
                let value = #value;
                if let Some(value) = value {
                    #place = Some(value);
                }
            }
        }
    };
    // Wrap the loops (and `if let` for optional objects between them), innermost first.
    let mut level = paired;
    for (n, step) in outer.iter().enumerate().rev() {
        let f = ident(&step.ident);
        let base = if n == 0 { quote!(#input) } else { quote!(v) };
        let inner = moved(statement);
        statement = if step.list {
            level -= 1;
            let index = ident(&format!("i{level}"));
            quote! {
                for (#index, v) in #base.#f.iter().enumerate() {
                    #inner
                }
            }
        } else {
            quote! {
                if let Some(v) = &#base.#f {
                    #inner
                }
            }
        };
    }
    statement
}

/// The body of `forward` or `inverse`; `output_fields` is the number of top-level fields of
/// the struct written (the id field included).
fn mapping(rows: &[Row<'_>], direction: Direction, output_fields: usize) -> Mapping {
    let (input, output_ty) = match direction {
        Direction::Forward => (ident("source"), quote!(Self::Target)),
        Direction::Inverse => (ident("target"), quote!(Self::Source)),
    };
    // Group by the written property, in document order of first appearance.
    let mut groups: Vec<(&str, Vec<&Row<'_>>)> = Vec::new();
    for row in rows {
        let (from, to) = row.ends(direction);
        match groups.iter_mut().find(|(path, _)| *path == to.path) {
            Some((_, group)) => {
                // An exact duplicate row adds nothing.
                if !group.iter().any(|r| r.ends(direction).0.path == from.path) {
                    group.push(row);
                }
            }
            None => groups.push((to.path, vec![row])),
        }
    }
    let mut uses_links = false;
    let mut literal_fields = TokenStream::new();
    let mut literal_count = 0;
    let mut statements = TokenStream::new();
    for (_, group) in &groups {
        let Some(first) = group.first() else { continue };
        let to = first.ends(direction).1;
        if to.lists() > 0 {
            for (n, row) in group.iter().enumerate() {
                let (from, to) = row.ends(direction);
                statements.extend(list_row_statement(
                    &input,
                    from,
                    to,
                    n == 0,
                    &mut uses_links,
                ));
            }
            continue;
        }
        let mut values = group.iter().map(|row| {
            let (from, to) = row.ends(direction);
            row_value(quote!(#input), &from.steps, from, to, &mut uses_links)
        });
        let Some(first_value) = values.next() else {
            continue;
        };
        let rest: Vec<TokenStream> = values.collect();
        let value = if rest.is_empty() {
            first_value
        } else {
            let ty = kind_type(to.kind, &|_| {
                to.reference
                    .clone()
                    .unwrap_or_else(|| quote!(rt::serde_json::Value))
            });
            let first_value = moved(first_value);
            let rest = rest.into_iter().map(moved);
            quote! {{
                let mut value: Option<#ty> = #first_value;
                #(if value.is_none() { value = #rest; })*
                value
            }}
        };
        match to.steps.as_slice() {
            [leaf] => {
                let f = ident(&leaf.ident);
                let value = moved(value);
                literal_fields.extend(quote!(#f: #value,));
                literal_count += 1;
            }
            steps => {
                let place = write_place(steps, 0);
                let value = moved(value);
                statements.extend(quote! {
                    if let Some(value) = #value {
                        #place = Some(value);
                    }
                });
            }
        }
    }
    let uses_input = literal_count > 0 || !statements.is_empty();
    // Every field set in the literal: `..Default::default()` would be a needless update.
    let all_set = output_fields == literal_count;
    let rest = if all_set {
        TokenStream::new()
    } else {
        quote!(..Default::default())
    };
    let literal = if literal_count == 0 {
        quote!(#output_ty::default())
    } else {
        let fields = moved(literal_fields);
        quote!(#output_ty { #fields #rest })
    };
    let body = if statements.is_empty() {
        quote!(Ok(#literal))
    } else {
        let literal = moved(literal);
        let statements = moved(statements);
        quote! {
            let mut output = #literal;
            #statements
            Ok(output)
        }
    };
    Mapping {
        body,
        uses_input,
        uses_links,
    }
}

/// The body of `references()` in `direction` (`None` when the mapping translates no
/// reference): the reference of every translated row, of every element through lists.
/// One reference read into two properties of one entity is one translation.
fn references(rows: &[Row<'_>], direction: Direction) -> Option<TokenStream> {
    let input = ident(match direction {
        Direction::Forward => "source",
        Direction::Inverse => "target",
    });
    let mut found = TokenStream::new();
    let mut seen: Vec<(&str, String)> = Vec::new();
    for row in rows {
        let (from, to) = row.ends(direction);
        let (Some(a), Some(b), Kind::Ref(referenced)) = (&from.reference, &to.reference, to.kind)
        else {
            continue;
        };
        if seen
            .iter()
            .any(|(path, entity)| *path == from.path && entity == referenced)
        {
            continue;
        }
        seen.push((from.path, referenced.clone()));
        let property = from.path;
        let read = if from.lists() == 0 {
            let get = getter(quote!(#input), &from.steps, Take::Borrow);
            quote!(reference::<#a, #b>(#get, #property))
        } else {
            let values = values_iter(quote!(#input), &from.steps, Take::Borrow);
            quote!(references::<#a, #b>(#values, #property))
        };
        let read = moved(read);
        found.extend(quote!(refs.extend(#read);));
    }
    if found.is_empty() {
        return None;
    }
    let found = moved(found);
    Some(quote! {
        let mut refs = Vec::new();
        #found
        refs
    })
}

/// The parameter and body of a `references` method (`Vec::new()` when `body` is `None`).
fn references_fn(input: &str, body: Option<TokenStream>) -> (Ident, TokenStream) {
    match body {
        Some(body) => (ident(input), body),
        None => (param(input, false), quote!(Vec::new())),
    }
}
