//! The engine's view of a registry: directions (a flow forward, or an undocumented inverse),
//! entity pairs (what a link joins) and the order entities sync in (referenced first).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::flow::{CreatePolicy, EntityKey, Prefer, Registry};
use crate::json_path::Projection;
use crate::state::Side;

/// One way records travel between the two entities of a pair.
#[derive(Debug)]
pub struct Direction {
    /// The flow's name, or `<flow name> (inverse)` for an undocumented inverse.
    pub name: String,
    /// Index of the flow in the registry.
    pub flow: usize,
    /// Whether records travel target → source of the flow (through `inverse_json`).
    pub reversed: bool,
    pub from: EntityKey,
    pub to: EntityKey,
    pub pair: usize,
    pub from_side: Side,
    /// Undocumented inverses never create and never match.
    pub create: CreatePolicy,
    pub connected_via: &'static [EntityKey],
    pub has_condition: bool,
    /// (property on `from`, property on `to`) alternatives.
    pub match_rules: Vec<(&'static str, &'static str)>,
    pub prefer: Prefer,
    /// The direction records take back.
    pub reverse: usize,
    /// The paths this direction writes on `to` (its payloads carry these and nothing else).
    pub writes: Projection,
}

impl Direction {
    pub fn to_side(&self) -> Side {
        self.from_side.other()
    }
}

/// Two entities a link joins, and the projections that hash each side.
#[derive(Debug)]
pub struct Pair {
    /// `System/Entity|System/Entity`, side A first.
    pub key: String,
    pub a: EntityKey,
    pub b: EntityKey,
    pub proj_a: Projection,
    pub proj_b: Projection,
}

impl Pair {
    pub fn entity(&self, side: Side) -> EntityKey {
        match side {
            Side::A => self.a,
            Side::B => self.b,
        }
    }

    pub fn projection(&self, side: Side) -> &Projection {
        match side {
            Side::A => &self.proj_a,
            Side::B => &self.proj_b,
        }
    }

    pub fn side_of(&self, entity: EntityKey) -> Option<Side> {
        if entity == self.a {
            Some(Side::A)
        } else if entity == self.b {
            Some(Side::B)
        } else {
            None
        }
    }
}

/// The pair key of two entities.
pub fn pair_key(a: EntityKey, b: EntityKey) -> String {
    format!("{}/{}|{}/{}", a.system, a.entity, b.system, b.entity)
}

/// Directions, pairs and entity order of a registry, restricted to systems with a connector.
#[derive(Debug)]
pub struct Topology {
    pub directions: Vec<Direction>,
    pub pairs: Vec<Pair>,
    /// Entities to read, in sync order.
    pub order: Vec<EntityKey>,
    by_pair: HashMap<(EntityKey, EntityKey), usize>,
    by_name: HashMap<String, usize>,
}

