//! The generic REST connector for systems without a public API (Customerp,
//! Customwebshop): everything comes from its YAML configuration ([`RestConfig`]): base
//! URL, auth (none, bearer token or basic from environment variables), and per entity the
//! collection path, id field and type, change-time field and filter parameter, page style
//! (offset/limit, page/size, a cursor member, or none), write methods (POST create, PUT or
//! PATCH update) and read-only fields.
//!
//! Cursor: a [`ScanCursor`] over the change-time field whose scan position is the offset,
//! page number or API cursor of the scan in progress. Entities without a change-time field
//! are scanned fully on every call.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::SecondsFormat;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

use super::config::{
    ApiKind, IdType, Paging, RestAuth, RestConfig, RestEntityConfig, SearchStyle, UpdateMethod,
    base_url, env_secret,
};
use super::http::{HttpClient, HttpError, HttpResponse, Replay, Secret};
use super::scan::{ScanCursor, id_key, malformed, matches, scalar_text, time_of, undated};
use super::{BuildOptions, ConfigError, lookup_entity, permanent, segment, unknown_entity};
use crate::connector::{Connector, ConnectorError, Operation, Page, RemoteRecord};
use crate::flow::RecordId;

/// Page size when neither the configuration nor the engine says.
const DEFAULT_SIZE: usize = 100;
/// Pages a search reads at most.
const MAX_SEARCH_PAGES: usize = 200;

#[derive(Debug)]
enum Auth {
    None,
    Bearer(Secret),
    Basic(Secret, Secret),
}

#[derive(Debug)]
pub struct RestConnector {
    system: String,
    base: String,
    auth: Auth,
    entities: BTreeMap<String, RestEntityConfig>,
    http: HttpClient,
}

/// A list answer: records, and the API's next cursor or offset when it gives one
/// (`Some(None)`: it says there is no next page).
struct Listed {
    items: Vec<Value>,
    next: Option<Option<String>>,
}

