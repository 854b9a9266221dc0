//! An in-process system for tests, benchmarks and `kind: memory-file` configurations.
//!
//! Records get ids (integers like PowerOffice Go's, or prefixed strings like Chargebee's),
//! a strictly increasing `updated_at`, and a change sequence number that serves as the
//! cursor. Faults can be injected per operation, entity and record: permanent or transient
//! errors, and a crash right after a create has been performed. Creates honour an
//! idempotency key the way Chargebee's `chargebee-idempotency-key` does. Write counters let
//! tests assert that a run wrote nothing.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::connector::{Connector, ConnectorError, ErrorKind, Operation, Page, RemoteRecord};
use crate::flow::RecordId;
use crate::json_path;

/// How a memory system numbers new records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// 1, 2, 3, … (PowerOffice Go, WebCRM).
    Int,
    /// `<prefix>1`, `<prefix>2`, … (Chargebee).
    Text { prefix: String },
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// A 4xx-like failure with this message.
    Permanent(String),
    /// A 429/5xx-like failure, optionally with a retry-after hint.
    Transient { retry_after: Option<Duration> },
    /// Performs the create, then fails with [`ErrorKind::Aborted`] as if the process died
    /// before it saw the answer.
    CrashAfterCreate,
}

/// A fault on matching operations. `times: None` fires forever (until cleared).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub operation: Operation,
    pub entity: Option<String>,
    /// For get/update: the record id. Creates match on `field` instead.
    pub record: Option<RecordId>,
    /// For creates and updates: a property of the payload that must equal the value.
    pub field: Option<(String, Value)>,
    pub kind: FaultKind,
    pub times: Option<u32>,
}

impl Fault {
    /// A fault on every `operation` of `entity`.
    pub fn new(operation: Operation, entity: &str, kind: FaultKind) -> Self {
        Fault {
            operation,
            entity: Some(entity.to_string()),
            record: None,
            field: None,
            kind,
            times: None,
        }
    }

    pub fn on_record(mut self, id: impl Into<RecordId>) -> Self {
        self.record = Some(id.into());
        self
    }

    pub fn when_field(mut self, path: &str, value: Value) -> Self {
        self.field = Some((path.to_string(), value));
        self
    }

    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// Writes a memory system has received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub creates: u64,
    pub updates: u64,
}

impl WriteCounts {
    pub fn total(&self) -> u64 {
        self.creates + self.updates
    }
}

/// A record version. Its data is kept packed ([`packed`]): one allocation per record
/// instead of a tree of them, so that a large system stays compact and reading a page of
/// changes reads contiguous memory.
#[derive(Debug, Clone)]
struct Row {
    id: RecordId,
    updated_at: DateTime<Utc>,
    seq: u64,
    data: Box<[u8]>,
}

impl Row {
    fn data(&self) -> Value {
        packed::decode(&self.data)
    }

