//! Sync results compared modulo the ids of the records a sync created.
//!
//! Two syncs of the same data with different concurrency create the same records in another
//! order, so the systems give them other ids. A created record is named instead by the record
//! it is linked to (`pair:<name of the other side>`, the smallest such name when it has
//! several links), starting from the records that existed before (named by their ids), and
//! every reference property the documents declare is rewritten to the name of the record it
//! points at. Two results are the same when every entity holds the same named records with the
//! same documented values and the same links join the same names.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use flowgen_runtime::connector::Connector;
use flowgen_runtime::flow::{EntityKey, RecordId, Registry};
use flowgen_runtime::json_path;
use flowgen_runtime::state::Link;
use serde_json::{Value, json};

/// `(system, entity)`.
pub type Entity = (String, String);
/// Every record of every entity, by id.
pub type Records = BTreeMap<Entity, Vec<(RecordId, Value)>>;

/// A sync result with the created ids replaced by names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canonical {
    /// Per entity, its records as canonical JSON text, sorted.
    pub records: BTreeMap<Entity, Vec<String>>,
    /// `(pair, name of side A, name of side B)`.
    pub links: BTreeSet<(String, String, String)>,
    /// Created records that no link names: a create whose link was lost.
    pub unlinked: Vec<String>,
}

fn entity(key: EntityKey) -> Entity {
    (key.system.to_string(), key.entity.to_string())
}

/// The entities of a pair key `System/Entity|System/Entity`.
fn pair_entities(pair: &str) -> Option<(Entity, Entity)> {
    let (a, b) = pair.split_once('|')?;
    let (sa, ea) = a.split_once('/')?;
    let (sb, eb) = b.split_once('/')?;
    Some(((sa.into(), ea.into()), (sb.into(), eb.into())))
}

/// Every record of each of `entities`, read through `connectors` (changes from the start).
pub async fn read_all(
    connectors: &HashMap<String, std::sync::Arc<dyn Connector>>,
    entities: &[EntityKey],
) -> Records {
    let mut out = Records::new();
    for e in entities {
        let Some(connector) = connectors.get(e.system) else {
            continue;
        };
        let mut cursor: Option<String> = None;
        let mut records = Vec::new();
        loop {
            let page = connector
                .changes(e.entity, cursor.as_deref(), 100)
                .await
                .unwrap_or_else(|err| panic!("reading {e}: {err}"));
            records.extend(page.records.into_iter().map(|r| (r.id, r.data)));
            if page.cursor.is_some() {
                cursor = page.cursor;
            }
            if !page.more {
                break;
            }
        }
        // A record changed while being read shows up twice: keep its last version.
        let mut by_id: BTreeMap<RecordId, Value> = BTreeMap::new();
        for (id, data) in records {
            by_id.insert(id, data);
        }
        out.insert(entity(*e), by_id.into_iter().collect());
    }
    out
}