impl RestConnector {
    pub fn new(
        system: &str,
        config: &RestConfig,
        options: &BuildOptions<'_>,
    ) -> Result<Self, ConfigError> {
        let base = base_url(system, "base_url", &config.base_url)?;
        let auth = match &config.auth {
            RestAuth::None => Auth::None,
            RestAuth::Bearer { token_env } => Auth::Bearer(env_secret(
                options.env,
                system,
                "auth.token_env",
                token_env,
            )?),
            RestAuth::Basic {
                username_env,
                password_env,
            } => Auth::Basic(
                env_secret(options.env, system, "auth.username_env", username_env)?,
                env_secret(options.env, system, "auth.password_env", password_env)?,
            ),
        };
        if config.entities.is_empty() {
            return Err(ConfigError::invalid(
                system,
                "entities",
                "configure at least one entity",
            ));
        }
        for (entity, e) in &config.entities {
            let key = |k: &str| format!("entities.{entity}.{k}");
            if !e.path.starts_with('/') {
                return Err(ConfigError::invalid(
                    system,
                    &key("path"),
                    format!("{:?} must start with `/`", e.path),
                ));
            }
            if e.id_field.trim().is_empty() {
                return Err(ConfigError::invalid(
                    system,
                    &key("id_field"),
                    "must not be empty",
                ));
            }
            let size = match &e.paging {
                Paging::Offset { size, .. }
                | Paging::Page { size, .. }
                | Paging::Cursor { size, .. } => *size,
                Paging::None => None,
            };
            if size == Some(0) {
                return Err(ConfigError::invalid(
                    system,
                    &key("paging.size"),
                    "must be at least 1",
                ));
            }
            if let Paging::Cursor { next_field, .. } = &e.paging
                && next_field.trim().is_empty()
            {
                return Err(ConfigError::invalid(
                    system,
                    &key("paging.next_field"),
                    "must name the member",
                ));
            }
        }
        let secrets = match &auth {
            Auth::None => Vec::new(),
            Auth::Bearer(token) => vec![token.clone()],
            Auth::Basic(user, password) => vec![user.clone(), password.clone()],
        };
        let limits = config.limits.resolve(system, ApiKind::Rest)?;
        let http = HttpClient::new(system, limits, secrets)
            .map_err(|m| ConfigError::invalid(system, "limits", m))?;
        Ok(RestConnector {
            system: system.to_string(),
            base,
            auth,
            entities: config.entities.clone(),
            http,
        })
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The entities this connector serves (the documents' names).
    pub fn entities(&self) -> Vec<String> {
        self.entities.keys().cloned().collect()
    }

    fn entity(
        &self,
        entity: &str,
        operation: Operation,
    ) -> Result<&RestEntityConfig, ConnectorError> {
        lookup_entity(&self.entities, entity).ok_or_else(|| {
            unknown_entity(
                &self.system,
                operation,
                entity,
                &self.entities.keys().collect::<Vec<_>>(),
            )
        })
    }

    fn request(&self, client: &Client, method: Method, url: &str) -> RequestBuilder {
        let request = client
            .request(method, url)
            .header("accept", "application/json");
        match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::Basic(user, password) => {
                request.basic_auth(user.expose(), Some(password.expose()))
            }
        }
    }

    async fn send(
        &self,
        operation: Operation,
        replay: Replay,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<HttpResponse, ConnectorError> {
        self.http
            .send(replay, build)
            .await
            .map_err(|e| self.http.error(e, operation))
    }

    fn record(
        &self,
        config: &RestEntityConfig,
        object: &Value,
        operation: Operation,
    ) -> Result<RemoteRecord, ConnectorError> {
        let raw = object.get(&config.id_field).ok_or_else(|| {
            malformed(
                &self.system,
                operation,
                format!("a record without `{}`", config.id_field),
            )
        })?;
        let id = match (config.id_type, raw) {
            (IdType::Int, Value::String(s)) => s.trim().parse::<i64>().ok().map(RecordId::Int),
            (IdType::Int, other) => other.as_i64().map(RecordId::Int),
            (IdType::String, Value::Number(n)) => Some(RecordId::Text(n.to_string())),
            (IdType::String, other) => RecordId::from_json(other),
        }
        .ok_or_else(|| {
            malformed(
                &self.system,
                operation,
                format!("`{}` is {raw}, not an id", config.id_field),
            )
        })?;
        let updated_at = match &config.updated_at_field {
            Some(field) => time_of(object, &[field.as_str()]).unwrap_or_else(undated),
            None => undated(),
        };
        Ok(RemoteRecord {
            id,
            updated_at,
            data: object.clone(),
        })
    }

    fn listed(
        &self,
        config: &RestEntityConfig,
        body: Value,
        operation: Operation,
    ) -> Result<Listed, ConnectorError> {
        let next_member = match &config.paging {
            Paging::Offset { .. } => Some("next_offset"),
            Paging::Cursor { next_field, .. } => Some(next_field.as_str()),
            Paging::Page { .. } | Paging::None => None,
        };
        let next = next_member.and_then(|m| body.get(m)).map(|v| match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            other => scalar_text(other),
        });
        let items = match (&config.items_field, body) {
            (Some(field), Value::Object(mut map)) => map.remove(field),
            (None, Value::Array(items)) => Some(Value::Array(items)),
            (None, Value::Object(mut map)) => map.remove("data"),
            (_, Value::Null) => Some(Value::Array(Vec::new())),
            _ => None,
        };
        match items {
            Some(Value::Array(items)) => Ok(Listed { items, next }),
            _ => Err(malformed(
                &self.system,
                operation,
                format!(
                    "a list answer without the records array (`{}`)",
                    config.items_field.as_deref().unwrap_or("data")
                ),
            )),
        }
    }

    /// One page from position `pos` (`None`: the first): the answer and the next position
    /// (`None`: this was the last page).
    async fn page(
        &self,
        config: &RestEntityConfig,
        query: &[(String, String)],
        pos: Option<&str>,
        limit: usize,
        operation: Operation,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let mut query = query.to_vec();
        let size;
        match &config.paging {
            Paging::Offset {
                offset_param,
                limit_param,
                size: s,
            } => {
                size = s.map_or(limit, |s| s as usize).max(1);
                query.push((offset_param.clone(), pos.unwrap_or("0").to_string()));
                query.push((limit_param.clone(), size.to_string()));
            }
            Paging::Page {
                page_param,
                size_param,
                first,
                size: s,
            } => {
                size = s.map_or(limit, |s| s as usize).max(1);
                query.push((
                    page_param.clone(),
                    pos.map_or_else(|| first.to_string(), str::to_string),
                ));
                query.push((size_param.clone(), size.to_string()));
            }
            Paging::Cursor {
                cursor_param,
                limit_param,
                size: s,
                ..
            } => {
                size = s.map_or(limit, |s| s as usize).max(1);
                if let Some(pos) = pos {
                    query.push((cursor_param.clone(), pos.to_string()));
                }
                query.push((limit_param.clone(), size.to_string()));
            }
            Paging::None => size = usize::MAX,
        }
        let url = format!("{}{}", self.base, config.path);
        let response = self
            .send(operation, Replay::Safe, |c| {
                self.request(c, Method::GET, &url).query(&query)
            })
            .await?;
        let body = response
            .json_or_null()
            .map_err(|e| self.http.error(e, operation))?;
        let Listed { items, next } = self.listed(config, body, operation)?;
        let short = items.len() < size || items.is_empty();
        let next = match &config.paging {
            Paging::None => None,
            Paging::Cursor { .. } => next.flatten(),
            Paging::Offset { .. } => match next {
                Some(explicit) => explicit,
                None if short => None,
                None => {
                    let offset: u64 = pos.and_then(|p| p.parse().ok()).unwrap_or(0);
                    Some((offset + items.len() as u64).to_string())
                }
            },
            Paging::Page { first, .. } => {
                if short {
                    None
                } else {
                    let page: u64 = pos.and_then(|p| p.parse().ok()).unwrap_or(*first);
                    Some((page + 1).to_string())
                }
            }
        };
        Ok((items, next))
    }

    /// Strips read-only members (and the id) from a write.
    fn writable(config: &RestEntityConfig, data: &Value) -> Value {
        let mut data = crate::json_path::strip_nulls(data);
        if let Value::Object(map) = &mut data {
            map.remove(&config.id_field);
            for field in &config.read_only {
                map.remove(field);
            }
        }
        data
    }

    async fn written(
        &self,
        entity: &str,
        config: &RestEntityConfig,
        response: &HttpResponse,
        id: Option<&RecordId>,
        operation: Operation,
    ) -> Result<RemoteRecord, ConnectorError> {
        let body = response
            .json_or_null()
            .map_err(|e| self.http.error(e, operation))?;
        let body = match (&config.items_field, body) {
            (_, Value::Object(map)) if map.contains_key(&config.id_field) => Value::Object(map),
            (Some(field), Value::Object(mut map)) => map.remove(field).unwrap_or(Value::Null),
            (None, Value::Object(mut map)) => map.remove("data").unwrap_or(Value::Null),
            (_, other) => other,
        };
        if body.get(&config.id_field).is_some() {
            return self.record(config, &body, operation);
        }
        match id {
            Some(id) => self.get(entity, id).await?.ok_or_else(|| {
                malformed(
                    &self.system,
                    operation,
                    format!("{entity} {id} is gone after the write"),
                )
            }),
            None => Err(malformed(
                &self.system,
                operation,
                "a create answer without the new record",
            )),
        }
    }

    fn item_url(&self, config: &RestEntityConfig, id: &RecordId) -> String {
        format!("{}{}/{}", self.base, config.path, segment(&id.to_string()))
    }
}

#[async_trait]
impl Connector for RestConnector {
    fn system(&self) -> &str {
        &self.system
    }

