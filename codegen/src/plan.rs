//! The plan: every generated item's name and shape, decided once from the spec before any
//! tokens are written, so [`crate::types`], [`crate::flows`] and [`crate::registry`] agree.
//!
//! - Systems and entities: the catalog (`spec.systems`), plus any flow endpoint missing from
//!   it (an entity whose flows map no property still gets a struct). With a `systems`
//!   filter: the flows whose both sides are in the set, their entities, and the entities
//!   their properties refer to (transitively), so every `Ref<E>` has its `E`.
//! - Fields: a property path `a.b.c` is a field `a` holding a nested struct with a field
//!   `b` …; an intermediate segment is a list when [`naming::is_list_segment`] says so.
//! - Names come from [`naming::Namer`]s: system modules, then per module entity structs
//!   before nested structs (an entity's name never moves because of a nested struct), per
//!   struct its fields, and the flow structs and condition methods.

use std::collections::{BTreeMap, BTreeSet};

use flowgen_spec::{CatalogProperty, DataType, Diagnostic, Endpoint, Flow, Location, Spec};

use crate::naming::{self, Case, Namer, RESERVED_TYPES};

/// Names of the items generated beside the system modules.
pub const FLOWS_MODULE: &str = "flows";
pub const REGISTRY_FN: &str = "registry";
/// Reserved module names (generated items and paths generated code relies on).
/// `rt` is the runtime's alias inside generated modules.
const RESERVED_MODULES: &[&str] = &[
    FLOWS_MODULE,
    REGISTRY_FN,
    "std",
    "core",
    "alloc",
    "serde",
    "rt",
];
/// The runtime items `mod flows` imports by name (flow structs never take these names).
pub const FLOWS_IMPORTS: &[&str] = &[
    "CreatePolicy",
    "Flow",
    "FlowInfo",
    "Links",
    "MapError",
    "Reference",
];
/// The field holding a record's own id.
pub const ID_FIELD: &str = "id";

/// What a property holds, as far as Rust types go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Scalar(DataType),
    /// `N/A` or never stated: any JSON value.
    Json,
    /// A reference to an entity of the same system.
    Ref(String),
}

impl Kind {
    pub fn of(property: Option<&CatalogProperty>) -> Kind {
        match property {
            Some(CatalogProperty {
                reference: Some(entity),
                ..
            }) => Kind::Ref(entity.clone()),
            Some(CatalogProperty { ty: Some(ty), .. }) => Kind::Scalar(*ty),
            _ => Kind::Json,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Kind::Scalar(ty) => ty.to_string(),
            Kind::Json => "unknown".to_string(),
            Kind::Ref(entity) => format!("reference to {entity}"),
        }
    }
}

/// A field of a generated struct.
#[derive(Debug, Clone)]
pub struct Field {
    /// The segment as documents write it (the serde name).
    pub name: String,
    pub ident: String,
    pub node: Node,
}

#[derive(Debug, Clone)]
pub enum Node {
    /// A property: the full path and its catalog entry.
    Leaf {
        path: String,
        kind: Kind,
        property: CatalogProperty,
    },
    /// A nested object (or a list of them) holding further fields.
    Object {
        list: bool,
        /// The dotted path up to and including this segment.
        path: String,
        struct_ident: String,
        fields: Vec<Field>,
    },
}

/// A generated entity struct.
#[derive(Debug, Clone)]
pub struct EntityPlan {
    pub system: String,
    pub name: String,
    pub ident: String,
    /// Whether the struct gets an `id: Option<Id<Self>>` field (no property is named `id`).
    pub id_field: bool,
    pub fields: Vec<Field>,
    /// Headings of the flows this entity is a side of.
    pub locations: Vec<Location>,
}

#[derive(Debug, Clone)]
pub struct SystemPlan {
    pub name: String,
    pub module: String,
    pub entities: BTreeMap<String, EntityPlan>,
    /// The documents whose title names this system.
    pub documents: Vec<String>,
}

