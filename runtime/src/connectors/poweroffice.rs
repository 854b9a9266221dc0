//! PowerOffice Go API v2: a client-credentials token (`POST /OAuth/Token` with
//! Basic(ApplicationKey:ClientKey) and `Ocp-Apim-Subscription-Key`) renewed a margin before
//! it expires, bare JSON array lists paged by `PageNumber`/`PageSize` (a short page or 204
//! ends), incremental reads with `lastChangedDateTimeOffsetGreaterThan`, JSON Patch
//! updates, and sales orders created with their lines by `POST /SalesOrders/Complete`.
//!
//! Names: the API is PascalCase and binds names case-insensitively, while documents spell
//! some of them in camelCase (`emailAddress`). Writes send PascalCase; records come back in
//! the documents' spelling where the documents use one (from the build options, the
//! configuration's `properties`, and the names seen in writes and searches), the API's
//! spelling otherwise.
//!
//! Sales order lines (`Salesorderlines`) have no list of their own: their changes are the
//! lines of the sales orders that changed, and their record id is `"{orderId}/{lineId}"`
//! so that a line can be read and written without a lookup.
//!
//! Cursor: a [`ScanCursor`] over `LastChangedDateTimeOffset` (of the parent for lines)
//! whose scan position is the next page number.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::SecondsFormat;
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::config::{ApiKind, PowerofficeConfig, PowerofficeEntityConfig, base_url, env_secret};
use super::http::{HttpClient, HttpError, HttpResponse, Replay, Secret};
use super::scan::{ScanCursor, id_key, malformed, matches, scalar_text, time_of, undated};
use super::{BuildOptions, ConfigError, lookup_entity, permanent, segment, unknown_entity};
use crate::connector::{Connector, ConnectorError, ErrorKind, Operation, Page, RemoteRecord};
use crate::flow::RecordId;

const MAX_PAGE_SIZE: usize = 20_000;
const DEFAULT_MARGIN: Duration = Duration::from_secs(120);
/// Tokens live 20 minutes when the answer does not say.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(1200);
const TIME_FIELDS: [&str; 3] = [
    "LastChangedDateTimeOffset",
    "LastChanged",
    "CreatedDateTimeOffset",
];
/// Pages a search reads at most.
const MAX_SEARCH_PAGES: usize = 50;

#[derive(Debug, Clone, PartialEq)]
struct Endpoint {
    path: String,
    filter: BTreeMap<String, Value>,
    parent: Option<String>,
    parent_field: String,
    create_path: Option<String>,
    incremental: bool,
    /// See `PowerofficeEntityConfig::owner_field`.
    owner_field: Option<String>,
}

#[derive(Debug)]
struct Token {
    value: Secret,
    obtained: Instant,
    lifetime: Duration,
}

/// Whether a token obtained at `obtained` that lives `lifetime` must be renewed at `now`,
/// `margin` ahead of its expiry.
pub fn needs_renewal(
    obtained: Instant,
    lifetime: Duration,
    margin: Duration,
    now: Instant,
) -> bool {
    now + margin >= obtained + lifetime
}

#[derive(Debug)]
pub struct PowerofficeConnector {
    system: String,
    base: String,
    token_url: String,
    application_key: Secret,
    client_key: Secret,
    subscription_key: Secret,
    margin: Duration,
    page_size: Option<u32>,
    endpoints: BTreeMap<String, Endpoint>,
    /// Per entity (lowercase): lowercase name → the documents' spelling.
    spellings: Mutex<HashMap<String, HashMap<String, String>>>,
    token: tokio::sync::Mutex<Option<Token>>,
    http: HttpClient,
}

fn endpoint(path: &str, filter: &[(&str, Value)]) -> Endpoint {
    Endpoint {
        path: path.to_string(),
        filter: filter
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        parent: None,
        parent_field: "SalesOrderId".to_string(),
        create_path: None,
        incremental: true,
        owner_field: None,
    }
}

