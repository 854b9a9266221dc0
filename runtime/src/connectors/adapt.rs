//! What every HTTP connector gets on top of its API, in one wrapper ([`Adapted`]):
//!
//! - **Defaults**: required fields the documents do not map are filled in on create
//!   ([`super::defaults`]).
//! - **Lost create answers**: PowerOffice Go, WebCRM and generic REST APIs take no
//!   idempotency key, so a create whose answer is lost (a dropped connection, a timeout, a
//!   cut body) may or may not have been made. Where an entity has a *marker field* (a
//!   field the API keeps and nobody else writes, such as PowerOffice Go's
//!   `ExternalImportReference`), every create stamps it with a value derived from the
//!   engine's idempotency key and first looks that value up: a replay of the create (the
//!   engine's retry, or its reconciliation of an intent after a crash) finds the record
//!   instead of making a second one. Without a marker field, a create whose answer was
//!   lost is looked up by its values (a search on one of them, then every value compared),
//!   at once and again before the create is sent once more. The engine's reconciliation of
//!   intents after a crash does the same match lookup for connectors without idempotent
//!   creates.
//! - **Types**: records are handed out in the documents' types ([`super::coerce`]).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::coerce::{self, DocumentTypes, EntityTypes};
use super::defaults::Defaults;
use crate::connector::{Connector, ConnectorError, Page, RemoteRecord};
use crate::flow::RecordId;

/// Creates whose outcome is unknown that are remembered at most (oldest forgotten first).
const UNCERTAIN_KEPT: usize = 100_000;

/// The marker stamped into a created record for idempotency key `key`: `flowgen-` and 20
/// hex digits of its SHA-256 (28 characters, within the APIs' reference field lengths).
pub fn marker(key: &str) -> String {
    format!("flowgen-{}", &hex_digest(key)[..20])
}

/// What `{$ref}` stands for in defaults: 8 hex digits of the key's digest, upper case.
pub fn reference(key: &str) -> String {
    hex_digest(key)[..8].to_ascii_uppercase()
}

fn hex_digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How creates of a system are completed and recovered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreateOptions {
    pub defaults: Defaults,
    /// Per entity (lower case), the marker field.
    pub markers: BTreeMap<String, String>,
}

impl CreateOptions {
    fn marker_field(&self, entity: &str) -> Option<&str> {
        self.markers.get(&entity.to_lowercase()).map(String::as_str)
    }

    /// Whether every one of `entities` has a marker field.
    pub fn marks_all(&self, entities: &[String]) -> bool {
        entities.iter().all(|e| self.marker_field(e).is_some())
    }
}

/// Idempotency keys of creates whose answer was lost and not found again.
#[derive(Debug, Default)]
struct Uncertain {
    keys: HashSet<String>,
    order: VecDeque<String>,
}

impl Uncertain {
    fn insert(&mut self, key: &str) {
        if self.keys.insert(key.to_string()) {
            self.order.push_back(key.to_string());
            while self.order.len() > UNCERTAIN_KEPT {
                if let Some(old) = self.order.pop_front() {
                    self.keys.remove(&old);
                }
            }
        }
    }

    fn remove(&mut self, key: &str) {
        if self.keys.remove(key) {
            self.order.retain(|k| k != key);
        }
    }
}

/// A connector with defaults, lost-answer recovery and the documents' types.
#[derive(Debug)]
pub struct Adapted {
    inner: Arc<dyn Connector>,
    create: CreateOptions,
    /// Every entity of the connector has a marker field: a create replayed with its
    /// idempotency key finds the record it made, as an API with idempotency keys would.
    replay_safe: bool,
    /// Per entity (lower case).
    types: BTreeMap<String, EntityTypes>,
    uncertain: Mutex<Uncertain>,
    /// Records this connector's creates made or found (a value match must not take one of
    /// them for another create).
    claimed: Mutex<HashSet<(String, RecordId)>>,
}

impl Adapted {
    /// `entities`: every entity the inner connector serves.
    pub fn new(
        inner: Arc<dyn Connector>,
        create: CreateOptions,
        types: &DocumentTypes,
        entities: &[String],
    ) -> Self {
        Adapted {
            replay_safe: create.marks_all(entities),
            inner,
            create,
            types: types
                .iter()
                .filter(|(_, t)| !t.is_empty())
                .map(|(entity, t)| (entity.to_lowercase(), t.clone()))
                .collect(),
            uncertain: Mutex::new(Uncertain::default()),
            claimed: Mutex::new(HashSet::new()),
        }
    }

    fn claim(&self, entity: &str, id: &RecordId) {
        let mut claimed = self.claimed.lock().unwrap_or_else(|e| e.into_inner());
        if claimed.len() >= UNCERTAIN_KEPT {
            claimed.clear();
        }
        claimed.insert((entity.to_lowercase(), id.clone()));
    }

