//! Test worlds: memory systems for Chargebee and Powerofficego, a SQLite state file.
#![allow(dead_code)]

pub mod canonical;
pub mod flows;
pub mod quiet;

use std::collections::HashMap;
use std::sync::Arc;

use flowgen_runtime::connector::Connector;
use flowgen_runtime::engine::{Engine, EngineOptions, RetryPolicy};
use flowgen_runtime::flow::{RecordId, Registry};
use flowgen_runtime::memory::{IdKind, MemoryConnector};
use flowgen_runtime::state::{SqliteStore, StateStore};
use serde_json::Value;

pub struct World {
    pub systems: HashMap<String, Arc<MemoryConnector>>,
    pub store: Arc<SqliteStore>,
    pub dir: tempfile::TempDir,
}

pub fn options() -> EngineOptions {
    EngineOptions {
        retry: RetryPolicy::immediate(3),
        page_size: 7,
        ..EngineOptions::default()
    }
}

impl World {
    /// Chargebee (ids `cb_1`, …) and Powerofficego (ids 1, 2, …).
    pub async fn new() -> World {
        Self::with(vec![
            MemoryConnector::new(
                "Chargebee",
                IdKind::Text {
                    prefix: "cb_".into(),
                },
            ),
            MemoryConnector::new("Powerofficego", IdKind::Int),
        ])
        .await
    }

    pub async fn with(systems: Vec<MemoryConnector>) -> World {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("flowgen.db"))
                .await
                .expect("store"),
        );
        World {
            systems: systems
                .into_iter()
                .map(|s| (s.system().to_string(), Arc::new(s)))
                .collect(),
            store,
            dir,
        }
    }

    pub fn sys(&self, name: &str) -> &MemoryConnector {
        self.systems.get(name).expect("system")
    }

    pub fn cb(&self) -> &MemoryConnector {
        self.sys("Chargebee")
    }

    pub fn po(&self) -> &MemoryConnector {
        self.sys("Powerofficego")
    }

    pub fn engine_with(&self, registry: Registry, options: EngineOptions) -> Engine {
        let connectors: HashMap<String, Arc<dyn Connector>> = self
            .systems
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v) as Arc<dyn Connector>))
            .collect();
        Engine::new(
            registry,
            connectors,
            Arc::clone(&self.store) as Arc<dyn StateStore>,
            options,
        )
    }

    pub fn engine(&self) -> Engine {
        self.engine_with(crate::registry(), options())
    }

    /// The links of a pair as (side A id, side B id), sorted.
    pub async fn links(&self, pair: &str) -> Vec<(RecordId, RecordId)> {
        self.store
            .all_links(Some(pair))
            .await
            .expect("links")
            .into_iter()
            .map(|l| (l.a_id, l.b_id))
            .collect()
    }

    /// Every record of an entity as JSON values, sorted by id.
    pub fn records(&self, system: &str, entity: &str) -> Vec<Value> {
        self.sys(system)
            .records(entity)
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    pub fn writes(&self) -> u64 {
        self.systems.values().map(|s| s.writes().total()).sum()
    }
}

pub fn id(s: &str) -> RecordId {
    RecordId::from(s)
}

pub fn int(i: i64) -> RecordId {
    RecordId::Int(i)
}