/// A generated flow.
#[derive(Debug, Clone)]
pub struct FlowPlan<'a> {
    pub flow: &'a Flow,
    pub ident: String,
    /// The condition method of the `Conditions` trait, when the flow has a condition.
    pub condition: Option<String>,
}

/// A required method of the generated `Conditions` trait.
#[derive(Debug, Clone)]
pub struct ConditionPlan {
    pub text: String,
    pub source: Endpoint,
    pub method: String,
    pub locations: Vec<Location>,
}

#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub spec: &'a Spec,
    pub systems: BTreeMap<String, SystemPlan>,
    pub flows: Vec<FlowPlan<'a>>,
    pub conditions: Vec<ConditionPlan>,
}

impl<'a> Plan<'a> {
    /// Plans the items for `spec`, keeping only the flows selected by `systems` (all when
    /// `None`). Diagnostics are returned for shapes that cannot be generated.
    pub fn new(
        spec: &'a Spec,
        systems: Option<&BTreeSet<String>>,
    ) -> Result<Plan<'a>, Vec<Diagnostic>> {
        let selected = |system: &str| systems.is_none_or(|s| s.contains(system));
        let mut flows: Vec<&Flow> = spec
            .flows
            .iter()
            .filter(|f| selected(&f.source.system) && selected(&f.target.system))
            .collect();
        // Stable order: by name, then by heading (one flow per heading pair after merging).
        flows.sort_by(|a, b| {
            (&a.source, &a.target, &a.location).cmp(&(&b.source, &b.target, &b.location))
        });

        let entities = needed_entities(spec, &flows, systems.is_none());
        let mut diagnostics = Vec::new();

        let module_names = Namer::new(Case::Snake)
            .reserve(RESERVED_MODULES.iter().copied())
            .assign(entities.keys().map(String::as_str));
        // Flow headings per entity, in one pass over the flows.
        let mut headings: BTreeMap<&Endpoint, Vec<&Location>> = BTreeMap::new();
        for flow in &flows {
            for side in [&flow.source, &flow.target] {
                headings.entry(side).or_default().push(&flow.location);
            }
        }
        let mut plans = BTreeMap::new();
        for (system, names) in &entities {
            let module = module_names.get(system).cloned().unwrap_or_default();
            let plan = plan_system(spec, &headings, system, module, names, &mut diagnostics);
            plans.insert(system.clone(), plan);
        }

        // `<source> To <target>`: the arrow of `flow_name` is a separator to the namer.
        let flow_keys: Vec<String> = flows
            .iter()
            .map(|f| {
                format!(
                    "{} {} To {} {}",
                    f.source.system, f.source.entity, f.target.system, f.target.entity
                )
            })
            .collect();
        let flow_idents = Namer::new(Case::Pascal)
            .reserve(RESERVED_TYPES.iter().copied())
            .reserve(FLOWS_IMPORTS.iter().copied())
            .assign(flow_keys.iter().map(String::as_str));

        let mut conditions: BTreeMap<(String, Endpoint), Vec<Location>> = BTreeMap::new();
        for flow in &flows {
            if let Some(text) = &flow.condition {
                conditions
                    .entry((text.clone(), flow.source.clone()))
                    .or_default()
                    .push(flow.location.clone());
            }
        }
        // Method names: the condition text, plus the source entity when one text is
        // attached to several source entities (each needs its own parameter type).
        let mut texts: BTreeMap<&str, usize> = BTreeMap::new();
        for (text, _) in conditions.keys() {
            *texts.entry(text.as_str()).or_default() += 1;
        }
        let condition_keys: Vec<((String, Endpoint), String)> = conditions
            .keys()
            .map(|key| {
                let (text, source) = key;
                let base = condition_words(text);
                let name = if texts.get(text.as_str()).copied().unwrap_or(0) > 1 {
                    format!("{source} {base}")
                } else {
                    base
                };
                (key.clone(), name)
            })
            .collect();
        let methods =
            Namer::new(Case::Snake).assign(condition_keys.iter().map(|(_, n)| n.as_str()));
        // Two conditions whose texts reduce to the same words share a method name input;
        // give each its own method then, deterministically (sorted by text and entity).
        let mut used = BTreeSet::new();
        let mut condition_plans = Vec::new();
        for ((text, source), name) in &condition_keys {
            let mut method = methods
                .get(name)
                .cloned()
                .unwrap_or_else(|| naming::snake(name));
            let base = method.clone();
            let mut n = 2;
            while !used.insert(method.clone()) {
                method = format!("{}_{n}", base.trim_end_matches('_'));
                n += 1;
            }
            condition_plans.push(ConditionPlan {
                text: text.clone(),
                source: source.clone(),
                method,
                locations: conditions
                    .get(&(text.clone(), source.clone()))
                    .cloned()
                    .unwrap_or_default(),
            });
        }