fn default_endpoints() -> BTreeMap<String, Endpoint> {
    let mut map = BTreeMap::new();
    map.insert(
        "Customers".to_string(),
        endpoint("/Customers", &[("IsPerson", json!(false))]),
    );
    map.insert(
        "Customers person".to_string(),
        endpoint("/Customers", &[("IsPerson", json!(true))]),
    );
    map.insert(
        "Contactperson".to_string(),
        Endpoint {
            owner_field: Some("ContactId".to_string()),
            ..endpoint("/ContactPersons", &[])
        },
    );
    map.insert("Employees".to_string(), endpoint("/Employees", &[]));
    map.insert("Departments".to_string(), endpoint("/Departments", &[]));
    map.insert("Product".to_string(), endpoint("/Products", &[]));
    map.insert(
        "Salesorders".to_string(),
        Endpoint {
            create_path: Some("/SalesOrders/Complete".to_string()),
            ..endpoint("/SalesOrders", &[])
        },
    );
    map.insert(
        "Salesorderlines".to_string(),
        Endpoint {
            parent: Some("Salesorders".to_string()),
            incremental: false,
            ..endpoint("/SalesOrders/{parent}/Lines", &[])
        },
    );
    map
}

/// `emailAddress` → `EmailAddress`.
pub fn pascal(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// PowerOffice Go's numeric fields besides ids.
const NUMERIC_FIELDS: [&str; 9] = [
    "Number",
    "OrderNo",
    "SortOrder",
    "Quantity",
    "ProductUnitPrice",
    "SalesPrice",
    "CostPrice",
    "DiscountPercent",
    "VatRate",
];

/// `data` (API names) in PowerOffice Go's types: ids of customers, contacts, employees,
/// products and departments (`…Id` members holding integer text) are int64s, numeric
/// fields are numbers, `Is…` flags are booleans. GUIDs and other text stay text.
pub fn to_api_types(value: &Value) -> Value {
    fn scalar(field: &str, value: &Value) -> Value {
        let Value::String(text) = value else {
            return value.clone();
        };
        let converted = if field.ends_with("Id") {
            super::coerce::parse_integer(text).map(Value::from)
        } else if NUMERIC_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(field)) {
            super::coerce::numeric_text(value)
        } else if field.starts_with("Is") {
            match text.trim().to_ascii_lowercase().as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            }
        } else {
            None
        };
        converted.unwrap_or_else(|| value.clone())
    }
    fn walk(value: &Value, field: &str) -> Value {
        match value {
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v, k))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, field)).collect()),
            other => scalar(field, other),
        }
    }
    walk(value, "")
}

/// Every object key made PascalCase, recursively.
pub fn to_api_names(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (pascal(k), to_api_names(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(to_api_names).collect()),
        other => other.clone(),
    }
}

fn respell(value: &Value, spellings: &HashMap<String, String>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = spellings
                        .get(&k.to_lowercase())
                        .cloned()
                        .unwrap_or_else(|| k.clone());
                    (key, respell(v, spellings))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| respell(i, spellings)).collect()),
        other => other.clone(),
    }
}

/// A member by name, case-insensitively.
fn get_ci<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// RFC 6901 escaping of one path token.
fn pointer_token(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// JSON Patch `replace` operations setting `data`'s members: nested objects merge (one
/// operation per leaf), anything else replaces.
pub fn json_patch(data: &Value) -> Vec<Value> {
    fn walk(prefix: &str, value: &Value, out: &mut Vec<Value>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    walk(&format!("{prefix}/{}", pointer_token(k)), v, out);
                }
            }
            other => out.push(json!({"op": "replace", "path": prefix, "value": other})),
        }
    }
    let mut out = Vec::new();
    if let Value::Object(map) = data {
        for (k, v) in map {
            walk(&format!("/{}", pointer_token(k)), v, &mut out);
        }
    }
    out
}