impl Topology {
    /// Builds the topology of the flows whose two systems both satisfy `has_system`.
    pub fn new(
        registry: &Registry,
        has_system: impl Fn(&str) -> bool,
        prefer: &HashMap<String, Prefer>,
        order_override: Option<&[EntityKey]>,
    ) -> Topology {
        let flows: Vec<_> = registry
            .flows()
            .enumerate()
            .filter(|(_, f)| {
                has_system(f.info().source.system) && has_system(f.info().target.system)
            })
            .collect();
        let mut pairs: Vec<Pair> = Vec::new();
        let mut by_pair = HashMap::new();
        let mut directions: Vec<Direction> = Vec::new();
        let documented: BTreeSet<(EntityKey, EntityKey)> = flows
            .iter()
            .map(|(_, f)| (f.info().source, f.info().target))
            .collect();
        let mut pair_index = |x: EntityKey, y: EntityKey, pairs: &mut Vec<Pair>| -> usize {
            let (a, b) = if x <= y { (x, y) } else { (y, x) };
            *by_pair.entry((a, b)).or_insert_with(|| {
                pairs.push(Pair {
                    key: pair_key(a, b),
                    a,
                    b,
                    proj_a: Projection::default(),
                    proj_b: Projection::default(),
                });
                pairs.len() - 1
            })
        };
        for (index, flow) in &flows {
            let info = flow.info();
            let pair = pair_index(info.source, info.target, &mut pairs);
            let from_side = if info.source <= info.target {
                Side::A
            } else {
                Side::B
            };
            directions.push(Direction {
                name: info.name.to_string(),
                flow: *index,
                reversed: false,
                from: info.source,
                to: info.target,
                pair,
                from_side,
                create: info.create,
                connected_via: info.connected_via,
                has_condition: info.condition.is_some(),
                match_rules: info
                    .match_rules
                    .iter()
                    .map(|m| (m.source, m.target))
                    .collect(),
                prefer: prefer.get(info.name).copied().unwrap_or_default(),
                reverse: usize::MAX,
                writes: Projection::default(),
            });
            if !documented.contains(&(info.target, info.source)) || info.source == info.target {
                directions.push(Direction {
                    name: format!("{} (inverse)", info.name),
                    flow: *index,
                    reversed: true,
                    from: info.target,
                    to: info.source,
                    pair,
                    from_side: from_side.other(),
                    create: CreatePolicy::Never,
                    connected_via: &[],
                    has_condition: false,
                    match_rules: Vec::new(),
                    prefer: prefer.get(info.name).copied().unwrap_or_default(),
                    reverse: usize::MAX,
                    writes: Projection::default(),
                });
            }
        }
        // Each side of a pair is hashed over every property a direction writes into it or
        // reads from it. The two sets are the same when a pair's flows are inverses of each
        // other; when two documented flows disagree (each direction then uses its own
        // table), an edit of a property only the direction out of a side reads must still
        // change that side's hash, or it would never be synchronized.
        let mut side_paths: HashMap<(usize, Side), Vec<&'static str>> = HashMap::new();
        for d in &mut directions {
            let Some((_, flow)) = flows.iter().find(|(i, _)| *i == d.flow) else {
                continue;
            };
            let properties = flow.info().properties;
            let (read, written): (Vec<&'static str>, Vec<&'static str>) = if d.reversed {
                properties.iter().map(|p| (p.target, p.source)).unzip()
            } else {
                properties.iter().map(|p| (p.source, p.target)).unzip()
            };
            d.writes = Projection::new(written.iter().copied());
            side_paths
                .entry((d.pair, d.to_side()))
                .or_default()
                .extend(written);
            side_paths
                .entry((d.pair, d.from_side))
                .or_default()
                .extend(read);
        }
        for ((pair, side), paths) in side_paths {
            let projection = Projection::new(paths);
            match side {
                Side::A => pairs[pair].proj_a = projection,
                Side::B => pairs[pair].proj_b = projection,
            }
        }
        let reverses: Vec<usize> = directions
            .iter()
            .map(|d| {
                directions
                    .iter()
                    .position(|r| r.pair == d.pair && r.from_side == d.to_side())
                    .unwrap_or(usize::MAX)
            })
            .collect();
        for (d, r) in directions.iter_mut().zip(reverses) {
            d.reverse = r;
        }
        let order = match order_override {
            Some(order) => order.to_vec(),
            None => dependency_order(
                registry,
                &directions,
                &flows.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            ),
        };
        let by_name = directions
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i))
            .collect();
        Topology {
            directions,
            pairs,
            order,
            by_pair,
            by_name,
        }
    }

    /// The pair joining two entities.
    pub fn pair(&self, x: EntityKey, y: EntityKey) -> Option<usize> {
        let key = if x <= y { (x, y) } else { (y, x) };
        self.by_pair.get(&key).copied()
    }

    pub fn direction(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The directions out of `entity`.
    pub fn from_entity(&self, entity: EntityKey) -> impl Iterator<Item = usize> + '_ {
        self.directions
            .iter()
            .enumerate()
            .filter(move |(_, d)| d.from == entity)
            .map(|(i, _)| i)
    }

    /// The when-connected direction from `from` to `to` whose creation a record of `via`
    /// triggers.
    pub fn connected_creator(
        &self,
        from: EntityKey,
        to: EntityKey,
        via: EntityKey,
    ) -> Option<usize> {
        self.directions.iter().position(|d| {
            d.from == from
                && d.to == to
                && d.create == CreatePolicy::WhenConnected
                && d.connected_via.contains(&via)
        })
    }
}

/// Entities sorted so that an entity comes after the entities its records reference
/// (Kahn's algorithm; ties and cycles broken by name, so the order is deterministic).
fn dependency_order(
    registry: &Registry,
    directions: &[Direction],
    flows: &[usize],
) -> Vec<EntityKey> {
    let mut deps: BTreeMap<EntityKey, BTreeSet<EntityKey>> = BTreeMap::new();
    for d in directions {
        deps.entry(d.from).or_default();
        if !flows.contains(&d.flow) {
            continue;
        }
        let Some(flow) = registry.flows().nth(d.flow) else {
            continue;
        };
        for p in flow.info().properties {
            let reference = if d.reversed {
                p.target_reference
            } else {
                p.source_reference
            };
            if let Some(r) = reference
                && r != d.from
            {
                deps.entry(d.from).or_default().insert(r);
            }
        }
    }
    let mut order = Vec::with_capacity(deps.len());
    let mut done: BTreeSet<EntityKey> = BTreeSet::new();
    while done.len() < deps.len() {
        let ready = deps
            .iter()
            .find(|(e, ds)| {
                !done.contains(*e) && ds.iter().all(|d| done.contains(d) || !deps.contains_key(d))
            })
            .or_else(|| deps.iter().find(|(e, _)| !done.contains(*e)))
            .map(|(e, _)| *e);
        let Some(next) = ready else { break };
        done.insert(next);
        order.push(next);
    }
    order
}