        let flow_plans = flows
            .iter()
            .zip(&flow_keys)
            .map(|(flow, key)| FlowPlan {
                flow,
                ident: flow_idents.get(key).cloned().unwrap_or_default(),
                condition: flow.condition.as_ref().and_then(|text| {
                    condition_plans
                        .iter()
                        .find(|c| &c.text == text && c.source == flow.source)
                        .map(|c| c.method.clone())
                }),
            })
            .collect();

        if diagnostics.is_empty() {
            Ok(Plan {
                spec,
                systems: plans,
                flows: flow_plans,
                conditions: condition_plans,
            })
        } else {
            Err(diagnostics)
        }
    }

    pub fn entity(&self, system: &str, entity: &str) -> Option<(&SystemPlan, &EntityPlan)> {
        let sys = self.systems.get(system)?;
        Some((sys, sys.entities.get(entity)?))
    }

    /// The field chain (idents and list flags) of a property path on an entity.
    pub fn path(&self, system: &str, entity: &str, path: &str) -> Option<Vec<Step>> {
        self.leaf(system, entity, path).map(|(steps, _)| steps)
    }

    /// The field chain of a property path and what the property holds.
    pub fn leaf(&self, system: &str, entity: &str, path: &str) -> Option<(Vec<Step>, &Kind)> {
        let (_, plan) = self.entity(system, entity)?;
        let mut fields = &plan.fields;
        let mut steps = Vec::new();
        let mut segments = path.split('.').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            let field = fields.iter().find(|f| f.name == segment)?;
            match &field.node {
                Node::Leaf { kind, .. } if last => {
                    steps.push(Step {
                        ident: field.ident.clone(),
                        list: false,
                    });
                    return Some((steps, kind));
                }
                Node::Object {
                    list,
                    fields: inner,
                    ..
                } if !last => {
                    steps.push(Step {
                        ident: field.ident.clone(),
                        list: *list,
                    });
                    fields = inner;
                }
                _ => return None,
            }
        }
        None
    }
}

/// One field access along a property path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub ident: String,
    /// The field is a `Vec` (intermediate list segment); otherwise an `Option`.
    pub list: bool,
}

/// The stable display name of a flow (`FlowInfo::name`).
pub fn flow_name(flow: &Flow) -> String {
    format!(
        "{} {} -> {} {}",
        flow.source.system, flow.source.entity, flow.target.system, flow.target.entity
    )
}

/// A condition's method name source: its first words (long sentences make unreadable
/// method names; the full text is the method's doc comment).
fn condition_words(text: &str) -> String {
    let words = naming::words(text);
    let mut out = Vec::new();
    let mut len = 0;
    for word in words {
        if len + word.len() > 48 && !out.is_empty() {
            break;
        }
        len += word.len() + 1;
        out.push(word);
    }
    out.join(" ")
}

