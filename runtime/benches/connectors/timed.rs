//! A connector that times every call: where a sync's wall time goes, per system and
//! operation (the engine waits for each call before the next, so the calls' time and the
//! rest add up to the run's).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flowgen_runtime::connector::{Connector, ConnectorError, Operation, Page, RemoteRecord};
use flowgen_runtime::flow::RecordId;
use serde_json::Value;

/// Calls and their total time, per (system, operation).
#[derive(Debug, Default)]
pub struct Timings {
    calls: Mutex<BTreeMap<(String, String), (u64, Duration)>>,
    records_read: std::sync::atomic::AtomicU64,
}

impl Timings {
    fn add(&self, system: &str, operation: Operation, took: Duration) {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let entry = calls
            .entry((system.to_string(), operation.to_string()))
            .or_insert((0, Duration::ZERO));
        entry.0 += 1;
        entry.1 += took;
    }

    pub fn snapshot(&self) -> BTreeMap<(String, String), (u64, Duration)> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the change lists delivered.
    pub fn records_read(&self) -> u64 {
        self.records_read.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[derive(Debug)]
pub struct Timed {
    pub inner: Arc<dyn Connector>,
    pub timings: Arc<Timings>,
}

impl Timed {
    fn done(&self, operation: Operation, started: Instant) {
        self.timings
            .add(self.inner.system(), operation, started.elapsed());
    }
}

#[async_trait]
impl Connector for Timed {
    fn system(&self) -> &str {
        self.inner.system()
    }

    fn idempotent_create(&self) -> bool {
        self.inner.idempotent_create()
    }

    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let started = Instant::now();
        let result = self.inner.changes(entity, cursor, limit).await;
        self.done(Operation::Changes, started);
        if let Ok(page) = &result {
            self.timings.records_read.fetch_add(
                page.records.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        result
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let started = Instant::now();
        let result = self.inner.get(entity, id).await;
        self.done(Operation::Get, started);
        result
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let started = Instant::now();
        let result = self.inner.create(entity, data, idempotency_key).await;
        self.done(Operation::Create, started);
        result
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let started = Instant::now();
        let result = self.inner.update(entity, id, data).await;
        self.done(Operation::Update, started);
        result
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let started = Instant::now();
        let result = self.inner.search(entity, property, value).await;
        self.done(Operation::Search, started);
        result
    }
}