impl PowerofficeConnector {
    pub fn new(
        system: &str,
        config: &PowerofficeConfig,
        options: &BuildOptions<'_>,
    ) -> Result<Self, ConfigError> {
        let base = base_url(
            system,
            "base_url",
            config
                .base_url
                .as_deref()
                .unwrap_or("https://goapi.poweroffice.net/v2"),
        )?;
        let token_url = base_url(
            system,
            "token_url",
            config
                .token_url
                .as_deref()
                .unwrap_or("https://goapi.poweroffice.net/OAuth/Token"),
        )?;
        let application_key = env_secret(
            options.env,
            system,
            "application_key_env",
            &config.application_key_env,
        )?;
        let client_key = env_secret(
            options.env,
            system,
            "client_key_env",
            &config.client_key_env,
        )?;
        let subscription_key = env_secret(
            options.env,
            system,
            "subscription_key_env",
            &config.subscription_key_env,
        )?;
        if let Some(size) = config.page_size
            && (size == 0 || size as usize > MAX_PAGE_SIZE)
        {
            return Err(ConfigError::invalid(
                system,
                "page_size",
                format!("{size} is not between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let mut endpoints = default_endpoints();
        for (entity, c) in &config.entities {
            let PowerofficeEntityConfig {
                path,
                filter,
                parent,
                parent_field,
                create_path,
                incremental,
                owner_field,
            } = c;
            let key = |k: &str| format!("entities.{entity}.{k}");
            if !path.starts_with('/') {
                return Err(ConfigError::invalid(
                    system,
                    &key("path"),
                    format!("{path:?} must start with `/`"),
                ));
            }
            if parent.is_some() != path.contains("{parent}") {
                return Err(ConfigError::invalid(
                    system,
                    &key("path"),
                    "a child entity (with `parent`) needs `{parent}` in its path, and only a child entity may have it",
                ));
            }
            if let Some((k, v)) = filter.iter().find(|(_, v)| scalar_text(v).is_none()) {
                return Err(ConfigError::invalid(
                    system,
                    &key(&format!("filter.{k}")),
                    format!("{v} is not a scalar"),
                ));
            }
            endpoints.retain(|k, _| !k.eq_ignore_ascii_case(entity));
            endpoints.insert(
                entity.clone(),
                Endpoint {
                    path: path.clone(),
                    filter: filter.clone(),
                    parent: parent.clone(),
                    parent_field: parent_field
                        .clone()
                        .unwrap_or_else(|| "SalesOrderId".to_string()),
                    create_path: create_path.clone(),
                    incremental: *incremental,
                    owner_field: owner_field.clone(),
                },
            );
        }
        for (entity, e) in &endpoints {
            if let Some(parent) = &e.parent
                && lookup_entity(&endpoints, parent).is_none_or(|p| p.parent.is_some())
            {
                return Err(ConfigError::invalid(
                    system,
                    &format!("entities.{entity}.parent"),
                    format!("`{parent}` is not a top-level entity of this connector"),
                ));
            }
        }
        let mut spellings: HashMap<String, HashMap<String, String>> = HashMap::new();
        for (entity, names) in options.properties.iter().chain(&config.properties) {
            let map = spellings.entry(entity.to_lowercase()).or_default();
            for segment in names.iter().flat_map(|n| n.split('.')) {
                map.insert(segment.to_lowercase(), segment.to_string());
            }
        }
        let limits = config.limits.resolve(system, ApiKind::Poweroffice)?;
        let secrets = vec![
            application_key.clone(),
            client_key.clone(),
            subscription_key.clone(),
        ];
        let http = HttpClient::new(system, limits, secrets)
            .map_err(|m| ConfigError::invalid(system, "limits", m))?;
        Ok(PowerofficeConnector {
            system: system.to_string(),
            base,
            token_url,
            application_key,
            client_key,
            subscription_key,
            margin: config
                .token_renew_margin_secs
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_MARGIN),
            page_size: config.page_size,
            endpoints,
            spellings: Mutex::new(spellings),
            token: tokio::sync::Mutex::new(None),
            http,
        })
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The entities this connector serves (the documents' names).
    pub fn entities(&self) -> Vec<String> {
        self.endpoints.keys().cloned().collect()
    }

    fn endpoint(&self, entity: &str, operation: Operation) -> Result<&Endpoint, ConnectorError> {
        lookup_entity(&self.endpoints, entity).ok_or_else(|| {
            unknown_entity(
                &self.system,
                operation,
                entity,
                &self.endpoints.keys().collect::<Vec<_>>(),
            )
        })
    }

    /// A valid token, renewed `margin` before expiry.
    async fn token(&self, operation: Operation) -> Result<Secret, ConnectorError> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && !needs_renewal(token.obtained, token.lifetime, self.margin, Instant::now())
        {
            return Ok(token.value.clone());
        }
        let obtained = Instant::now();
        let response = self
            .http
            .send(Replay::Safe, |c| {
                c.post(&self.token_url)
                    .basic_auth(self.application_key.expose(), Some(self.client_key.expose()))
                    .header("Ocp-Apim-Subscription-Key", self.subscription_key.expose())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("accept", "application/json")
                    .body("grant_type=client_credentials")
            })
            .await
            .map_err(|mut e| {
                if e.kind == ErrorKind::Permanent {
                    e.message = format!(
                        "token request refused ({}); check application_key_env, client_key_env and subscription_key_env",
                        e.message
                    );
                }
                self.http.error(e, operation)
            })?;
        let body = response.json().map_err(|e| self.http.error(e, operation))?;
        let value = body
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                malformed(
                    &self.system,
                    operation,
                    "a token answer without `access_token`",
                )
            })?;
        let lifetime = body
            .get("expires_in")
            .and_then(|v| {
                v.as_f64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let value = Secret::new(value);
        self.http.add_secret(&value);
        tracing::debug!(system = %self.system, lifetime_s = lifetime.as_secs(), "obtained an access token");
        *slot = Some(Token {
            value: value.clone(),
            obtained,
            lifetime,
        });
        Ok(value)
    }

    /// Forgets `used` if it is still the current token (the API refused it).
    async fn invalidate(&self, used: &Secret) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| &t.value == used) {
            *slot = None;
        }
    }

    /// An authorized request; a 401 renews the token once.
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
                        .header("Ocp-Apim-Subscription-Key", self.subscription_key.expose())
                        .header("accept", "application/json")
                },
            )
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn learn(&self, entity: &str, names: impl IntoIterator<Item = String>) {
        let mut spellings = self.spellings.lock().unwrap_or_else(|e| e.into_inner());
        let map = spellings.entry(entity.to_lowercase()).or_default();
        for name in names {
            for segment in name.split('.') {
                map.entry(segment.to_lowercase())
                    .or_insert_with(|| segment.to_string());
            }
        }
    }

