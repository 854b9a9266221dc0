//! The [`Connector`] trait: what the engine needs from a system (DESIGN.md §6).
//!
//! A connector lists the records of an entity changed since a cursor (paginated), gets one
//! record, creates, updates, and searches by a match property. HTTP connectors (Chargebee,
//! PowerOffice Go, WebCRM, generic REST) implement it; [`crate::memory`] is the in-process
//! implementation the tests and benchmarks use.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::flow::RecordId;

/// A record as a system holds it: its id, when it last changed, and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteRecord {
    pub id: RecordId,
    pub updated_at: DateTime<Utc>,
    pub data: Value,
}

/// One page of changed records.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<RemoteRecord>,
    /// The cursor to store once this page is processed (`None`: keep the previous one).
    pub cursor: Option<String>,
    /// Whether more pages follow.
    pub more: bool,
}

/// How a connector failure should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Timeouts, 429, 5xx: retry with backoff, honouring `retry_after`.
    Transient { retry_after: Option<Duration> },
    /// Other 4xx, invalid payloads: the record goes to dead letters.
    Permanent,
    /// The process is going away mid-request (used by crash injection): stop the run now,
    /// committing nothing more, as a real crash would.
    Aborted,
}

/// A connector failure. The message never contains credentials.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{system} {operation}: {message}")]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub system: String,
    pub operation: Operation,
    pub message: String,
}

impl ConnectorError {
    pub fn new(
        kind: ErrorKind,
        system: impl Into<String>,
        operation: Operation,
        message: impl Into<String>,
    ) -> Self {
        ConnectorError {
            kind,
            system: system.into(),
            operation,
            message: message.into(),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient { .. })
    }
}

/// The connector operations, for errors and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Changes,
    Get,
    Create,
    Update,
    Search,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Changes => "changes",
            Operation::Get => "get",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Search => "search",
        })
    }
}

/// A system the engine synchronizes. Entity names are the documents' names; mapping them to
/// endpoints is the connector's business (APIS.md).
#[async_trait]
pub trait Connector: Send + Sync + fmt::Debug {
    /// The system name as the documents spell it.
    fn system(&self) -> &str;

    /// Whether `create` honours its idempotency key (a replay returns the first record).
    fn idempotent_create(&self) -> bool;

    /// Records of `entity` changed after `cursor` (`None`: from the beginning), oldest first.
    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError>;

    /// One record, `None` when it does not exist (any more).
    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError>;

    /// Creates a record from `data` (only the mapped properties).
    async fn create(
        &self,
        entity: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError>;

    /// Sets the properties in `data` (a partial record: nested objects merge, other values
    /// replace) on record `id`.
    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError>;

    /// Records whose `property` (a dotted path) equals `value`.
    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError>;
}
