//! The contract between generated code and the engine: typed records, typed ids and
//! references, and the [`Flow`] trait every generated flow implements.
//!
//! Generated code is typed (`Ref<powerofficego::Customers>` cannot be assigned from a
//! `Ref<chargebee::Customer>` without a link translation); the engine drives flows through
//! the object-safe [`DynFlow`], which every [`Flow`] gets for free and which speaks JSON.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An entity of a system, as the documents name them (`Powerofficego`, `Customers person`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EntityKey {
    pub system: &'static str,
    pub entity: &'static str,
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.system, self.entity)
    }
}

/// A record id as the system gives it: PowerOffice Go and WebCRM use integers, Chargebee
/// strings, sales orders GUIDs. Kept in its JSON form so it is written back unchanged.
///
/// Deserializes from an integer that fits an `i64` or a string (what `#[serde(untagged)]`
/// accepted, without buffering the value and trying each variant in turn).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum RecordId {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = RecordId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record id (an integer or a string)")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RecordId, E> {
                Ok(RecordId::Int(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RecordId, E> {
                i64::try_from(v)
                    .map(RecordId::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RecordId, E> {
                Ok(RecordId::Text(v.to_string()))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<RecordId, E> {
                Ok(RecordId::Text(v))
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

impl RecordId {
    /// The id as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            RecordId::Int(i) => Value::from(*i),
            RecordId::Text(s) => Value::from(s.as_str()),
        }
    }

    /// An id from a JSON scalar (numbers that are not integers and other values are not ids).
    pub fn from_json(value: &Value) -> Option<RecordId> {
        match value {
            Value::Number(n) => n.as_i64().map(RecordId::Int),
            Value::String(s) if !s.is_empty() => Some(RecordId::Text(s.clone())),
            _ => None,
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordId::Int(i) => write!(f, "{i}"),
            RecordId::Text(s) => f.write_str(s),
        }
    }
}

impl From<i64> for RecordId {
    fn from(i: i64) -> Self {
        RecordId::Int(i)
    }
}

impl From<&str> for RecordId {
    fn from(s: &str) -> Self {
        RecordId::Text(s.to_string())
    }
}

impl From<String> for RecordId {
    fn from(s: String) -> Self {
        RecordId::Text(s)
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<E> {
            id: RecordId,
            entity: PhantomData<fn() -> E>,
        }

        impl<E> $name<E> {
            pub fn new(id: impl Into<RecordId>) -> Self {
                $name { id: id.into(), entity: PhantomData }
            }

            pub fn id(&self) -> &RecordId {
                &self.id
            }

            pub fn into_id(self) -> RecordId {
                self.id
            }
        }

        // Manual impls: the derives would demand `E: Clone` etc. of the phantom entity.
        impl<E> Clone for $name<E> {
            fn clone(&self) -> Self {
                $name::new(self.id.clone())
            }
        }

        impl<E> PartialEq for $name<E> {
            fn eq(&self, other: &Self) -> bool {
                self.id == other.id
            }
        }

        impl<E> Eq for $name<E> {}

        impl<E> Hash for $name<E> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.id.hash(state)
            }
        }

        impl<E> fmt::Debug for $name<E> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.id)
            }
        }

        impl<E> fmt::Display for $name<E> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.id, f)
            }
        }

        impl<E> Serialize for $name<E> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.id.serialize(serializer)
            }
        }

        impl<'de, E> Deserialize<'de> for $name<E> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                RecordId::deserialize(deserializer).map($name::new)
            }
        }
    };
}

typed_id!(
    /// The id of a record of entity `E`.
    Id
);
typed_id!(
    /// A reference to a record of entity `E` (a foreign key). A `Ref` of one system's
    /// entity becomes a `Ref` of another's only through a link ([`Links`]).
    Ref
);

/// A generated record struct: one entity of one system.
pub trait Record:
    Serialize + DeserializeOwned + Clone + Default + PartialEq + fmt::Debug + Send + Sync + 'static
{
    const KEY: EntityKey;
}

/// When a flow may create a target record (see `DESIGN.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatePolicy {
    Always,
    WhenConnected,
    Never,
}