    fn is_claimed(&self, entity: &str, id: &RecordId) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&(entity.to_lowercase(), id.clone()))
    }

    /// The wrapped connector.
    pub fn inner(&self) -> &Arc<dyn Connector> {
        &self.inner
    }

    fn adapt(&self, entity: &str, mut record: RemoteRecord) -> RemoteRecord {
        coerce::normalize_numbers(&mut record.data);
        if let Some(types) = self.types.get(&entity.to_lowercase()) {
            types.apply(&mut record.data);
        }
        record
    }

    fn is_uncertain(&self, key: &str) -> bool {
        self.uncertain
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys
            .contains(key)
    }

    fn set_uncertain(&self, key: &str, uncertain: bool) {
        let mut set = self.uncertain.lock().unwrap_or_else(|e| e.into_inner());
        if uncertain {
            set.insert(key);
        } else {
            set.remove(key);
        }
    }

    /// The record stamped with `marker` in `field`, if there is one.
    async fn find_marked(
        &self,
        entity: &str,
        field: &str,
        marker: &str,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let wanted = Value::String(marker.to_string());
        let found = self.inner.search(entity, field, &wanted).await?;
        Ok(found
            .into_iter()
            .find(|r| lookup_ci(&r.data, field).as_str() == Some(marker)))
    }

    /// A record holding every value of `payload`, found by a search on one of them.
    async fn find_equal(
        &self,
        entity: &str,
        payload: &Value,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let Some((property, value)) = search_key(payload) else {
            return Ok(None);
        };
        let found = self.inner.search(entity, property, value).await?;
        // Of equal records, the newest not already taken by another create of this
        // process: the one a lost answer left is the latest made.
        Ok(found
            .into_iter()
            .filter(|r| contains(&r.data, payload) && !self.is_claimed(entity, &r.id))
            .max_by_key(|r| r.updated_at))
    }

    /// After a create failed in a way that leaves open whether it was made: the record,
    /// if it was.
    async fn recover(
        &self,
        entity: &str,
        payload: &Value,
        marker: Option<(&str, &str)>,
    ) -> Option<RemoteRecord> {
        let found = match marker {
            Some((field, value)) => self.find_marked(entity, field, value).await,
            None => self.find_equal(entity, payload).await,
        };
        match found {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!(system = %self.inner.system(), entity, error = %e, "looking for a create whose answer was lost failed");
                None
            }
        }
    }
}

/// The member at dotted `path`, names compared case-insensitively (exact first).
fn lookup_ci(value: &Value, path: &str) -> Value {
    let mut current = value;
    for step in path.split('.') {
        let Some(map) = current.as_object() else {
            return Value::Null;
        };
        match map.get(step).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(step))
                .map(|(_, v)| v)
        }) {
            Some(inner) => current = inner,
            None => return Value::Null,
        }
    }
    current.clone()
}

/// The property to search a payload's record by: the first non-empty text, else the first
/// other scalar.
fn search_key(payload: &Value) -> Option<(&str, &Value)> {
    let map = payload.as_object()?;
    let scalar = |v: &Value| !v.is_object() && !v.is_array() && !crate::json_path::is_empty(v);
    map.iter()
        .find(|(_, v)| v.is_string() && scalar(v))
        .or_else(|| map.iter().find(|(_, v)| scalar(v)))
        .map(|(k, v)| (k.as_str(), v))
}

/// Whether `record` holds every non-null value of `payload`: names compared
/// case-insensitively, text trimmed, numbers by value whether sent as number or text.
pub fn contains(record: &Value, payload: &Value) -> bool {
    match (record, payload) {
        (_, Value::Null) => true,
        (Value::Object(have), Value::Object(want)) => want.iter().all(|(k, v)| {
            let found = have.get(k).or_else(|| {
                have.iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            });
            match found {
                Some(h) => contains(h, v),
                None => v.is_null(),
            }
        }),
        (Value::Array(have), Value::Array(want)) => {
            have.len() == want.len() && have.iter().zip(want).all(|(h, w)| contains(h, w))
        }
        (Value::String(h), Value::String(w)) => h.trim() == w.trim(),
        (h, w) => match (number_of(h), number_of(w)) {
            (Some(a), Some(b)) => a == b,
            _ => h == w,
        },
    }
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => coerce::parse_number(s).and_then(|n| n.as_f64()),
        _ => None,
    }
}

/// `payload` with `field` set to `value` unless it has a value there.
fn stamped(payload: &Value, field: &str, value: &str) -> Value {
    let mut out = payload.clone();
    if crate::json_path::is_empty(&lookup_ci(&out, field))
        && let Value::Object(map) = &mut out
    {
        let key = map
            .keys()
            .find(|k| k.eq_ignore_ascii_case(field))
            .cloned()
            .unwrap_or_else(|| field.to_string());
        map.insert(key, Value::String(value.to_string()));
    }
    out
}

#[async_trait]
impl Connector for Adapted {
    fn system(&self) -> &str {
        self.inner.system()
    }