    fn learn_data(&self, entity: &str, data: &Value) {
        fn keys(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (k, v) in map {
                        out.push(k.clone());
                        keys(v, out);
                    }
                }
                Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
                _ => {}
            }
        }
        let mut names = Vec::new();
        keys(data, &mut names);
        self.learn(entity, names);
    }

    /// A record in the documents' spelling.
    fn record(
        &self,
        entity: &str,
        object: &Value,
        id: RecordId,
        fallback_time: Option<&Value>,
    ) -> RemoteRecord {
        let updated_at = time_of(object, &TIME_FIELDS)
            .or_else(|| fallback_time.and_then(|p| time_of(p, &TIME_FIELDS)))
            .unwrap_or_else(undated);
        let spellings = self.spellings.lock().unwrap_or_else(|e| e.into_inner());
        let data = match spellings.get(&entity.to_lowercase()) {
            Some(map) => respell(object, map),
            None => object.clone(),
        };
        RemoteRecord {
            id,
            updated_at,
            data,
        }
    }

    fn object_id(&self, object: &Value, operation: Operation) -> Result<RecordId, ConnectorError> {
        get_ci(object, "Id")
            .and_then(RecordId::from_json)
            .ok_or_else(|| malformed(&self.system, operation, "an object without `Id`"))
    }

    fn in_filter(endpoint: &Endpoint, object: &Value) -> bool {
        endpoint
            .filter
            .iter()
            .all(|(k, want)| match get_ci(object, k) {
                Some(have) => have == want || scalar_text(have) == scalar_text(want),
                None => want == &Value::Bool(false),
            })
    }

    fn page_size(&self, limit: usize) -> usize {
        self.page_size
            .map_or(limit, |s| s as usize)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// One page of a collection: the objects, and whether it was full.
    async fn list_page(
        &self,
        operation: Operation,
        path: &str,
        query: &[(String, String)],
        page: u64,
        size: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        let mut query = query.to_vec();
        query.push(("PageNumber".into(), page.to_string()));
        query.push(("PageSize".into(), size.to_string()));
        let url = self.url(path);
        let response = self
            .call(operation, Replay::Safe, |c| c.get(&url).query(&query))
            .await
            .map_err(|e| self.http.error(e, operation))?;
        let items = match response
            .json_or_null()
            .map_err(|e| self.http.error(e, operation))?
        {
            Value::Null => Vec::new(),
            Value::Array(items) => items,
            _ => {
                return Err(malformed(
                    &self.system,
                    operation,
                    "a list answer that is not an array",
                ));
            }
        };
        let full = items.len() >= size;
        Ok((items, full))
    }

    fn filter_query(endpoint: &Endpoint) -> Vec<(String, String)> {
        endpoint
            .filter
            .iter()
            .filter_map(|(k, v)| scalar_text(v).map(|t| (k.clone(), t)))
            .collect()
    }

    /// The lines of one sales order (or other parent), as records of `entity`.
    async fn children(
        &self,
        entity: &str,
        endpoint: &Endpoint,
        parent: &Value,
        operation: Operation,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let parent_id = self.object_id(parent, operation)?;
        let path = endpoint
            .path
            .replace("{parent}", &segment(&parent_id.to_string()));
        let mut records = Vec::new();
        let mut page = 1;
        loop {
            let (items, full) = self
                .list_page(operation, &path, &[], page, MAX_PAGE_SIZE)
                .await?;
            for mut item in items {
                let line_id = self.object_id(&item, operation)?;
                if let Value::Object(map) = &mut item
                    && get_ci(&Value::Object(map.clone()), &endpoint.parent_field).is_none()
                {
                    map.insert(endpoint.parent_field.clone(), parent_id.to_json());
                }
                let id = RecordId::Text(format!("{parent_id}/{line_id}"));
                records.push(self.record(entity, &item, id, Some(parent)));
            }
            if !full {
                return Ok(records);
            }
            page += 1;
        }
    }

    /// `"{orderId}/{lineId}"` → the two parts.
    fn split_child_id(
        &self,
        id: &RecordId,
        operation: Operation,
    ) -> Result<(String, String), ConnectorError> {
        let text = id.to_string();
        match text.split_once('/') {
            Some((parent, child)) if !parent.is_empty() && !child.is_empty() => {
                Ok((parent.to_string(), child.to_string()))
            }
            _ => Err(permanent(
                &self.system,
                operation,
                format!("`{text}` is not a line id of the form `{{orderId}}/{{lineId}}`"),
            )),
        }
    }

    async fn get_object(
        &self,
        operation: Operation,
        path: &str,
    ) -> Result<Option<Value>, ConnectorError> {
        let url = self.url(path);
        match self.call(operation, Replay::Safe, |c| c.get(&url)).await {
            Ok(response) => match response
                .json_or_null()
                .map_err(|e| self.http.error(e, operation))?
            {
                Value::Null => Ok(None),
                object @ Value::Object(_) => Ok(Some(object)),
                _ => Err(malformed(
                    &self.system,
                    operation,
                    "an answer that is not an object",
                )),
            },
            Err(e) if e.is_status(404) => Ok(None),
            Err(e) => Err(self.http.error(e, operation)),
        }
    }

    async fn changes_of_children(
        &self,
        entity: &str,
        endpoint: &Endpoint,
        parent: &Endpoint,
        mut scan: ScanCursor,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let page = scan
            .pos
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1u64);
        let size = self.page_size(limit);
        let mut query = Self::filter_query(parent);
        if parent.incremental
            && let Some(since) = scan.since_time()
        {
            let from = since - chrono::TimeDelta::milliseconds(1);
            query.push((
                "lastChangedDateTimeOffsetGreaterThan".into(),
                from.to_rfc3339_opts(SecondsFormat::Millis, false),
            ));
        }
        let (orders, full) = self
            .list_page(Operation::Changes, &parent.path, &query, page, size)
            .await?;
        let mut records = Vec::new();
        for order in orders.iter().filter(|o| Self::in_filter(parent, o)) {
            let order_id = id_key(&self.object_id(order, Operation::Changes)?);
            let changed = time_of(order, &TIME_FIELDS)
                .unwrap_or_else(undated)
                .timestamp_millis();
            if scan.already_seen(changed, &order_id) {
                continue;
            }
            scan.observe(changed, &order_id);
            records.extend(
                self.children(entity, endpoint, order, Operation::Changes)
                    .await?,
            );
        }
        if full {
            scan.pos = Some((page + 1).to_string());
        } else {
            scan.finish();
        }
        Ok(Page {
            records,
            cursor: Some(scan.encode()),
            more: full,
        })
    }

    async fn search_pages(
        &self,
        entity: &str,
        endpoint: &Endpoint,
        query: &[(String, String)],
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let mut found = Vec::new();
        for page in 1..=MAX_SEARCH_PAGES as u64 {
            let (items, full) = self
                .list_page(Operation::Search, &endpoint.path, query, page, 1000)
                .await?;
            for item in items.iter().filter(|o| Self::in_filter(endpoint, o)) {
                let id = self.object_id(item, Operation::Search)?;
                found.push(self.record(entity, item, id, None));
            }
            if !full {
                return Ok(found);
            }
        }
        Err(permanent(
            &self.system,
            Operation::Search,
            format!("more than {} records to search", MAX_SEARCH_PAGES * 1000),
        ))
    }

    /// One record found through the list filtered by `Id` (for entities the API addresses
    /// only under their owner).
    async fn find_by_id(
        &self,
        endpoint: &Endpoint,
        id: &RecordId,
        operation: Operation,
    ) -> Result<Option<Value>, ConnectorError> {
        let mut query = Self::filter_query(endpoint);
        query.push(("Id".into(), id.to_string()));
        let (items, _) = self
            .list_page(operation, &endpoint.path, &query, 1, 1000)
            .await?;
        Ok(items.into_iter().find(|o| {
            get_ci(o, "Id")
                .and_then(RecordId::from_json)
                .is_some_and(|found| &found == id)
        }))
    }

    /// The object of a write answer: the body, or (204) the record read back.
    async fn written(
        &self,
        entity: &str,
        response: &HttpResponse,
        id: Option<RecordId>,
        operation: Operation,
    ) -> Result<RemoteRecord, ConnectorError> {
        let body = response
            .json_or_null()
            .map_err(|e| self.http.error(e, operation))?;
        if body.is_object() {
            let id = match id {
                Some(id) => id,
                None => self.object_id(&body, operation)?,
            };
            return Ok(self.record(entity, &body, id, None));
        }
        match id {
            Some(id) => self.get(entity, &id).await?.ok_or_else(|| {
                malformed(
                    &self.system,
                    operation,
                    format!("record {id} is gone after the write"),
                )
            }),
            None => Err(malformed(
                &self.system,
                operation,
                "a create answer without the object",
            )),
        }
    }
}