/// The documented entities of `registry`.
pub fn entities(registry: &Registry) -> Vec<EntityKey> {
    let mut all: Vec<EntityKey> = registry
        .flows()
        .flat_map(|f| [f.info().source, f.info().target])
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The ids of `records`, as the baseline of what existed before a sync.
pub fn ids(records: &Records) -> HashSet<(Entity, RecordId)> {
    records
        .iter()
        .flat_map(|(e, rs)| rs.iter().map(move |(id, _)| (e.clone(), id.clone())))
        .collect()
}

/// `records` and `links` after a sync, canonical; `before` holds the ids that existed before.
pub fn canonical(
    registry: &Registry,
    records: &Records,
    before: &HashSet<(Entity, RecordId)>,
    links: &[Link],
) -> Canonical {
    // The documented properties of each entity, and which of them are references.
    let mut paths: HashMap<Entity, BTreeSet<&'static str>> = HashMap::new();
    let mut references: HashMap<(Entity, &'static str), Entity> = HashMap::new();
    for flow in registry.flows() {
        let info = flow.info();
        for p in info.properties {
            for (side, path, reference) in [
                (info.source, p.source, p.source_reference),
                (info.target, p.target, p.target_reference),
            ] {
                if path.is_empty() || path == "N/A" {
                    continue;
                }
                paths.entry(entity(side)).or_default().insert(path);
                if let Some(r) = reference {
                    references.insert((entity(side), path), entity(r));
                }
            }
        }
    }

    let mut names: HashMap<(Entity, RecordId), String> = HashMap::new();
    for (e, rs) in records {
        for (id, _) in rs {
            if before.contains(&(e.clone(), id.clone())) {
                names.insert((e.clone(), id.clone()), format!("{}/{}/{}", e.0, e.1, id));
            }
        }
    }
    let sides: Vec<(String, Entity, RecordId, Entity, RecordId)> = links
        .iter()
        .filter_map(|l| {
            let (a, b) = pair_entities(&l.pair)?;
            Some((l.pair.clone(), a, l.a_id.clone(), b, l.b_id.clone()))
        })
        .collect();
    // A name per round from the names of the previous rounds, until nothing new is named.
    loop {
        let mut found: HashMap<(Entity, RecordId), String> = HashMap::new();
        for (pair, a, a_id, b, b_id) in &sides {
            for (this, this_id, other, other_id) in [(a, a_id, b, b_id), (b, b_id, a, a_id)] {
                let key = (this.clone(), this_id.clone());
                if names.contains_key(&key) {
                    continue;
                }
                if let Some(other_name) = names.get(&(other.clone(), other_id.clone())) {
                    let candidate = format!("{pair}:{other_name}");
                    let slot = found.entry(key).or_insert_with(|| candidate.clone());
                    if candidate < *slot {
                        *slot = candidate;
                    }
                }
            }
        }
        if found.is_empty() {
            break;
        }
        names.extend(found);
    }

    let name_of = |e: &Entity, value: &Value| -> Value {
        match RecordId::from_json(value) {
            Some(id) => match names.get(&(e.clone(), id.clone())) {
                Some(name) => Value::from(name.as_str()),
                None => Value::from(format!("unknown {}/{} {id}", e.0, e.1)),
            },
            None => value.clone(),
        }
    };
    let mut out = Canonical {
        records: BTreeMap::new(),
        links: BTreeSet::new(),
        unlinked: Vec::new(),
    };
    for (e, rs) in records {
        let mut texts = Vec::with_capacity(rs.len());
        for (id, data) in rs {
            let name = match names.get(&(e.clone(), id.clone())) {
                Some(name) => name.clone(),
                None => {
                    out.unlinked.push(format!("{}/{} {id}: {data}", e.0, e.1));
                    "unlinked".to_string()
                }
            };
            let mut values = serde_json::Map::new();
            for path in paths.get(e).into_iter().flatten() {
                let value = json_path::lookup(data, path);
                let value = match references.get(&(e.clone(), *path)) {
                    Some(target) => match &value {
                        Value::Array(items) => {
                            Value::Array(items.iter().map(|v| name_of(target, v)).collect())
                        }
                        v => name_of(target, v),
                    },
                    None => value,
                };
                values.insert((*path).to_string(), masked_reference(value));
            }
            texts.push(json!({"name": name, "values": values}).to_string());
        }
        texts.sort();
        out.records.insert(e.clone(), texts);
    }
    for (pair, a, a_id, b, b_id) in &sides {
        let name = |e: &Entity, id: &RecordId| {
            names
                .get(&(e.clone(), id.clone()))
                .cloned()
                .unwrap_or_else(|| format!("unknown {}/{} {id}", e.0, e.1))
        };
        out.links
            .insert((pair.clone(), name(a, a_id), name(b, b_id)));
    }
    out
}

/// The differences between two canonical results, for an assertion message.
pub fn differences(expected: &Canonical, actual: &Canonical) -> String {
    let mut out = String::new();
    for (e, want) in &expected.records {
        let got = actual.records.get(e).cloned().unwrap_or_default();
        if *want != got {
            let missing: Vec<&String> = want.iter().filter(|r| !got.contains(r)).collect();
            let extra: Vec<&String> = got.iter().filter(|r| !want.contains(r)).collect();
            out.push_str(&format!(
                "{}/{}: {} records expected, {} found\n  missing: {missing:?}\n  extra: {extra:?}\n",
                e.0,
                e.1,
                want.len(),
                got.len()
            ));
        }
    }
    let missing: Vec<_> = expected.links.difference(&actual.links).collect();
    let extra: Vec<_> = actual.links.difference(&expected.links).collect();
    if !missing.is_empty() || !extra.is_empty() {
        out.push_str(&format!("links: missing {missing:?}\n  extra {extra:?}\n"));
    }
    if expected.unlinked != actual.unlinked {
        out.push_str(&format!(
            "unlinked created records: expected {:?}, found {:?}\n",
            expected.unlinked, actual.unlinked
        ));
    }
    out
}

/// A value filled by a `defaults:` template ends in `{$ref}`: 8 upper-case hex digits of the
/// create's idempotency key, which is random per create. Two runs that create the same records
/// give them different references, so the comparison sees the template's placeholder instead.
fn masked_reference(value: Value) -> Value {
    if let Value::String(text) = &value
        && let Some((head, tail)) = text.rsplit_once(' ')
        && tail.len() == 8
        && tail
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    {
        return Value::String(format!("{head} {{$ref}}"));
    }
    value
}