/// The entities to generate, per system: the whole catalog when `all`, plus every flow
/// endpoint, plus (transitively) every entity a generated property refers to.
fn needed_entities(spec: &Spec, flows: &[&Flow], all: bool) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut queue: Vec<Endpoint> = Vec::new();
    if all {
        for (system, sys) in &spec.systems {
            for entity in sys.entities.keys() {
                queue.push(Endpoint {
                    system: system.clone(),
                    entity: entity.clone(),
                });
            }
        }
    }
    for flow in flows {
        queue.push(flow.source.clone());
        queue.push(flow.target.clone());
    }
    while let Some(endpoint) = queue.pop() {
        let fresh = out
            .entry(endpoint.system.clone())
            .or_default()
            .insert(endpoint.entity.clone());
        if !fresh {
            continue;
        }
        if let Some(entity) = spec.entity(&endpoint.system, &endpoint.entity) {
            for property in entity.properties.values() {
                if let Some(target) = &property.reference {
                    queue.push(Endpoint {
                        system: endpoint.system.clone(),
                        entity: target.clone(),
                    });
                }
            }
        }
    }
    out
}

fn plan_system(
    spec: &Spec,
    headings: &BTreeMap<&Endpoint, Vec<&Location>>,
    system: &str,
    module: String,
    names: &BTreeSet<String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> SystemPlan {
    let entity_idents = Namer::new(Case::Pascal)
        .reserve(RESERVED_TYPES.iter().copied())
        .assign(names.iter().map(String::as_str));
    let mut taken: BTreeSet<String> = entity_idents.values().cloned().collect();
    taken.extend(RESERVED_TYPES.iter().map(|s| s.to_string()));

    // Nested struct names: `<Entity> <path>` per object node, all named in one namer.
    let mut trees = BTreeMap::new();
    let mut nested_names: Vec<String> = Vec::new();
    for name in names {
        let empty = BTreeMap::new();
        let properties = spec.entity(system, name).map_or(&empty, |e| &e.properties);
        let tree = build_tree(system, name, properties, diagnostics);
        collect_object_names(name, &tree, &mut nested_names);
        trees.insert(name.clone(), tree);
    }
    let nested_idents = Namer::new(Case::Pascal)
        .reserve(taken.iter().cloned())
        .assign(nested_names.iter().map(String::as_str));

    let mut entities = BTreeMap::new();
    for name in names {
        let tree = trees.remove(name).unwrap_or_default();
        let id_field = !tree
            .keys()
            .any(|segment| naming::snake(segment) == ID_FIELD);
        let fields = name_fields(name, "", tree, id_field, &nested_idents);
        let endpoint = Endpoint {
            system: system.to_string(),
            entity: name.clone(),
        };
        let mut locations: Vec<Location> = headings
            .get(&endpoint)
            .map(|found| found.iter().map(|l| (*l).clone()).collect())
            .unwrap_or_default();
        locations.sort();
        locations.dedup();
        entities.insert(
            name.clone(),
            EntityPlan {
                system: system.to_string(),
                name: name.clone(),
                ident: entity_idents.get(name).cloned().unwrap_or_default(),
                id_field,
                fields,
                locations,
            },
        );
    }
    let documents = spec
        .documents
        .iter()
        .filter(|d| d.source_system == system || d.target_system == system)
        .map(|d| d.file.clone())
        .collect();
    SystemPlan {
        name: system.to_string(),
        module,
        entities,
        documents,
    }
}

/// An unnamed field tree: segment → leaf or children.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(String, CatalogProperty),
    Object(BTreeMap<String, Tree>),
}