#[async_trait]
impl Connector for PowerofficeConnector {
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
        let endpoint = self.endpoint(entity, Operation::Changes)?;
        let mut scan = ScanCursor::parse(&self.system, cursor)?;
        if let Some(parent) = &endpoint.parent {
            let parent = self.endpoint(parent, Operation::Changes)?;
            return self
                .changes_of_children(entity, endpoint, parent, scan, limit)
                .await;
        }
        let page = scan
            .pos
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1u64);
        let size = self.page_size(limit);
        let mut query = Self::filter_query(endpoint);
        if endpoint.incremental
            && let Some(since) = scan.since_time()
        {
            // Strictly greater: start a millisecond before the watermark.
            let from = since - chrono::TimeDelta::milliseconds(1);
            query.push((
                "lastChangedDateTimeOffsetGreaterThan".into(),
                from.to_rfc3339_opts(SecondsFormat::Millis, false),
            ));
        }
        let (items, full) = self
            .list_page(Operation::Changes, &endpoint.path, &query, page, size)
            .await?;
        let mut records = Vec::new();
        for item in items.iter().filter(|o| Self::in_filter(endpoint, o)) {
            let id = self.object_id(item, Operation::Changes)?;
            let record = self.record(entity, item, id, None);
            let changed = record.updated_at.timestamp_millis();
            let key = id_key(&record.id);
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
        Ok(Page {
            records,
            cursor: Some(scan.encode()),
            more: full,
        })
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let endpoint = self.endpoint(entity, Operation::Get)?;
        if endpoint.parent.is_some() {
            let (parent_id, line_id) = self.split_child_id(id, Operation::Get)?;
            let parent = json!({"Id": parent_id});
            let lines = self
                .children(entity, endpoint, &parent, Operation::Get)
                .await?;
            return Ok(lines.into_iter().find(|r| {
                r.id.to_string()
                    .split_once('/')
                    .is_some_and(|(_, l)| l.eq_ignore_ascii_case(&line_id))
            }));
        }
        let path = format!("{}/{}", endpoint.path, segment(&id.to_string()));
        let object = match self.get_object(Operation::Get, &path).await? {
            Some(object) => Some(object),
            None if endpoint.owner_field.is_some() => {
                self.find_by_id(endpoint, id, Operation::Get).await?
            }
            None => None,
        };
        Ok(object
            .filter(|o| Self::in_filter(endpoint, o))
            .map(|o| self.record(entity, &o, id.clone(), None)))
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let endpoint = self.endpoint(entity, Operation::Create)?;
        let Value::Object(_) = data else {
            return Err(permanent(
                &self.system,
                Operation::Create,
                "record data must be a JSON object",
            ));
        };
        self.learn_data(entity, data);
        let mut body = to_api_types(&to_api_names(&crate::json_path::strip_nulls(data)));
        if let Value::Object(map) = &mut body {
            for (k, v) in &endpoint.filter {
                if !map.keys().any(|m| m.eq_ignore_ascii_case(k)) {
                    map.insert(k.clone(), v.clone());
                }
            }
        }
        let mut parent: Option<String> = None;
        let path = match &endpoint.parent {
            Some(_) => {
                let parent_id = get_ci(&body, &endpoint.parent_field)
                    .and_then(scalar_text)
                    .ok_or_else(|| {
                        permanent(
                            &self.system,
                            Operation::Create,
                            format!("a {entity} needs `{}`", endpoint.parent_field),
                        )
                    })?;
                parent = Some(parent_id.clone());
                // The parent is in the path; in the body it is read-only.
                if let Value::Object(map) = &mut body {
                    map.retain(|k, _| !k.eq_ignore_ascii_case(&endpoint.parent_field));
                }
                endpoint.path.replace("{parent}", &segment(&parent_id))
            }
            None => endpoint
                .create_path
                .clone()
                .unwrap_or_else(|| endpoint.path.clone()),
        };
        let url = self.url(&path);
        let response = self
            .call(Operation::Create, Replay::Unsafe, |c| {
                c.post(&url).json(&body)
            })
            .await
            .map_err(|e| self.http.error(e, Operation::Create))?;
        let mut record = self
            .written(entity, &response, None, Operation::Create)
            .await?;
        if let Some(parent_id) = parent {
            record.id = RecordId::Text(format!("{parent_id}/{}", record.id));
        }
        Ok(record)
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let endpoint = self.endpoint(entity, Operation::Update)?;
        let Value::Object(_) = data else {
            return Err(permanent(
                &self.system,
                Operation::Update,
                "record data must be a JSON object",
            ));
        };
        self.learn_data(entity, data);
        let path = match &endpoint.parent {
            Some(_) => {
                let (parent_id, line_id) = self.split_child_id(id, Operation::Update)?;
                format!(
                    "{}/{}",
                    endpoint.path.replace("{parent}", &segment(&parent_id)),
                    segment(&line_id)
                )
            }
            None => format!("{}/{}", endpoint.path, segment(&id.to_string())),
        };
        let patch = Value::Array(json_patch(&to_api_types(&to_api_names(data))));
        let body = serde_json::to_vec(&patch).unwrap_or_default();
        let send = |path: String| {
            let url = self.url(&path);
            let body = body.clone();
            async move {
                self.call(Operation::Update, Replay::Safe, |c| {
                    c.patch(&url)
                        .header("content-type", "application/json-patch+json")
                        .body(body.clone())
                })
                .await
            }
        };
        let response = match (send(path).await, &endpoint.owner_field) {
            // Addressed only under its owner: find the owner, send it there.
            (Err(e), Some(owner_field)) if e.is_status(404) || e.is_status(405) => {
                let owner = self
                    .find_by_id(endpoint, id, Operation::Update)
                    .await?
                    .and_then(|o| get_ci(&o, owner_field).and_then(scalar_text))
                    .ok_or_else(|| self.http.error(e, Operation::Update))?;
                send(format!(
                    "{}/{}/{}",
                    endpoint.path,
                    segment(&owner),
                    segment(&id.to_string())
                ))
                .await
            }
            (result, _) => result,
        }
        .map_err(|e| self.http.error(e, Operation::Update))?;
        self.written(entity, &response, Some(id.clone()), Operation::Update)
            .await
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let endpoint = self.endpoint(entity, Operation::Search)?;
        if crate::json_path::is_empty(value) {
            return Ok(Vec::new());
        }
        self.learn(entity, [property.to_string()]);
        let candidates = if endpoint.parent.is_some() {
            let parent = lookup_entity(
                &self.endpoints,
                endpoint.parent.as_deref().unwrap_or_default(),
            )
            .ok_or_else(|| {
                permanent(
                    &self.system,
                    Operation::Search,
                    "the parent entity is not configured",
                )
            })?;
            let mut all = Vec::new();
            for order in self
                .search_pages(entity, parent, &Self::filter_query(parent))
                .await?
            {
                all.extend(
                    self.children(entity, endpoint, &order.data, Operation::Search)
                        .await?,
                );
            }
            all
        } else {
            let mut query = Self::filter_query(endpoint);
            if !property.contains('.')
                && let Some(text) = scalar_text(value)
            {
                query.push((pascal(property), text.trim().to_string()));
            }
            self.search_pages(entity, endpoint, &query).await?
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

    #[test]
    fn renewal_happens_a_margin_before_expiry() {
        let t0 = Instant::now();
        let life = Duration::from_secs(1200);
        let margin = Duration::from_secs(120);
        assert!(!needs_renewal(t0, life, margin, t0));
        assert!(!needs_renewal(
            t0,
            life,
            margin,
            t0 + Duration::from_secs(1079)
        ));
        assert!(needs_renewal(
            t0,
            life,
            margin,
            t0 + Duration::from_secs(1080)
        ));
        assert!(needs_renewal(
            t0,
            life,
            margin,
            t0 + Duration::from_secs(5000)
        ));
    }

    #[test]
    fn names_go_out_pascal_and_patches_merge_nested_objects() {
        let data = json!({"emailAddress": "a@b.no", "MailAddress": {"city": "Oslo"}, "lines": [{"quantity": 1}]});
        let api = to_api_names(&data);
        assert_eq!(
            api,
            json!({"EmailAddress": "a@b.no", "MailAddress": {"City": "Oslo"}, "Lines": [{"Quantity": 1}]})
        );
        let mut ops = json_patch(&api);
        ops.sort_by_key(|o| o["path"].as_str().unwrap_or_default().to_string());
        assert_eq!(
            ops,
            vec![
                json!({"op": "replace", "path": "/EmailAddress", "value": "a@b.no"}),
                json!({"op": "replace", "path": "/Lines", "value": [{"Quantity": 1}]}),
                json!({"op": "replace", "path": "/MailAddress/City", "value": "Oslo"}),
            ]
        );
        assert_eq!(
            json_patch(&json!({"a/b~": null})),
            vec![json!({"op": "replace", "path": "/a~1b~0", "value": null})]
        );
    }

    #[test]
    fn writes_take_poweroffice_types() {
        let data = json!({"CustomerId": "42", "SalesOrderId": "0f8fad5b-d9cb-469f-a165-70867728950e",
                          "Quantity": "3.5", "IsPerson": "true", "Name": "7", "Lines": [{"ProductId": "9"}]});
        assert_eq!(
            to_api_types(&data),
            json!({"CustomerId": 42, "SalesOrderId": "0f8fad5b-d9cb-469f-a165-70867728950e",
                   "Quantity": 3.5, "IsPerson": true, "Name": "7", "Lines": [{"ProductId": 9}]})
        );
    }

    #[test]
    fn respelling_uses_document_names() {
        let spellings = HashMap::from([("emailaddress".to_string(), "emailAddress".to_string())]);
        assert_eq!(
            respell(&json!({"EmailAddress": "x", "FirstName": "y"}), &spellings),
            json!({"emailAddress": "x", "FirstName": "y"})
        );
    }
}