    fn remote(&self) -> RemoteRecord {
        RemoteRecord {
            id: self.id.clone(),
            updated_at: self.updated_at,
            data: self.data(),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct Table {
    rows: HashMap<RecordId, Row>,
    by_seq: BTreeMap<u64, RecordId>,
}

#[derive(Debug)]
struct State {
    tables: BTreeMap<String, Table>,
    next_id: i64,
    seq: u64,
    last_time: DateTime<Utc>,
    idempotency: HashMap<String, (String, RecordId)>,
    faults: Vec<Fault>,
    counts: WriteCounts,
}

/// An in-process system.
#[derive(Debug)]
pub struct MemoryConnector {
    system: String,
    ids: IdKind,
    idempotent: bool,
    discard: bool,
    state: Mutex<State>,
}

/// The JSON file of a `memory-file` system.
#[derive(Debug, Serialize, Deserialize)]
struct FileImage {
    ids: IdKind,
    #[serde(default = "one")]
    next_id: i64,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    idempotency: HashMap<String, (String, RecordId)>,
    #[serde(default)]
    entities: BTreeMap<String, Vec<FileRow>>,
}

fn one() -> i64 {
    1
}

/// A record in a memory file: `updated_at` and `seq` may be left out of hand-written files.
#[derive(Debug, Serialize, Deserialize)]
struct FileRow {
    id: RecordId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    data: Value,
}

/// Errors reading or writing a memory file.
#[derive(Debug, thiserror::Error)]
pub enum MemoryFileError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a memory system file: {source} (expected {{\"ids\": \"int\" | {{\"text\": {{\"prefix\": \"…\"}}}}, \"entities\": {{\"Customer\": [{{\"id\": …, \"data\": {{…}}}}]}}}})"
    )]
    Format {
        path: String,
        source: serde_json::Error,
    },
}

impl MemoryConnector {
    /// A memory system numbering records 1, 2, 3, … and honouring idempotency keys.
    pub fn new(system: impl Into<String>, ids: IdKind) -> Self {
        MemoryConnector {
            system: system.into(),
            ids,
            idempotent: true,
            discard: false,
            state: Mutex::new(State {
                tables: BTreeMap::new(),
                next_id: 1,
                seq: 0,
                last_time: DateTime::<Utc>::UNIX_EPOCH,
                idempotency: HashMap::new(),
                faults: Vec::new(),
                counts: WriteCounts::default(),
            }),
        }
    }

    /// Makes `create` ignore idempotency keys (a system without them: reconciliation then
    /// falls back to a match lookup).
    pub fn without_idempotency(mut self) -> Self {
        self.idempotent = false;
        self
    }

    /// Makes creates and updates answer without keeping the records (a sink for measuring
    /// the engine's own memory); writes are still counted.
    pub fn discarding_writes(mut self) -> Self {
        self.discard = true;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a record as if a user created it in the system (not counted as a write).
    pub fn insert(&self, entity: &str, data: Value) -> RecordId {
        let mut state = self.lock();
        let id = self.next_id(&mut state);
        state.put(entity, id.clone(), data, &self.ids);
        id
    }

    /// Adds a record with a given id (not counted as a write).
    pub fn insert_with_id(&self, entity: &str, id: impl Into<RecordId>, data: Value) {
        let mut state = self.lock();
        state.put(entity, id.into(), data, &self.ids);
    }

    /// Edits a record as a user would (merging `patch`); `false` when it does not exist.
    pub fn edit(&self, entity: &str, id: &RecordId, patch: Value) -> bool {
        let mut state = self.lock();
        let Some(row) = state.tables.get(entity).and_then(|t| t.rows.get(id)) else {
            return false;
        };
        let mut data = row.data();
        json_path::merge(&mut data, &patch);
        state.put(entity, id.clone(), data, &self.ids);
        true
    }

    /// The records of `entity`, sorted by id.
    pub fn records(&self, entity: &str) -> Vec<(RecordId, Value)> {
        let state = self.lock();
        let mut out: Vec<_> = state
            .tables
            .get(entity)
            .map(|t| t.rows.values().map(|r| (r.id.clone(), r.data())).collect())
            .unwrap_or_default();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// One record's data.
    pub fn record(&self, entity: &str, id: &RecordId) -> Option<Value> {
        let state = self.lock();
        state.tables.get(entity)?.rows.get(id).map(Row::data)
    }

    /// The number of records of `entity`.
    pub fn count(&self, entity: &str) -> usize {
        self.lock().tables.get(entity).map_or(0, |t| t.rows.len())
    }

    pub fn writes(&self) -> WriteCounts {
        self.lock().counts
    }

    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    fn next_id(&self, state: &mut State) -> RecordId {
        let n = state.next_id;
        state.next_id += 1;
        match &self.ids {
            IdKind::Int => RecordId::Int(n),
            IdKind::Text { prefix } => RecordId::Text(format!("{prefix}{n}")),
        }
    }

    fn fault(
        &self,
        state: &mut State,
        operation: Operation,
        entity: &str,
        id: Option<&RecordId>,
        data: Option<&Value>,
    ) -> Option<FaultKind> {
        let index = state.faults.iter().position(|f| {
            f.operation == operation
                && f.entity.as_deref().is_none_or(|e| e == entity)
                && f.record.as_ref().is_none_or(|r| Some(r) == id)
                && f.field.as_ref().is_none_or(|(path, value)| {
                    data.is_some_and(|d| &json_path::lookup(d, path) == value)
                })
                && f.times != Some(0)
        })?;
        let fault = &mut state.faults[index];
        if let Some(n) = fault.times.as_mut() {
            *n -= 1;
        }
        Some(fault.kind.clone())
    }

    fn error(
        &self,
        operation: Operation,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> ConnectorError {
        ConnectorError::new(kind, &self.system, operation, message)
    }

    fn fail(&self, operation: Operation, fault: FaultKind) -> ConnectorError {
        match fault {
            FaultKind::Permanent(message) => self.error(operation, ErrorKind::Permanent, message),
            FaultKind::Transient { retry_after } => self.error(
                operation,
                ErrorKind::Transient { retry_after },
                "service unavailable (injected)",
            ),
            FaultKind::CrashAfterCreate => {
                self.error(operation, ErrorKind::Aborted, "crashed (injected)")
            }
        }
    }

    /// Loads a memory system from a JSON file; a missing file is an empty system.
    pub fn load_file(system: &str, ids: IdKind, path: &Path) -> Result<Self, MemoryFileError> {
        let connector = MemoryConnector::new(system, ids);
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(connector),
            Err(source) => {
                return Err(MemoryFileError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let image: FileImage =
            serde_json::from_str(&text).map_err(|source| MemoryFileError::Format {
                path: path.display().to_string(),
                source,
            })?;
        let connector = MemoryConnector::new(system, image.ids);
        {
            let mut state = connector.lock();
            state.next_id = image.next_id;
            state.seq = image.seq;
            state.idempotency = image.idempotency;
            for (entity, rows) in image.entities {
                for row in rows {
                    if let RecordId::Int(n) = row.id {
                        state.next_id = state.next_id.max(n + 1);
                    }
                    match (row.seq, row.updated_at) {
                        (Some(seq), Some(updated_at)) => {
                            state.seq = state.seq.max(seq);
                            state.last_time = state.last_time.max(updated_at);
                            let table = state.tables.entry(entity.clone()).or_default();
                            table.by_seq.insert(seq, row.id.clone());
                            table.rows.insert(
                                row.id.clone(),
                                Row {
                                    id: row.id,
                                    updated_at,
                                    seq,
                                    data: packed::encode(&row.data),
                                },
                            );
                        }
                        _ => {
                            state.put(&entity, row.id, row.data, &connector.ids);
                        }
                    }
                }
            }
        }
        Ok(connector)
    }

    /// Writes the system to a JSON file (atomically: a temporary file renamed over it).
    pub fn save_file(&self, path: &Path) -> Result<(), MemoryFileError> {
        let image = {
            let state = self.lock();
            let mut entities = BTreeMap::new();
            for (name, table) in &state.tables {
                let rows: Vec<FileRow> = table
                    .by_seq
                    .values()
                    .filter_map(|id| table.rows.get(id))
                    .map(|r| FileRow {
                        id: r.id.clone(),
                        updated_at: Some(r.updated_at),
                        seq: Some(r.seq),
                        data: r.data(),
                    })
                    .collect();
                entities.insert(name.clone(), rows);
            }
            FileImage {
                ids: self.ids.clone(),
                next_id: state.next_id,
                seq: state.seq,
                idempotency: state.idempotency.clone(),
                entities,
            }
        };
        let io = |source| MemoryFileError::Io {
            path: path.display().to_string(),
            source,
        };
        let text =
            serde_json::to_string_pretty(&image).map_err(|source| MemoryFileError::Format {
                path: path.display().to_string(),
                source,
            })?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

impl State {
    /// Stores a record version: a new sequence number and a strictly later timestamp.
    fn put(&mut self, entity: &str, id: RecordId, mut data: Value, _ids: &IdKind) -> RemoteRecord {
        if let Value::Object(map) = &mut data {
            map.insert("id".to_string(), id.to_json());
        }
        self.seq += 1;
        let seq = self.seq;
        let now = Utc::now();
        let updated_at = if now > self.last_time {
            now
        } else {
            self.last_time + TimeDelta::microseconds(1)
        };
        self.last_time = updated_at;
        let table = self.tables.entry(entity.to_string()).or_default();
        if let Some(old) = table.rows.get(&id) {
            table.by_seq.remove(&old.seq);
        }
        table.by_seq.insert(seq, id.clone());
        let row = Row {
            id: id.clone(),
            updated_at,
            seq,
            data: packed::encode(&data),
        };
        table.rows.insert(id.clone(), row);
        RemoteRecord {
            id,
            updated_at,
            data,
        }
    }

    fn remote(&self, entity: &str, id: &RecordId) -> Option<RemoteRecord> {
        Some(self.tables.get(entity)?.rows.get(id)?.remote())
    }
}

#[async_trait]
impl Connector for MemoryConnector {
    fn system(&self) -> &str {
        &self.system
    }

    fn idempotent_create(&self) -> bool {
        self.idempotent
    }

    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let mut state = self.lock();
        if let Some(fault) = self.fault(&mut state, Operation::Changes, entity, None, None) {
            return Err(self.fail(Operation::Changes, fault));
        }
        let after = match cursor {
            None => 0,
            Some(text) => text.parse::<u64>().map_err(|_| {
                self.error(
                    Operation::Changes,
                    ErrorKind::Permanent,
                    format!("cursor {text:?} is not a change number of this memory system"),
                )
            })?,
        };
        let Some(table) = state.tables.get(entity) else {
            return Ok(Page {
                records: Vec::new(),
                cursor: None,
                more: false,
            });
        };
        let limit = limit.max(1);
        let mut records = Vec::with_capacity(limit.min(table.by_seq.len()));
        let mut last = None;
        let mut range = table.by_seq.range(after + 1..);
        for (seq, id) in range.by_ref().take(limit) {
            if let Some(row) = table.rows.get(id) {
                records.push(row.remote());
            }
            last = Some(*seq);
        }
        let more = range.next().is_some();
        Ok(Page {
            records,
            cursor: last.map(|s| s.to_string()),
            more,
        })
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let mut state = self.lock();
        if let Some(fault) = self.fault(&mut state, Operation::Get, entity, Some(id), None) {
            return Err(self.fail(Operation::Get, fault));
        }
        Ok(state.remote(entity, id))
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let mut state = self.lock();
        if let Some(key) = idempotency_key.filter(|_| self.idempotent)
            && let Some((e, id)) = state.idempotency.get(key).cloned()
            && let Some(record) = state.remote(&e, &id)
        {
            return Ok(record);
        }
        let fault = self.fault(&mut state, Operation::Create, entity, None, Some(data));
        if let Some(kind) = &fault
            && *kind != FaultKind::CrashAfterCreate
        {
            return Err(self.fail(Operation::Create, kind.clone()));
        }
        if !data.is_object() {
            return Err(self.error(
                Operation::Create,
                ErrorKind::Permanent,
                format!("a {entity} must be a JSON object"),
            ));
        }
        let id = self.next_id(&mut state);
        if self.discard {
            state.counts.creates += 1;
            return Ok(RemoteRecord {
                id,
                updated_at: Utc::now(),
                data: data.clone(),
            });
        }
        let record = state.put(entity, id.clone(), data.clone(), &self.ids);
        state.counts.creates += 1;
        if let Some(key) = idempotency_key.filter(|_| self.idempotent) {
            state
                .idempotency
                .insert(key.to_string(), (entity.to_string(), id));
        }
        match fault {
            Some(kind) => Err(self.fail(Operation::Create, kind)),
            None => Ok(record),
        }
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let mut state = self.lock();
        if let Some(fault) = self.fault(&mut state, Operation::Update, entity, Some(id), Some(data))
        {
            return Err(self.fail(Operation::Update, fault));
        }
        let Some(mut current) = state
            .tables
            .get(entity)
            .and_then(|t| t.rows.get(id))
            .map(Row::data)
        else {
            return Err(self.error(
                Operation::Update,
                ErrorKind::Permanent,
                format!("{entity} {id} not found"),
            ));
        };
        json_path::merge(&mut current, data);
        state.counts.updates += 1;
        Ok(state.put(entity, id.clone(), current, &self.ids))
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let mut state = self.lock();
        if let Some(fault) = self.fault(&mut state, Operation::Search, entity, None, None) {
            return Err(self.fail(Operation::Search, fault));
        }
        let Some(table) = state.tables.get(entity) else {
            return Ok(Vec::new());
        };
        let mut found: Vec<RemoteRecord> = table
            .rows
            .values()
            .map(Row::remote)
            .filter(|r| values_equal(&json_path::lookup(&r.data, property), value))
            .collect();
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }
}

/// Match equality: strings compare case-insensitively and trimmed (e-mail addresses), and
/// empty values never match.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    if json_path::is_empty(a) || json_path::is_empty(b) {
        return false;
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        _ => a == b,
    }
}

/// A compact, exact binary form of JSON values (numbers keep their integer or float
/// representation bit for bit, unlike a round trip through JSON text).
mod packed {
    use serde_json::{Map, Number, Value};

    const NULL: u8 = 0;
    const FALSE: u8 = 1;
    const TRUE: u8 = 2;
    const INT: u8 = 3;
    const UINT: u8 = 4;
    const FLOAT: u8 = 5;
    const STRING: u8 = 6;
    const ARRAY: u8 = 7;
    const OBJECT: u8 = 8;

    pub fn encode(value: &Value) -> Box<[u8]> {
        let mut out = Vec::with_capacity(64);
        put(&mut out, value);
        out.into_boxed_slice()
    }

    fn put_len(out: &mut Vec<u8>, len: usize) {
        out.extend_from_slice(&(len as u64).to_le_bytes());
    }

    fn put_str(out: &mut Vec<u8>, s: &str) {
        put_len(out, s.len());
        out.extend_from_slice(s.as_bytes());
    }

    fn put(out: &mut Vec<u8>, value: &Value) {
        match value {
            Value::Null => out.push(NULL),
            Value::Bool(false) => out.push(FALSE),
            Value::Bool(true) => out.push(TRUE),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    out.push(INT);
                    out.extend_from_slice(&i.to_le_bytes());
                } else if let Some(u) = n.as_u64() {
                    out.push(UINT);
                    out.extend_from_slice(&u.to_le_bytes());
                } else {
                    out.push(FLOAT);
                    out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes());
                }
            }
            Value::String(s) => {
                out.push(STRING);
                put_str(out, s);
            }
            Value::Array(items) => {
                out.push(ARRAY);
                put_len(out, items.len());
                for item in items {
                    put(out, item);
                }
            }
            Value::Object(map) => {
                out.push(OBJECT);
                put_len(out, map.len());
                for (key, item) in map {
                    put_str(out, key);
                    put(out, item);
                }
            }
        }
    }

    /// The value `encode` packed (`Null` for bytes it did not write).
    pub fn decode(bytes: &[u8]) -> Value {
        let mut reader = Reader { bytes };
        reader.value().unwrap_or(Value::Null)
    }

    struct Reader<'a> {
        bytes: &'a [u8],
    }

    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Option<&[u8]> {
            if n > self.bytes.len() {
                return None;
            }
            let (head, rest) = self.bytes.split_at(n);
            self.bytes = rest;
            Some(head)
        }

        fn word(&mut self) -> Option<[u8; 8]> {
            self.take(8)?.try_into().ok()
        }

        fn len(&mut self) -> Option<usize> {
            usize::try_from(u64::from_le_bytes(self.word()?)).ok()
        }

        fn string(&mut self) -> Option<String> {
            let n = self.len()?;
            std::str::from_utf8(self.take(n)?).ok().map(str::to_owned)
        }

        fn value(&mut self) -> Option<Value> {
            let (&tag, rest) = self.bytes.split_first()?;
            self.bytes = rest;
            Some(match tag {
                NULL => Value::Null,
                FALSE => Value::Bool(false),
                TRUE => Value::Bool(true),
                INT => Value::from(i64::from_le_bytes(self.word()?)),
                UINT => Value::from(u64::from_le_bytes(self.word()?)),
                FLOAT => Value::Number(Number::from_f64(f64::from_le_bytes(self.word()?))?),
                STRING => Value::String(self.string()?),
                ARRAY => {
                    let n = self.len()?;
                    let mut items = Vec::with_capacity(n.min(self.bytes.len()));
                    for _ in 0..n {
                        items.push(self.value()?);
                    }
                    Value::Array(items)
                }
                OBJECT => {
                    let n = self.len()?;
                    let mut map = Map::new();
                    for _ in 0..n {
                        let key = self.string()?;
                        map.insert(key, self.value()?);
                    }
                    Value::Object(map)
                }
                _ => return None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn packed_values_round_trip_exactly() {
        let values = [
            json!(null),
            json!({"a": [1, -2, 18_446_744_073_709_551_615u64, 0.1, 0.30000000000000004, 1e300],
                   "b": {"c": true, "d": false, "e": "ø\"x", "": []}, "f": {}}),
            json!("text"),
            json!(3.0),
        ];
        for value in values {
            let back = packed::decode(&packed::encode(&value));
            assert_eq!(back, value);
            assert_eq!(back.to_string(), value.to_string());
        }
        assert_eq!(packed::decode(&[42]), Value::Null);
        assert_eq!(packed::decode(&[]), Value::Null);
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn changes_page_through_versions_in_order() {
        let m = MemoryConnector::new("S", IdKind::Int);
        let a = m.insert("E", json!({"n": 1}));
        let b = m.insert("E", json!({"n": 2}));
        assert!(m.edit("E", &a, json!({"n": 3})));
        block(async {
            let p = m.changes("E", None, 1).await.expect("page");
            assert_eq!(p.records[0].id, b);
            assert!(p.more);
            let p2 = m.changes("E", p.cursor.as_deref(), 10).await.expect("page");
            assert_eq!(p2.records.len(), 1);
            assert_eq!(p2.records[0].data, json!({"id": 1, "n": 3}));
            assert!(p2.records[0].updated_at > p.records[0].updated_at);
            assert!(!p2.more);
            let p3 = m
                .changes("E", p2.cursor.as_deref(), 10)
                .await
                .expect("page");
            assert!(p3.records.is_empty());
            assert!(m.changes("E", Some("x"), 1).await.is_err());
        });
    }

    #[test]
    fn idempotent_create_replays() {
        let m = MemoryConnector::new(
            "S",
            IdKind::Text {
                prefix: "cb_".into(),
            },
        );
        block(async {
            let a = m
                .create("E", &json!({"x": 1}), Some("k"))
                .await
                .expect("create");
            let b = m
                .create("E", &json!({"x": 1}), Some("k"))
                .await
                .expect("create");
            assert_eq!(a.id, RecordId::from("cb_1"));
            assert_eq!(a.id, b.id);
            assert_eq!(m.count("E"), 1);
            assert_eq!(m.writes().creates, 1);
        });
    }

    #[test]
    fn faults_fire_as_configured() {
        let m = MemoryConnector::new("S", IdKind::Int);
        m.inject(
            Fault::new(
                Operation::Create,
                "E",
                FaultKind::Transient { retry_after: None },
            )
            .when_field("x", json!(1))
            .times(1),
        );
        m.inject(Fault::new(
            Operation::Create,
            "F",
            FaultKind::CrashAfterCreate,
        ));
        block(async {
            let e = m
                .create("E", &json!({"x": 1}), None)
                .await
                .expect_err("fault");
            assert!(e.is_transient());
            assert!(m.create("E", &json!({"x": 1}), None).await.is_ok());
            let e = m
                .create("F", &json!({}), Some("k"))
                .await
                .expect_err("crash");
            assert_eq!(e.kind, ErrorKind::Aborted);
            assert_eq!(m.count("F"), 1);
            let replay = m.create("F", &json!({}), Some("k")).await.expect("replay");
            assert_eq!(replay.id, RecordId::Int(2));
        });
    }

    #[test]
    fn search_never_matches_empty_values() {
        let m = MemoryConnector::new("S", IdKind::Int);
        m.insert("E", json!({"email": ""}));
        m.insert("E", json!({"email": "A@x.no"}));
        block(async {
            assert!(
                m.search("E", "email", &json!(""))
                    .await
                    .expect("search")
                    .is_empty()
            );
            let found = m
                .search("E", "email", &json!("a@x.no"))
                .await
                .expect("search");
            assert_eq!(found.len(), 1);
        });
    }

    #[test]
    fn file_round_trip() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.json");
        let m = MemoryConnector::new("S", IdKind::Int);
        m.insert("E", json!({"n": 1}));
        m.save_file(&path).expect("save");
        let back = MemoryConnector::load_file("S", IdKind::Int, &path).expect("load");
        assert_eq!(back.records("E"), m.records("E"));
        assert_eq!(back.insert("E", json!({})), RecordId::Int(2));
        std::fs::write(&path, "{").expect("write");
        let err = MemoryConnector::load_file("S", IdKind::Int, &path).expect_err("bad");
        assert!(err.to_string().contains("s.json"));
    }
}
