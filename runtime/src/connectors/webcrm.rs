//! WebCRM: a token from `POST /Auth/ApiLogin` (form `authCode`), refreshed with
//! `POST /Auth/ApiRefresh` a margin before it expires (falling back to a new login), lists
//! paged by `Page`/`Size` (bare arrays; a short or empty page ends), `POST` answering the
//! new integer id, and `PUT` full updates without a body.
//!
//! # Changes without an updated-since filter
//!
//! Lists cannot be filtered by change time. The default (`changes: query`) is a full list
//! scan the first time, then `GET /Queries?script=SELECT * FROM {Prefix} WHERE
//! {Prefix}UpdatedAt >= '…' ORDER BY {Prefix}UpdatedAt ASC` from the watermark of a
//! [`ScanCursor`]. Entities without a change time can be configured `changes: hash`: every
//! call continues a full scan, delivering the records whose content hash differs from the
//! one in the cursor (new or changed). The hashes live in the cursor (stored by the engine
//! with it, so they survive restarts; about 24 bytes per record).
//!
//! Updates read the record, merge the partial data, and `PUT` the whole record, then read
//! it back (the `PUT` answers nothing).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Client, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::config::{ApiKind, ChangeDetection, RefreshTokenIn, WebcrmConfig, base_url, env_secret};
use super::http::{HttpClient, HttpError, HttpResponse, Replay, Secret};
use super::poweroffice::needs_renewal;
use super::scan::{ScanCursor, id_key, malformed, matches, scalar_text, time_of, undated};
use super::{BuildOptions, ConfigError, lookup_entity, permanent, segment, unknown_entity};
use crate::connector::{Connector, ConnectorError, ErrorKind, Operation, Page, RemoteRecord};
use crate::flow::RecordId;

const MAX_SIZE: usize = 1000;
const DEFAULT_MARGIN: Duration = Duration::from_secs(300);
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// Pages a scanning search reads at most.
const MAX_SEARCH_PAGES: u64 = 100;

#[derive(Debug, Clone, PartialEq)]
struct Collection {
    path: String,
    prefix: String,
    id_field: String,
    updated_at_field: String,
    changes: ChangeDetection,
}

#[derive(Debug)]
struct Token {
    access: Secret,
    refresh: Option<Secret>,
    obtained: Instant,
    lifetime: Duration,
}

/// The cursor of `changes: hash`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HashCursor {
    /// The next page of the scan in progress (absent: start a new scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<u64>,
    /// Hashes as of the last complete scan.
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    /// Hashes seen by the scan in progress.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    scanning: BTreeMap<String, String>,
}