    fn idempotent_create(&self) -> bool {
        false
    }

    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let config = self.entity(entity, Operation::Changes)?;
        let mut scan = ScanCursor::parse(&self.system, cursor)?;
        let mut query: Vec<(String, String)> = config
            .list_query
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let (Some(param), Some(since)) = (&config.updated_since_param, scan.since_time())
            && config.updated_at_field.is_some()
        {
            let from = if config.updated_since_inclusive {
                since
            } else {
                since - chrono::TimeDelta::milliseconds(1)
            };
            query.push((
                param.clone(),
                from.to_rfc3339_opts(SecondsFormat::Millis, true),
            ));
        }
        let size = if limit == 0 { DEFAULT_SIZE } else { limit };
        let (items, next) = self
            .page(
                config,
                &query,
                scan.pos.as_deref(),
                size,
                Operation::Changes,
            )
            .await?;
        let mut records = Vec::with_capacity(items.len());
        for item in &items {
            let record = self.record(config, item, Operation::Changes)?;
            if config.updated_at_field.is_some() {
                let changed = record.updated_at.timestamp_millis();
                let key = id_key(&record.id);
                if scan.already_seen(changed, &key) {
                    continue;
                }
                scan.observe(changed, &key);
            }
            records.push(record);
        }
        Ok(scan.page(records, next))
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let config = self.entity(entity, Operation::Get)?;
        let url = self.item_url(config, id);
        match self
            .http
            .send(Replay::Safe, |c| self.request(c, Method::GET, &url))
            .await
        {
            Ok(response) => {
                let body = response
                    .json_or_null()
                    .map_err(|e| self.http.error(e, Operation::Get))?;
                let body = match body {
                    Value::Object(map)
                        if !map.contains_key(&config.id_field) && map.contains_key("data") =>
                    {
                        map.get("data").cloned().unwrap_or(Value::Null)
                    }
                    other => other,
                };
                match body {
                    Value::Null => Ok(None),
                    object => self.record(config, &object, Operation::Get).map(Some),
                }
            }
            Err(HttpError {
                status: Some(404 | 410),
                ..
            }) => Ok(None),
            Err(e) => Err(self.http.error(e, Operation::Get)),
        }
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let config = self.entity(entity, Operation::Create)?;
        if !data.is_object() {
            return Err(permanent(
                &self.system,
                Operation::Create,
                "record data must be a JSON object",
            ));
        }
        let body = Self::writable(config, data);
        let url = format!("{}{}", self.base, config.path);
        let response = self
            .send(Operation::Create, Replay::Unsafe, |c| {
                self.request(c, Method::POST, &url).json(&body)
            })
            .await?;
        self.written(entity, config, &response, None, Operation::Create)
            .await
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let config = self.entity(entity, Operation::Update)?;
        if !data.is_object() {
            return Err(permanent(
                &self.system,
                Operation::Update,
                "record data must be a JSON object",
            ));
        }
        let url = self.item_url(config, id);
        let (method, body) = match config.update {
            UpdateMethod::Patch => (Method::PATCH, Self::writable(config, data)),
            UpdateMethod::Put => {
                let Some(current) = self.get(entity, id).await? else {
                    return Err(permanent(
                        &self.system,
                        Operation::Update,
                        format!("{entity} {id} does not exist"),
                    ));
                };
                let mut merged = current.data;
                crate::json_path::merge(&mut merged, data);
                let mut body = Self::writable(config, &merged);
                if let (Some(field), Value::Object(map)) = (&config.updated_at_field, &mut body) {
                    map.remove(field);
                }
                (Method::PUT, body)
            }
        };
        let response = self
            .send(Operation::Update, Replay::Safe, |c| {
                self.request(c, method.clone(), &url).json(&body)
            })
            .await?;
        self.written(entity, config, &response, Some(id), Operation::Update)
            .await
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let config = self.entity(entity, Operation::Search)?;
        if crate::json_path::is_empty(value) {
            return Ok(Vec::new());
        }
        let mut query: Vec<(String, String)> = Vec::new();
        if config.search == SearchStyle::Filter
            && !property.contains('.')
            && let Some(text) = scalar_text(value)
        {
            query.push((property.to_string(), text.trim().to_string()));
        }
        let mut found = Vec::new();
        let mut pos: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let (items, next) = self
                .page(
                    config,
                    &query,
                    pos.as_deref(),
                    DEFAULT_SIZE,
                    Operation::Search,
                )
                .await?;
            for item in &items {
                let record = self.record(config, item, Operation::Search)?;
                if matches(&record.data, property, value) {
                    found.push(record);
                }
            }
            match next {
                Some(next) if pos.as_ref() != Some(&next) => pos = Some(next),
                _ => return Ok(found),
            }
        }
        Err(permanent(
            &self.system,
            Operation::Search,
            format!("more than {MAX_SEARCH_PAGES} pages to search"),
        ))
    }
}