/// Which side wins when both sides of a link changed since the last sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefer {
    Source,
    Target,
    #[default]
    Newest,
}

/// One mapped property of a flow, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PropertyInfo {
    /// Source property (dotted path for nested values).
    pub source: &'static str,
    /// Target property (dotted path for nested values).
    pub target: &'static str,
    /// The target data type as documented (`"string"`), `None` for `N/A`.
    pub ty: Option<&'static str>,
    /// The entity the source property refers to, when it is a reference.
    pub source_reference: Option<EntityKey>,
    /// The entity the target property refers to, when it is a reference.
    pub target_reference: Option<EntityKey>,
    /// `file:line` of the row.
    pub location: &'static str,
}

/// One match rule alternative: link records whose properties are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MatchInfo {
    pub source: &'static str,
    pub target: &'static str,
}

/// Everything the documents say about one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FlowInfo {
    /// A stable name (`Chargebee Customer -> Powerofficego Contactperson`).
    pub name: &'static str,
    pub source: EntityKey,
    pub target: EntityKey,
    pub create: CreatePolicy,
    /// Source-system entities whose synchronization creates this flow's target records.
    pub connected_via: &'static [EntityKey],
    /// The verbatim condition of a `When …` rule.
    pub condition: Option<&'static str>,
    /// Match first, then create.
    pub merge: bool,
    pub match_rules: &'static [MatchInfo],
    pub properties: &'static [PropertyInfo],
    /// `file:line` of the flow's heading.
    pub location: &'static str,
}

/// Link lookups available while mapping: the engine resolves them before it maps.
pub trait Links {
    /// The id of the `to` record linked to record `id` of `from`, if a link exists.
    fn linked(&self, from: EntityKey, id: &RecordId, to: EntityKey) -> Option<RecordId>;
}

/// Links that never resolve (for flows without references, and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLinks;

impl Links for NoLinks {
    fn linked(&self, _: EntityKey, _: &RecordId, _: EntityKey) -> Option<RecordId> {
        None
    }
}

/// A reference a record needs translated before it can be mapped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The mapped property holding the reference.
    pub property: &'static str,
    /// The referenced entity on the record's own side, and the id found there.
    pub from: EntityKey,
    pub id: RecordId,
    /// The entity on the other side whose id must be written.
    pub to: EntityKey,
}

/// Why a record could not be mapped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapError {
    /// A reference has no link yet: defer the record until the referenced one syncs.
    #[error("{property}: {from} {id} is not linked to a {to} yet")]
    Unlinked {
        property: &'static str,
        from: EntityKey,
        id: RecordId,
        to: EntityKey,
    },
    /// The value cannot be converted to the documented type: a permanent failure.
    #[error("{property}: {message}")]
    Conversion {
        property: &'static str,
        message: String,
    },
    /// The record is not a valid record of its entity.
    #[error("invalid {entity} record: {message}")]
    Invalid { entity: EntityKey, message: String },
}

/// A generated flow: the typed mapping both ways between two entities.
pub trait Flow: Send + Sync + 'static {
    type Source: Record;
    type Target: Record;

    fn info(&self) -> &'static FlowInfo;

    /// Maps a source record to the target's mapped properties (the rest stay `None`).
    fn forward(&self, source: &Self::Source, links: &dyn Links) -> Result<Self::Target, MapError>;

    /// Maps a target record back to the source's mapped properties.
    fn inverse(&self, target: &Self::Target, links: &dyn Links) -> Result<Self::Source, MapError>;

    /// The references `forward` will translate.
    fn references(&self, source: &Self::Source) -> Vec<Reference>;

    /// The references `inverse` will translate.
    fn inverse_references(&self, target: &Self::Target) -> Vec<Reference>;

    /// Whether the flow applies to this source record (its documented condition).
    fn applies(&self, _source: &Self::Source) -> bool {
        true
    }

    /// Whether `references` or `inverse_references` can return anything (`false` lets the
    /// engine skip them; [`no_references!`](crate::no_references) says so).
    fn has_references(&self) -> bool {
        true
    }
}