/// A short content hash of a record.
fn content_hash(value: &Value) -> String {
    let digest = Sha256::digest(serde_json::to_vec(value).unwrap_or_default());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A string literal of the `/Queries` language.
fn sql_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn default_collections() -> BTreeMap<String, Collection> {
    [
        ("Persons", "/Persons", "Person"),
        ("Organisations", "/Organisations", "Organisation"),
        ("Opportunities", "/Opportunities", "Opportunity"),
        ("Quotationline", "/QuotationLines", "QuotationLine"),
        ("Users", "/Users", "User"),
        ("Products", "/Products", "Product"),
    ]
    .into_iter()
    .map(|(entity, path, prefix)| {
        (
            entity.to_string(),
            Collection {
                path: path.to_string(),
                prefix: prefix.to_string(),
                id_field: format!("{prefix}Id"),
                updated_at_field: format!("{prefix}UpdatedAt"),
                changes: ChangeDetection::Query,
            },
        )
    })
    .collect()
}

#[derive(Debug)]
pub struct WebcrmConnector {
    system: String,
    base: String,
    auth_code: Secret,
    margin: Duration,
    refresh_in: RefreshTokenIn,
    page_size: Option<u32>,
    collections: BTreeMap<String, Collection>,
    token: tokio::sync::Mutex<Option<Token>>,
    http: HttpClient,
}

impl WebcrmConnector {
    pub fn new(
        system: &str,
        config: &WebcrmConfig,
        options: &BuildOptions<'_>,
    ) -> Result<Self, ConfigError> {
        let base = base_url(
            system,
            "base_url",
            config
                .base_url
                .as_deref()
                .unwrap_or("https://api.webcrm.com"),
        )?;
        let auth_code = env_secret(options.env, system, "auth_code_env", &config.auth_code_env)?;
        if let Some(size) = config.page_size
            && (size == 0 || size as usize > MAX_SIZE)
        {
            return Err(ConfigError::invalid(
                system,
                "page_size",
                format!("{size} is not between 1 and {MAX_SIZE}"),
            ));
        }
        let mut collections = default_collections();
        for (entity, c) in &config.entities {
            if !c.path.starts_with('/') {
                return Err(ConfigError::invalid(
                    system,
                    &format!("entities.{entity}.path"),
                    format!("{:?} must start with `/`", c.path),
                ));
            }
            if !is_identifier(&c.prefix) {
                return Err(ConfigError::invalid(
                    system,
                    &format!("entities.{entity}.prefix"),
                    format!("{:?} is not a field prefix", c.prefix),
                ));
            }
            let updated_at_field = c
                .updated_at_field
                .clone()
                .unwrap_or_else(|| format!("{}UpdatedAt", c.prefix));
            if !is_identifier(&updated_at_field) {
                return Err(ConfigError::invalid(
                    system,
                    &format!("entities.{entity}.updated_at_field"),
                    format!("{updated_at_field:?} is not a field name"),
                ));
            }
            collections.retain(|k, _| !k.eq_ignore_ascii_case(entity));
            collections.insert(
                entity.clone(),
                Collection {
                    path: c.path.clone(),
                    prefix: c.prefix.clone(),
                    id_field: c
                        .id_field
                        .clone()
                        .unwrap_or_else(|| format!("{}Id", c.prefix)),
                    updated_at_field,
                    changes: c.changes,
                },
            );
        }
        let limits = config.limits.resolve(system, ApiKind::Webcrm)?;
        let http = HttpClient::new(system, limits, vec![auth_code.clone()])
            .map_err(|m| ConfigError::invalid(system, "limits", m))?;
        Ok(WebcrmConnector {
            system: system.to_string(),
            base,
            auth_code,
            margin: config
                .token_renew_margin_secs
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_MARGIN),
            refresh_in: config.refresh_token_in,
            page_size: config.page_size,
            collections,
            token: tokio::sync::Mutex::new(None),
            http,
        })
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The entities this connector serves (the documents' names).
    pub fn entities(&self) -> Vec<String> {
        self.collections.keys().cloned().collect()
    }

    fn collection(
        &self,
        entity: &str,
        operation: Operation,
    ) -> Result<&Collection, ConnectorError> {
        lookup_entity(&self.collections, entity).ok_or_else(|| {
            unknown_entity(
                &self.system,
                operation,
                entity,
                &self.collections.keys().collect::<Vec<_>>(),
            )
        })
    }

    fn parse_tokens(
        &self,
        response: &HttpResponse,
        operation: Operation,
    ) -> Result<Token, ConnectorError> {
        let body = response.json().map_err(|e| self.http.error(e, operation))?;
        let access = body
            .get("AccessToken")
            .or_else(|| body.get("accessToken"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                malformed(
                    &self.system,
                    operation,
                    "a token answer without `AccessToken`",
                )
            })?;
        let refresh = body
            .get("RefreshToken")
            .or_else(|| body.get("refreshToken"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        let lifetime = body
            .get("ExpiresIn")
            .or_else(|| body.get("expiresIn"))
            .and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let access = Secret::new(access);
        self.http.add_secret(&access);
        if let Some(refresh) = &refresh {
            self.http.add_secret(refresh);
        }
        Ok(Token {
            access,
            refresh,
            obtained: Instant::now(),
            lifetime,
        })
    }

    async fn login(&self, operation: Operation) -> Result<Token, ConnectorError> {
        let url = format!("{}/Auth/ApiLogin", self.base);
        let body =
            super::form::to_body(&[("authCode".to_string(), self.auth_code.expose().to_string())]);
        let response = self
            .http
            .send(Replay::Safe, |c| {
                c.post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("accept", "application/json")
                    .body(body.clone())
            })
            .await
            .map_err(|mut e| {
                if e.kind == ErrorKind::Permanent {
                    e.message = format!("login refused ({}); check auth_code_env", e.message);
                }
                self.http.error(e, operation)
            })?;
        tracing::debug!(system = %self.system, "logged in");
        self.parse_tokens(&response, operation)
    }

    async fn refresh(
        &self,
        refresh: &Secret,
        operation: Operation,
    ) -> Result<Token, ConnectorError> {
        let url = format!("{}/Auth/ApiRefresh", self.base);
        let body =
            super::form::to_body(&[("refreshToken".to_string(), refresh.expose().to_string())]);
        let response = self
            .http
            .send(Replay::Safe, |c| {
                let mut request = c.post(&url).header("accept", "application/json");
                if matches!(
                    self.refresh_in,
                    RefreshTokenIn::Header | RefreshTokenIn::Both
                ) {
                    request = request.header("RefreshToken", refresh.expose());
                }
                if matches!(self.refresh_in, RefreshTokenIn::Form | RefreshTokenIn::Both) {
                    request = request
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(body.clone());
                }
                request
            })
            .await
            .map_err(|e| self.http.error(e, operation))?;
        tracing::debug!(system = %self.system, "refreshed the token");
        let mut token = self.parse_tokens(&response, operation)?;
        if token.refresh.is_none() {
            token.refresh = Some(refresh.clone());
        }
        Ok(token)
    }

    /// A valid access token: the current one, a refreshed one a margin before expiry, or a
    /// new login.
    async fn token(&self, operation: Operation) -> Result<Secret, ConnectorError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref() {
            if !needs_renewal(token.obtained, token.lifetime, self.margin, Instant::now()) {
                return Ok(token.access.clone());
            }
            if let Some(refresh) = token.refresh.clone() {
                match self.refresh(&refresh, operation).await {
                    Ok(fresh) => {
                        let access = fresh.access.clone();
                        *slot = Some(fresh);
                        return Ok(access);
                    }
                    Err(e) if e.kind == ErrorKind::Permanent => {
                        tracing::debug!(system = %self.system, error = %e, "refresh refused; logging in again");
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let fresh = self.login(operation).await?;
        let access = fresh.access.clone();
        *slot = Some(fresh);
        Ok(access)
    }

    async fn invalidate(&self, used: &Secret) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| &t.access == used) {
            *slot = None;
        }
    }

    /// An authorized request; a 401 logs in again once.
    async fn call(
        &self,
        operation: Operation,
        replay: Replay,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<HttpResponse, HttpError> {
        self.http
            .send_authorized(
                replay,
                || async move { self.token(operation).await.map_err(HttpError::from) },
                |used| async move { self.invalidate(&used).await },
                |c, token| {
                    build(c)
                        .bearer_auth(token.expose())
                        .header("accept", "application/json")
                },
            )
            .await
    }

    /// [`Self::call`] with the error for the engine.
    async fn call_ok(
        &self,
        operation: Operation,
        replay: Replay,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<HttpResponse, ConnectorError> {
        self.call(operation, replay, build)
            .await
            .map_err(|e| self.http.error(e, operation))
    }

    fn record(
        &self,
        collection: &Collection,
        object: &Value,
        operation: Operation,
    ) -> Result<RemoteRecord, ConnectorError> {
        let id = object
            .get(&collection.id_field)
            .and_then(RecordId::from_json)
            .ok_or_else(|| {
                malformed(
                    &self.system,
                    operation,
                    format!("a record without `{}`", collection.id_field),
                )
            })?;
        let updated_at =
            time_of(object, &[collection.updated_at_field.as_str()]).unwrap_or_else(undated);
        Ok(RemoteRecord {
            id,
            updated_at,
            data: object.clone(),
        })
    }

    fn size(&self, limit: usize) -> usize {
        self.page_size
            .map_or(limit, |s| s as usize)
            .clamp(1, MAX_SIZE)
    }

    /// One page of a list: the objects, and whether it was full.
    async fn list_page(
        &self,
        collection: &Collection,
        page: u64,
        size: usize,
        operation: Operation,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        let url = format!("{}{}", self.base, collection.path);
        let query = [("Page", page.to_string()), ("Size", size.to_string())];
        let response = self
            .call_ok(operation, Replay::Safe, |c| c.get(&url).query(&query))
            .await?;
        match response
            .json_or_null()
            .map_err(|e| self.http.error(e, operation))?
        {
            Value::Null => Ok((Vec::new(), false)),
            Value::Array(items) => {
                let full = items.len() >= size;
                Ok((items, full))
            }
            _ => Err(malformed(
                &self.system,
                operation,
                "a list answer that is not an array",
            )),
        }
    }

    async fn query(
        &self,
        script: &str,
        operation: Operation,
    ) -> Result<Vec<Value>, ConnectorError> {
        let url = format!("{}/Queries", self.base);
        let query = [("script", script)];
        let response = self
            .call_ok(operation, Replay::Safe, |c| c.get(&url).query(&query))
            .await?;
        match response
            .json_or_null()
            .map_err(|e| self.http.error(e, operation))?
        {
            Value::Null => Ok(Vec::new()),
            Value::Array(rows) => Ok(rows),
            _ => Err(malformed(
                &self.system,
                operation,
                "a query answer that is not an array",
            )),
        }
    }

    async fn changes_by_query(
        &self,
        collection: &Collection,
        mut scan: ScanCursor,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let Some(since) = scan.since_time().filter(|_| scan.pos.is_none()) else {
            // The first time (or a scan in progress): page through everything.
            let page = scan
                .pos
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1u64);
            let (items, full) = self
                .list_page(collection, page, self.size(limit), Operation::Changes)
                .await?;
            let mut records = Vec::with_capacity(items.len());
            for item in &items {
                let record = self.record(collection, item, Operation::Changes)?;
                let key = id_key(&record.id);
                let changed = record.updated_at.timestamp_millis();
                if scan.already_seen(changed, &key) {
                    continue;
                }
                scan.observe(changed, &key);
                records.push(record);
            }
            if full {
                scan.pos = Some((page + 1).to_string());
            } else {
                scan.finish();
            }
            return Ok(Page {
                records,
                cursor: Some(scan.encode()),
                more: full,
            });
        };
        let field = &collection.updated_at_field;
        let script = format!(
            "SELECT * FROM {} WHERE {field} >= {} ORDER BY {field} ASC",
            collection.prefix,
            sql_literal(&since.format("%Y-%m-%dT%H:%M:%S").to_string())
        );
        let rows = self.query(&script, Operation::Changes).await?;
        let mut fresh = Vec::new();
        for row in &rows {
            let record = self.record(collection, row, Operation::Changes)?;
            if !scan.already_seen(record.updated_at.timestamp_millis(), &id_key(&record.id)) {
                fresh.push(record);
            }
        }
        fresh.sort_by_key(|r| r.updated_at);
        let limit = limit.max(1);
        let more = fresh.len() > limit;
        fresh.truncate(limit);
        // Sorted by change time, so everything before the last one taken is delivered.
        for record in &fresh {
            scan.observe(record.updated_at.timestamp_millis(), &id_key(&record.id));
        }
        scan.finish();
        Ok(Page {
            records: fresh,
            cursor: Some(scan.encode()),
            more,
        })
    }

    async fn changes_by_hash(
        &self,
        collection: &Collection,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let mut state: HashCursor = match cursor {
            None => HashCursor::default(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                permanent(
                    &self.system,
                    Operation::Changes,
                    format!(
                        "cursor was not written by this connector ({e}); reset the entity's cursor"
                    ),
                )
            })?,
        };
        let page = state.page.unwrap_or(1);
        let (items, full) = self
            .list_page(collection, page, self.size(limit), Operation::Changes)
            .await?;
        let mut records = Vec::new();
        for item in &items {
            let record = self.record(collection, item, Operation::Changes)?;
            let key = id_key(&record.id);
            let hash = content_hash(&record.data);
            if state.hashes.get(&key) != Some(&hash) && state.scanning.get(&key) != Some(&hash) {
                records.push(record);
            }
            state.scanning.insert(key, hash);
        }
        if full {
            state.page = Some(page + 1);
        } else {
            state.page = None;
            state.hashes = std::mem::take(&mut state.scanning);
        }
        let cursor = serde_json::to_string(&state).unwrap_or_default();
        Ok(Page {
            records,
            cursor: Some(cursor),
            more: full,
        })
    }

    async fn fetch(
        &self,
        collection: &Collection,
        id: &RecordId,
        operation: Operation,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let url = format!(
            "{}{}/{}",
            self.base,
            collection.path,
            segment(&id.to_string())
        );
        let result = self.call(operation, Replay::Safe, |c| c.get(&url)).await;
        match result {
            Ok(response) => match response
                .json_or_null()
                .map_err(|e| self.http.error(e, operation))?
            {
                Value::Null => Ok(None),
                object @ Value::Object(_) => self.record(collection, &object, operation).map(Some),
                _ => Err(malformed(
                    &self.system,
                    operation,
                    "a record that is not an object",
                )),
            },
            Err(HttpError {
                status: Some(404), ..
            }) => Ok(None),
            Err(e) => Err(self.http.error(e, operation)),
        }
    }

    async fn scan_all(&self, collection: &Collection) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let mut all = Vec::new();
        for page in 1..=MAX_SEARCH_PAGES {
            let (items, full) = self
                .list_page(collection, page, MAX_SIZE, Operation::Search)
                .await?;
            for item in &items {
                all.push(self.record(collection, item, Operation::Search)?);
            }
            if !full {
                return Ok(all);
            }
        }
        Err(permanent(
            &self.system,
            Operation::Search,
            format!(
                "more than {} records to search",
                MAX_SEARCH_PAGES as usize * MAX_SIZE
            ),
        ))
    }
}

#[async_trait]
impl Connector for WebcrmConnector {
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
        let collection = self.collection(entity, Operation::Changes)?;
        match collection.changes {
            ChangeDetection::Query => {
                let scan = ScanCursor::parse(&self.system, cursor)?;
                self.changes_by_query(collection, scan, limit).await
            }
            ChangeDetection::Hash => self.changes_by_hash(collection, cursor, limit).await,
        }
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let collection = self.collection(entity, Operation::Get)?;
        self.fetch(collection, id, Operation::Get).await
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let collection = self.collection(entity, Operation::Create)?;
        if !data.is_object() {
            return Err(permanent(
                &self.system,
                Operation::Create,
                "record data must be a JSON object",
            ));
        }
        let body = crate::json_path::strip_nulls(data);
        let url = format!("{}{}", self.base, collection.path);
        let response = self
            .call_ok(Operation::Create, Replay::Unsafe, |c| {
                c.post(&url).json(&body)
            })
            .await?;
        let answer = response
            .json_or_null()
            .map_err(|e| self.http.error(e, Operation::Create))?;
        let id = match &answer {
            Value::Object(_) => answer
                .get(&collection.id_field)
                .and_then(RecordId::from_json),
            Value::String(s) => s
                .trim()
                .trim_matches('"')
                .parse::<i64>()
                .ok()
                .map(RecordId::Int),
            other => RecordId::from_json(other),
        }
        .ok_or_else(|| {
            malformed(
                &self.system,
                Operation::Create,
                "a create answer without the new id",
            )
        })?;
        match self.fetch(collection, &id, Operation::Create).await? {
            Some(record) => Ok(record),
            None => Err(malformed(
                &self.system,
                Operation::Create,
                format!("record {id} is gone right after its create"),
            )),
        }
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let collection = self.collection(entity, Operation::Update)?;
        if !data.is_object() {
            return Err(permanent(
                &self.system,
                Operation::Update,
                "record data must be a JSON object",
            ));
        }
        let Some(current) = self.fetch(collection, id, Operation::Update).await? else {
            return Err(permanent(
                &self.system,
                Operation::Update,
                format!("{entity} {id} does not exist"),
            ));
        };
        let mut merged = current.data;
        crate::json_path::merge(&mut merged, data);
        let url = format!(
            "{}{}/{}",
            self.base,
            collection.path,
            segment(&id.to_string())
        );
        self.call_ok(Operation::Update, Replay::Safe, |c| {
            c.put(&url).json(&merged)
        })
        .await?;
        match self.fetch(collection, id, Operation::Update).await? {
            Some(record) => Ok(record),
            None => Err(malformed(
                &self.system,
                Operation::Update,
                format!("{entity} {id} is gone right after its update"),
            )),
        }
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let collection = self.collection(entity, Operation::Search)?;
        if crate::json_path::is_empty(value) {
            return Ok(Vec::new());
        }
        let candidates = match scalar_text(value) {
            Some(text)
                if collection.changes == ChangeDetection::Query && is_identifier(property) =>
            {
                let script = format!(
                    "SELECT * FROM {} WHERE {property} = {}",
                    collection.prefix,
                    sql_literal(text.trim())
                );
                let rows = self.query(&script, Operation::Search).await?;
                rows.iter()
                    .map(|r| self.record(collection, r, Operation::Search))
                    .collect::<Result<Vec<_>, _>>()?
            }
            _ => self.scan_all(collection).await?,
        };
        Ok(candidates
            .into_iter()
            .filter(|r| matches(&r.data, property, value))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_are_escaped_and_hashes_stable() {
        assert_eq!(sql_literal("O'Brien"), "'O''Brien'");
        assert!(is_identifier("PersonEmail"));
        assert!(!is_identifier("PersonEmail = '' OR 1"));
        let a = content_hash(&json!({"PersonId": 1, "PersonEmail": "a"}));
        assert_eq!(a.len(), 16);
        assert_eq!(a, content_hash(&json!({"PersonId": 1, "PersonEmail": "a"})));
        assert_ne!(a, content_hash(&json!({"PersonId": 1, "PersonEmail": "b"})));
    }
}