    fn idempotent_create(&self) -> bool {
        self.inner.idempotent_create() || self.replay_safe
    }

    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let mut page = self.inner.changes(entity, cursor, limit).await?;
        page.records = std::mem::take(&mut page.records)
            .into_iter()
            .map(|r| self.adapt(entity, r))
            .collect();
        Ok(page)
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        Ok(self
            .inner
            .get(entity, id)
            .await?
            .map(|r| self.adapt(entity, r)))
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let reference = idempotency_key.map(reference);
        let mut payload = self
            .create
            .defaults
            .apply(entity, data, reference.as_deref());
        // Markers stand in for the idempotency keys an API does not take.
        let idempotent = self.inner.idempotent_create();
        let stamp = match (idempotency_key, self.create.marker_field(entity)) {
            (Some(key), Some(field)) if !idempotent => Some((field, marker(key))),
            _ => None,
        };
        let marker = stamp.as_ref().map(|(f, v)| (*f, v.as_str()));
        if let Some((field, value)) = marker {
            // Every create may be a replay of one whose answer was lost before a crash.
            if let Some(found) = self.find_marked(entity, field, value).await? {
                tracing::debug!(system = %self.inner.system(), entity, "create already made (found by its marker)");
                self.claim(entity, &found.id);
                return Ok(self.adapt(entity, found));
            }
            payload = stamped(&payload, field, value);
        } else if let Some(key) = idempotency_key
            && !idempotent
            && self.is_uncertain(key)
            && let Some(found) = self.find_equal(entity, &payload).await?
        {
            tracing::debug!(system = %self.inner.system(), entity, "create already made (found by its values)");
            self.set_uncertain(key, false);
            self.claim(entity, &found.id);
            return Ok(self.adapt(entity, found));
        }
        match self.inner.create(entity, &payload, idempotency_key).await {
            Ok(record) => {
                if let Some(key) = idempotency_key {
                    self.set_uncertain(key, false);
                }
                self.claim(entity, &record.id);
                Ok(self.adapt(entity, record))
            }
            Err(error) if error.is_transient() && !idempotent => {
                if let Some(found) = self.recover(entity, &payload, marker).await {
                    tracing::debug!(system = %self.inner.system(), entity, error = %error, "the create was made; its answer was lost");
                    if let Some(key) = idempotency_key {
                        self.set_uncertain(key, false);
                    }
                    self.claim(entity, &found.id);
                    return Ok(self.adapt(entity, found));
                }
                if let Some(key) = idempotency_key {
                    self.set_uncertain(key, true);
                }
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let record = self.inner.update(entity, id, data).await?;
        Ok(self.adapt(entity, record))
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        Ok(self
            .inner
            .search(entity, property, value)
            .await?
            .into_iter()
            .map(|r| self.adapt(entity, r))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_and_references_are_stable_and_short() {
        let m = marker("key-1");
        assert_eq!(m, marker("key-1"));
        assert_ne!(m, marker("key-2"));
        assert_eq!(m.len(), 28);
        assert!(m.starts_with("flowgen-"));
        let r = reference("key-1");
        assert_eq!(r.len(), 8);
        assert!(
            r.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        );
    }

    #[test]
    fn contains_compares_leniently() {
        let record = json!({"Id": 7, "FirstName": "Ada ", "Quantity": 3, "Mail": {"City": "Oslo", "Zip": "0150"}});
        assert!(contains(
            &record,
            &json!({"firstName": "Ada", "quantity": "3.0", "Mail": {"city": "Oslo"}})
        ));
        assert!(contains(&record, &json!({"Missing": null})));
        assert!(!contains(&record, &json!({"FirstName": "ada"})));
        assert!(!contains(&record, &json!({"Quantity": 4})));
        assert!(!contains(&record, &json!({"Other": "x"})));
        assert!(contains(
            &json!({"L": [{"a": 1}]}),
            &json!({"L": [{"a": 1.0}]})
        ));
        assert!(!contains(&json!({"L": [{"a": 1}]}), &json!({"L": []})));
    }

    #[test]
    fn search_prefers_text_and_stamps_fill_only_empty_fields() {
        let payload = json!({"Count": 2, "Empty": "", "Name": "Ada"});
        assert_eq!(search_key(&payload), Some(("Name", &json!("Ada"))));
        assert_eq!(search_key(&json!({"Count": 2})), Some(("Count", &json!(2))));
        assert_eq!(search_key(&json!({"Nested": {"a": 1}})), None);
        assert_eq!(
            stamped(&json!({"a": 1}), "ExternalImportReference", "m"),
            json!({"a": 1, "ExternalImportReference": "m"})
        );
        assert_eq!(
            stamped(
                &json!({"externalImportReference": "given"}),
                "ExternalImportReference",
                "m"
            ),
            json!({"externalImportReference": "given"})
        );
    }
}
