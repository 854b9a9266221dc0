//! Access to the data and counters from outside the APIs: the Rust API of [`crate::Sandbox`]
//! and the unguarded `/__sandbox/...` routes every listener serves.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use serde_json::{Map, Value, json};

use crate::SandboxError;
use crate::config::Faults;
use crate::schema::{EntityRef, WriteMode, resolve, write_json};
use crate::state::Shared;
use crate::stats::{StatsSnapshot, TableStats};
use crate::store::{Origin, Store};

pub(crate) fn entity(system: &str, entity: &str) -> Result<EntityRef, SandboxError> {
    resolve(system, entity).ok_or_else(|| SandboxError::UnknownEntity {
        system: system.to_string(),
        entity: entity.to_string(),
    })
}

pub(crate) fn stats(shared: &Shared) -> StatsSnapshot {
    let mut apis = shared.stats.snapshot();
    for api in crate::config::Api::ALL {
        if let Some(s) = apis.get_mut(api.name()) {
            let limit = shared.config.rate_limits.of(api);
            let peaks = shared.limiter.peaks(api);
            s.rate_limit.requests = limit.requests;
            s.rate_limit.window_ms = u64::try_from(limit.window.as_millis()).unwrap_or(u64::MAX);
            s.rate_limit.enforced = shared.config.rate_limits.enforce;
            s.rate_limit.max_in_window = peaks.arrivals;
            s.rate_limit.max_accepted_in_window = peaks.accepted;
        }
    }
    let store = shared.store();
    let tables = crate::schema::TableId::ALL
        .iter()
        .map(|&t| {
            let table = store.table(t);
            let stats = TableStats {
                records: table.live().count(),
                creates: table.creates,
                updates: table.updates,
                deletes: table.deletes,
            };
            (t.def().label(), stats)
        })
        .collect();
    StatsSnapshot { apis, tables }
}

pub(crate) fn records(
    shared: &Shared,
    system: &str,
    name: &str,
) -> Result<Vec<Value>, SandboxError> {
    let e = entity(system, name)?;
    let store = shared.store();
    Ok(store
        .table(e.table)
        .live()
        .filter(|r| e.matches(&r.data))
        .map(|r| Value::Object(r.data.clone()))
        .collect())
}

pub(crate) fn record(
    shared: &Shared,
    system: &str,
    name: &str,
    id: &str,
) -> Result<Option<Value>, SandboxError> {
    let e = entity(system, name)?;
    let store = shared.store();
    let Some(key) = Store::normalize_key(e.table, id) else {
        return Ok(None);
    };
    Ok(store
        .table(e.table)
        .get_live(&key)
        .filter(|r| e.matches(&r.data))
        .map(|r| Value::Object(r.data.clone())))
}

fn object(e: &EntityRef, record: Value) -> Result<Map<String, Value>, SandboxError> {
    match record {
        Value::Object(m) => Ok(m),
        other => Err(SandboxError::Invalid {
            entity: e.table.def().label(),
            message: format!(
                "a record is a JSON object, not {}",
                crate::schema::kind(&other)
            ),
        }),
    }
}

pub(crate) fn insert(
    shared: &Shared,
    system: &str,
    name: &str,
    record: Value,
) -> Result<Value, SandboxError> {
    let e = entity(system, name)?;
    let def = e.table.def();
    let input = object(&e, record)?;
    let mut data = Map::new();
    write_json(def, def.fields, &input, &mut data, WriteMode::Create, "").map_err(|err| {
        SandboxError::Invalid {
            entity: def.label(),
            message: format!("{}: {}", err.path, err.message),
        }
    })?;
    if let Some((field, flag)) = e.filter {
        data.insert(field.to_string(), Value::Bool(flag));
    }
    let mut store = shared.store();
    store
        .create(e.table, data, Origin::Live)
        .map(|row| Value::Object(row.data.clone()))
        .map_err(|f| f.into_sandbox(def.label()))
}

pub(crate) fn update(
    shared: &Shared,
    system: &str,
    name: &str,
    id: &str,
    patch: Value,
) -> Result<Value, SandboxError> {
    let e = entity(system, name)?;
    let def = e.table.def();
    let input = object(&e, patch)?;
    let not_found = || SandboxError::NotFound {
        entity: def.label(),
        id: id.to_string(),
    };
    let key = Store::normalize_key(e.table, id).ok_or_else(not_found)?;
    let mut store = shared.store();
    if !store
        .table(e.table)
        .get_live(&key)
        .is_some_and(|r| e.matches(&r.data))
    {
        return Err(not_found());
    }
    store
        .update(e.table, &key, |data| {
            write_json(def, def.fields, &input, data, WriteMode::Update, "").map_err(Into::into)
        })
        .map(|row| Value::Object(row.data.clone()))
        .map_err(|f| f.into_sandbox(def.label()))
}

pub(crate) fn delete(
    shared: &Shared,
    system: &str,
    name: &str,
    id: &str,
) -> Result<(), SandboxError> {
    let e = entity(system, name)?;
    let def = e.table.def();
    let key = Store::normalize_key(e.table, id).ok_or_else(|| SandboxError::NotFound {
        entity: def.label(),
        id: id.to_string(),
    })?;
    shared
        .store()
        .delete(e.table, &key)
        .map_err(|f| f.into_sandbox(def.label()))
}

pub(crate) fn duplicates(
    shared: &Shared,
    system: &str,
    name: &str,
    fields: &[&str],
) -> Result<Vec<Vec<Value>>, SandboxError> {
    let e = entity(system, name)?;
    let store = shared.store();
    let groups = store.duplicates(e.table, fields, |r| e.matches(&r.data));
    let table = store.table(e.table);
    Ok(groups
        .into_iter()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| table.get(k))
                .map(|r| Value::Object(r.data.clone()))
                .collect()
        })
        .collect())
}

fn reply(result: Result<Value, SandboxError>) -> Response {
    match result {
        Ok(v) => crate::http::json(StatusCode::OK, &v),
        Err(e @ (SandboxError::UnknownEntity { .. } | SandboxError::NotFound { .. })) => {
            crate::http::json(StatusCode::NOT_FOUND, &json!({"error": e.to_string()}))
        }
        Err(e) => crate::http::json(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
    }
}

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/__sandbox/stats",
            get(|State(s): State<Arc<Shared>>| async move {
                reply(serde_json::to_value(stats(&s)).map_err(|e| SandboxError::Config(e.to_string())))
            }),
        )
        .route(
            "/__sandbox/records/{system}/{entity}",
            get(|State(s): State<Arc<Shared>>, Path((system, entity)): Path<(String, String)>| async move {
                reply(records(&s, &system, &entity).map(Value::Array))
            }),
        )
        .route(
            "/__sandbox/faults",
            put(|State(s): State<Arc<Shared>>, body: axum::body::Bytes| async move {
                let parsed: Result<Faults, _> = serde_json::from_slice(&body);
                reply(match parsed {
                    Ok(f) => f.validate().map(|()| {
                        s.set_faults(None, f.clone());
                        serde_json::to_value(&f).unwrap_or(Value::Null)
                    }),
                    Err(e) => Err(SandboxError::Config(format!("faults body: {e}"))),
                })
            }),
        )
        .with_state(shared)
}