/// A flow the engine can drive without knowing its types: JSON in, JSON out.
pub trait DynFlow: Send + Sync {
    fn info(&self) -> &'static FlowInfo;
    fn forward_json(&self, source: &Value, links: &dyn Links) -> Result<Value, MapError>;
    fn inverse_json(&self, target: &Value, links: &dyn Links) -> Result<Value, MapError>;
    fn references_json(&self, source: &Value) -> Result<Vec<Reference>, MapError>;
    fn inverse_references_json(&self, target: &Value) -> Result<Vec<Reference>, MapError>;
    fn applies_json(&self, source: &Value) -> Result<bool, MapError>;
    /// Whether the flow has references to translate (see [`Flow::has_references`]).
    fn has_references(&self) -> bool;
}

fn decode<R: Record>(value: &Value) -> Result<R, MapError> {
    R::deserialize(value).map_err(|e| MapError::Invalid {
        entity: R::KEY,
        message: e.to_string(),
    })
}

fn encode<R: Record>(record: &R) -> Result<Value, MapError> {
    serde_json::to_value(record).map_err(|e| MapError::Invalid {
        entity: R::KEY,
        message: e.to_string(),
    })
}

impl<F: Flow> DynFlow for F {
    fn info(&self) -> &'static FlowInfo {
        Flow::info(self)
    }

    fn forward_json(&self, source: &Value, links: &dyn Links) -> Result<Value, MapError> {
        encode(&self.forward(&decode(source)?, links)?)
    }

    fn inverse_json(&self, target: &Value, links: &dyn Links) -> Result<Value, MapError> {
        encode(&self.inverse(&decode(target)?, links)?)
    }

    fn references_json(&self, source: &Value) -> Result<Vec<Reference>, MapError> {
        Ok(self.references(&decode(source)?))
    }

    fn inverse_references_json(&self, target: &Value) -> Result<Vec<Reference>, MapError> {
        Ok(self.inverse_references(&decode(target)?))
    }

    fn applies_json(&self, source: &Value) -> Result<bool, MapError> {
        Ok(self.applies(&decode(source)?))
    }

    fn has_references(&self) -> bool {
        Flow::has_references(self)
    }
}

/// Every flow of a generated crate.
#[derive(Default)]
pub struct Registry {
    flows: Vec<Box<dyn DynFlow>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.flows.iter().map(|flow| flow.info().name))
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    pub fn register(&mut self, flow: impl DynFlow + 'static) -> &mut Self {
        self.flows.push(Box::new(flow));
        self
    }

    pub fn flows(&self) -> impl Iterator<Item = &dyn DynFlow> {
        self.flows.iter().map(|f| f.as_ref())
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// The flow with this [`FlowInfo::name`].
    pub fn get(&self, name: &str) -> Option<&dyn DynFlow> {
        self.flows().find(|f| f.info().name == name)
    }

    /// The flows whose source is `entity`.
    pub fn from_entity(&self, entity: EntityKey) -> impl Iterator<Item = &dyn DynFlow> {
        self.flows().filter(move |f| f.info().source == entity)
    }

    /// Every entity that is the source or target of a flow, sorted.
    pub fn entities(&self) -> Vec<EntityKey> {
        let mut all: Vec<EntityKey> = self
            .flows()
            .flat_map(|f| [f.info().source, f.info().target])
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn record_ids_deserialize_from_integers_and_strings_only() {
        let id = |v: Value| serde_json::from_value::<RecordId>(v).ok();
        assert_eq!(id(json!(12)), Some(RecordId::Int(12)));
        assert_eq!(id(json!(-3)), Some(RecordId::Int(-3)));
        assert_eq!(id(json!("cb_1")), Some(RecordId::from("cb_1")));
        assert_eq!(id(json!("12")), Some(RecordId::from("12")));
        assert_eq!(id(json!(u64::MAX)), None);
        assert_eq!(id(json!(1.5)), None);
        assert_eq!(id(json!(null)), None);
        assert_eq!(id(json!([1])), None);
        let from_text: Id<()> = serde_json::from_str(r#""a\"b""#).expect("id");
        assert_eq!(from_text.id(), &RecordId::from("a\"b"));
        let text = serde_json::to_string(&RecordId::Int(7)).expect("json");
        assert_eq!(text, "7");
    }
}