fn build_tree(
    system: &str,
    entity: &str,
    properties: &BTreeMap<String, CatalogProperty>,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Tree> {
    let mut root: BTreeMap<String, Tree> = BTreeMap::new();
    // Shorter paths first, so `a` (a value) is seen before `a.b` (an object) conflicts.
    let mut paths: Vec<(&String, &CatalogProperty)> = properties.iter().collect();
    paths.sort_by_key(|(p, _)| (p.matches('.').count(), p.as_str()));
    'paths: for (path, property) in paths {
        let segments: Vec<&str> = path.split('.').collect();
        let mut level = &mut root;
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            if last {
                if let Some(Tree::Object(_)) = level.get(*segment) {
                    diagnostics.push(shape_conflict(system, entity, path, property));
                    continue 'paths;
                }
                level.insert(
                    (*segment).to_string(),
                    Tree::Leaf(path.clone(), property.clone()),
                );
            } else {
                let node = level
                    .entry((*segment).to_string())
                    .or_insert_with(|| Tree::Object(BTreeMap::new()));
                match node {
                    Tree::Object(children) => level = children,
                    Tree::Leaf(..) => {
                        diagnostics.push(shape_conflict(system, entity, path, property));
                        continue 'paths;
                    }
                }
            }
        }
    }
    root
}

fn shape_conflict(
    system: &str,
    entity: &str,
    path: &str,
    property: &CatalogProperty,
) -> Diagnostic {
    let prefix = path.rsplit_once('.').map(|(p, _)| p).unwrap_or(path);
    let mut d = Diagnostic::error(format!(
        "{system} {entity}: `{path}` needs `{prefix}` to be an object, but `{prefix}` is also a property with a value"
    ))
    .help("rename one of the properties in the documents so a path is either a value or an object");
    if let Some(location) = property.locations.first() {
        d = d.at(location);
    }
    d
}

impl Node {
    /// Every document location of the properties at or under this node.
    pub fn locations(&self) -> Vec<Location> {
        match self {
            Node::Leaf { property, .. } => property.locations.clone(),
            Node::Object { fields, .. } => {
                let mut all: Vec<Location> =
                    fields.iter().flat_map(|f| f.node.locations()).collect();
                all.sort();
                all.dedup();
                all
            }
        }
    }
}

impl Default for Tree {
    fn default() -> Self {
        Tree::Object(BTreeMap::new())
    }
}

/// The name of a nested struct: its owner's name and the segment, without repeating the
/// owner's last word (`Order` + `order_line_items` → `order line items`, `Contact` +
/// `MailAddress` → `contact mail address`).
fn nested_name(prefix: &str, segment: &str) -> String {
    let owner = naming::words(prefix);
    let own = naming::words(segment);
    let repeated = owner
        .last()
        .is_some_and(|last| own.first().is_some_and(|first| first == last));
    let keep = if repeated {
        owner.len() - 1
    } else {
        owner.len()
    };
    owner
        .iter()
        .take(keep)
        .chain(own.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

fn collect_object_names(prefix: &str, tree: &BTreeMap<String, Tree>, out: &mut Vec<String>) {
    for (segment, node) in tree {
        if let Tree::Object(children) = node {
            let name = nested_name(prefix, segment);
            collect_object_names(&name, children, out);
            out.push(name);
        }
    }
}

fn name_fields(
    prefix: &str,
    path_prefix: &str,
    tree: BTreeMap<String, Tree>,
    id_field: bool,
    nested: &BTreeMap<String, String>,
) -> Vec<Field> {
    let mut namer = Namer::new(Case::Snake);
    if id_field {
        namer = namer.reserve([ID_FIELD]);
    }
    let idents = namer.assign(tree.keys().map(String::as_str));
    tree.into_iter()
        .map(|(segment, node)| {
            let ident = idents.get(&segment).cloned().unwrap_or_default();
            let node = match node {
                Tree::Leaf(path, property) => Node::Leaf {
                    path,
                    kind: Kind::of(Some(&property)),
                    property,
                },
                Tree::Object(children) => {
                    let name = nested_name(prefix, &segment);
                    let path = if path_prefix.is_empty() {
                        segment.clone()
                    } else {
                        format!("{path_prefix}.{segment}")
                    };
                    Node::Object {
                        list: naming::is_list_segment(&segment),
                        struct_ident: nested.get(&name).cloned().unwrap_or_default(),
                        fields: name_fields(&name, &path, children, false, nested),
                        path,
                    }
                }
            };
            Field {
                name: segment,
                ident,
                node,
            }
        })
        .collect()
}
