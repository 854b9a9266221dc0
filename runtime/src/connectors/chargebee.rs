//! Chargebee API v2: HTTP Basic with the API key as user name, form-encoded writes
//! ([`super::form`]), wrapped objects (`{"customer": {…}}`), offset pagination with the
//! opaque `next_offset`, incremental reads with `updated_at[after]` sorted by
//! `updated_at`, and idempotent creates (`chargebee-idempotency-key`).
//!
//! Cursor: a [`ScanCursor`] over `updated_at` (seconds; kept in milliseconds), whose scan
//! position is the `next_offset` of the scan in progress.

use std::collections::BTreeMap;

use async_trait::async_trait;
use reqwest::{Client, Method, RequestBuilder};
use serde_json::Value;

use super::coerce::{IntegerField, integer_field};
use super::config::{ApiKind, ChargebeeConfig, ChargebeeEntityConfig, base_url, env_secret};
use super::form::{self, Nulls};
use super::http::{HttpClient, HttpError, HttpResponse, Replay, Secret};
use super::scan::{ScanCursor, id_key, malformed, matches, parse_time, scalar_text, undated};
use super::{BuildOptions, ConfigError, lookup_entity, permanent, segment, unknown_entity};
use crate::connector::{Connector, ConnectorError, Operation, Page, RemoteRecord};
use crate::flow::RecordId;

/// The largest page Chargebee serves.
const MAX_LIMIT: usize = 100;
/// Pages a search reads at most (10 000 records) before giving up as permanent.
const MAX_SEARCH_PAGES: usize = 100;

#[derive(Debug, Clone, PartialEq)]
struct Resource {
    path: String,
    object: String,
    list: bool,
}

#[derive(Debug)]
pub struct ChargebeeConnector {
    system: String,
    base: String,
    api_key: Secret,
    business_entity_id: Option<String>,
    include_deleted: bool,
    resources: BTreeMap<String, Resource>,
    http: HttpClient,
}

/// `customers` → `customer`, `business_entities` → `business_entity`.
fn singular(resource: &str) -> String {
    if let Some(stem) = resource.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        resource.strip_suffix('s').unwrap_or(resource).to_string()
    }
}

fn default_resources() -> BTreeMap<String, Resource> {
    [
        ("Customer", "customers"),
        ("Order", "orders"),
        ("Item", "items"),
        // No list endpoint on the real API (configure `list: false` there); the sandbox
        // serves one.
        ("Business_entity", "business_entities"),
    ]
    .into_iter()
    .map(|(entity, path)| {
        (
            entity.to_string(),
            Resource {
                path: path.to_string(),
                object: singular(path),
                list: true,
            },
        )
    })
    .collect()
}

/// Fields Chargebee keeps as integers: amounts in the currency's smallest unit, quantities,
/// counts and periods.
const INTEGER_FIELDS: [&str; 22] = [
    "amount",
    "unit_price",
    "tax_amount",
    "discount_amount",
    "amount_paid",
    "amount_adjusted",
    "amount_refunded",
    "amount_due",
    "amount_to_collect",
    "credits_applied",
    "sub_total",
    "total",
    "tax",
    "price",
    "quantity",
    "fulfillment_quantity",
    "free_quantity",
    "billing_cycles",
    "period",
    "trial_period",
    "net_term_days",
    "resource_version",
];

/// Whether Chargebee keeps `field` as a Unix time in seconds.
fn is_timestamp(field: &str) -> bool {
    field.ends_with("_at") || field.ends_with("_date") || field == "date"
}

/// `data` in Chargebee's types: integer fields as integers (`7.0` and `"7"` are 7; a
/// fraction is refused, naming the field), timestamps given as ISO 8601 text as Unix
/// seconds. Everything else is form text as it is.
pub fn to_api_types(data: &Value) -> Result<Value, String> {
    fn walk(value: &Value, field: Option<&str>, path: &str) -> Result<Value, String> {
        match value {
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, v) in map {
                    let at = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.insert(k.clone(), walk(v, Some(k), &at)?);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|i| walk(i, field, path))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            scalar => {
                let Some(field) = field else {
                    return Ok(scalar.clone());
                };
                if INTEGER_FIELDS.contains(&field) {
                    return match integer_field(scalar) {
                        IntegerField::Integer(i) => Ok(Value::from(i)),
                        IntegerField::Unchanged => Ok(scalar.clone()),
                        IntegerField::Fraction(n) => Err(format!(
                            "`{path}` is {n}: Chargebee keeps amounts and quantities as whole numbers (amounts in the currency's smallest unit)"
                        )),
                    };
                }
                if is_timestamp(field)
                    && let Value::String(text) = scalar
                    && let Some(time) = parse_time(&Value::String(text.clone()))
                {
                    return Ok(Value::from(time.timestamp()));
                }
                Ok(scalar.clone())
            }
        }
    }
    walk(data, None, "")
}

impl ChargebeeConnector {
    pub fn new(
        system: &str,
        config: &ChargebeeConfig,
        options: &BuildOptions<'_>,
    ) -> Result<Self, ConfigError> {
        let base = match (&config.site, &config.base_url) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    system,
                    "base_url",
                    "give either `site` or `base_url`, not both",
                ));
            }
            (Some(site), None) => {
                let site = site.trim();
                if site.is_empty() || !site.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(ConfigError::invalid(
                        system,
                        "site",
                        format!("{site:?} is not a Chargebee site name"),
                    ));
                }
                format!("https://{site}.chargebee.com/api/v2")
            }
            (None, Some(url)) => base_url(system, "base_url", url)?,
            (None, None) => {
                return Err(ConfigError::invalid(
                    system,
                    "site",
                    "give `site` (or `base_url`)",
                ));
            }
        };
        let api_key = env_secret(options.env, system, "api_key_env", &config.api_key_env)?;
        let mut resources = default_resources();
        for (
            entity,
            ChargebeeEntityConfig {
                resource,
                object,
                list,
            },
        ) in &config.entities
        {
            let path = resource.trim().trim_matches('/').to_string();
            if path.is_empty() {
                return Err(ConfigError::invalid(
                    system,
                    &format!("entities.{entity}.resource"),
                    "must not be empty",
                ));
            }
            resources.retain(|k, _| !k.eq_ignore_ascii_case(entity));
            let object = object.clone().unwrap_or_else(|| singular(&path));
            resources.insert(
                entity.clone(),
                Resource {
                    path,
                    object,
                    list: *list,
                },
            );
        }
        let limits = config.limits.resolve(system, ApiKind::Chargebee)?;
        let http = HttpClient::new(system, limits, vec![api_key.clone()])
            .map_err(|message| ConfigError::invalid(system, "limits", message))?;
        Ok(ChargebeeConnector {
            system: system.to_string(),
            base,
            api_key,
            business_entity_id: config.business_entity_id.clone(),
            include_deleted: config.include_deleted,
            resources,
            http,
        })
    }

    /// The shared HTTP client (attempt counts, limits).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// The entities this connector serves (the documents' names).
    pub fn entities(&self) -> Vec<String> {
        self.resources.keys().cloned().collect()
    }

    fn resource(&self, entity: &str, operation: Operation) -> Result<&Resource, ConnectorError> {
        lookup_entity(&self.resources, entity).ok_or_else(|| {
            unknown_entity(
                &self.system,
                operation,
                entity,
                &self.resources.keys().collect::<Vec<_>>(),
            )
        })
    }

    fn request(&self, client: &Client, method: Method, path: &str) -> RequestBuilder {
        let mut request = client
            .request(method, format!("{}/{path}", self.base))
            .basic_auth(self.api_key.expose(), Some(""))
            .header("accept", "application/json");
        if let Some(id) = &self.business_entity_id {
            request = request.header("chargebee-business-entity-id", id);
        }
        request
    }

    async fn get_json(
        &self,
        operation: Operation,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, ConnectorError> {
        let response = self
            .http
            .send(Replay::Safe, |c| {
                self.request(c, Method::GET, path).query(query)
            })
            .await
            .map_err(|e| self.http.error(e, operation))?;
        self.json(&response, operation)
    }

    fn json(&self, response: &HttpResponse, operation: Operation) -> Result<Value, ConnectorError> {
        response.json().map_err(|e| self.http.error(e, operation))
    }

    async fn post_form(
        &self,
        operation: Operation,
        path: &str,
        data: &Value,
        nulls: Nulls,
        idempotency_key: Option<&str>,
    ) -> Result<HttpResponse, ConnectorError> {
        if !data.is_object() {
            return Err(permanent(
                &self.system,
                operation,
                "record data must be a JSON object",
            ));
        }
        let data = to_api_types(data).map_err(|m| permanent(&self.system, operation, m))?;
        let body = form::to_body(&form::encode(&data, nulls));
        let replay = if idempotency_key.is_some() || operation == Operation::Update {
            Replay::Safe
        } else {
            Replay::Unsafe
        };
        self.http
            .send(replay, |c| {
                let mut request = self
                    .request(c, Method::POST, path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.clone());
                if let Some(key) = idempotency_key {
                    request = request.header("chargebee-idempotency-key", key);
                }
                request
            })
            .await
            .map_err(|e| self.http.error(e, operation))
    }

    /// A record from one object of the API.
    fn record(&self, object: &Value, operation: Operation) -> Result<RemoteRecord, ConnectorError> {
        let id = object
            .get("id")
            .and_then(RecordId::from_json)
            .ok_or_else(|| malformed(&self.system, operation, "an object without an `id`"))?;
        let updated_at = ["updated_at", "created_at"]
            .iter()
            .find_map(|f| object.get(*f).and_then(parse_time))
            .unwrap_or_else(undated);
        Ok(RemoteRecord {
            id,
            updated_at,
            data: object.clone(),
        })
    }

    /// `{"customer": {…}}` → the record.
    fn unwrap(
        &self,
        resource: &Resource,
        body: &Value,
        operation: Operation,
    ) -> Result<RemoteRecord, ConnectorError> {
        let object = body
            .get(&resource.object)
            .filter(|o| o.is_object())
            .ok_or_else(|| {
                malformed(
                    &self.system,
                    operation,
                    format!("no `{}` object in the answer", resource.object),
                )
            })?;
        self.record(object, operation)
    }

    /// The records and `next_offset` of a list answer.
    fn list(
        &self,
        resource: &Resource,
        body: &Value,
        operation: Operation,
    ) -> Result<(Vec<RemoteRecord>, Option<String>), ConnectorError> {
        let entries = body
            .get("list")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(&self.system, operation, "a list answer without `list`"))?;
        let records = entries
            .iter()
            .map(|entry| self.unwrap(resource, entry, operation))
            .collect::<Result<Vec<_>, _>>()?;
        let next = match body.get("next_offset") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Ok((records, next))
    }

    /// Every record matching `filter`, following `next_offset`.
    async fn list_all(
        &self,
        resource: &Resource,
        filter: &[(String, String)],
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let mut all = Vec::new();
        let mut offset: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let mut query = filter.to_vec();
            query.push(("limit".into(), MAX_LIMIT.to_string()));
            if let Some(offset) = &offset {
                query.push(("offset".into(), offset.clone()));
            }
            let body = self
                .get_json(Operation::Search, &resource.path, &query)
                .await?;
            let (records, next) = self.list(resource, &body, Operation::Search)?;
            all.extend(records);
            match next {
                Some(next) if Some(&next) != offset.as_ref() => offset = Some(next),
                _ => return Ok(all),
            }
        }
        Err(permanent(
            &self.system,
            Operation::Search,
            format!(
                "more than {} records to search in `{}`",
                MAX_SEARCH_PAGES * MAX_LIMIT,
                resource.path
            ),
        ))
    }
}

#[async_trait]
impl Connector for ChargebeeConnector {
    fn system(&self) -> &str {
        &self.system
    }

    fn idempotent_create(&self) -> bool {
        true
    }

    async fn changes(
        &self,
        entity: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page, ConnectorError> {
        let resource = self.resource(entity, Operation::Changes)?;
        let mut scan = ScanCursor::parse(&self.system, cursor)?;
        if !resource.list {
            tracing::debug!(system = %self.system, entity, "not listable: no changes");
            return Ok(Page {
                records: Vec::new(),
                cursor: None,
                more: false,
            });
        }
        let mut query: Vec<(String, String)> = vec![
            ("limit".into(), limit.clamp(1, MAX_LIMIT).to_string()),
            ("sort_by[asc]".into(), "updated_at".into()),
        ];
        if let Some(since) = scan.since {
            // `after` is strict and counts seconds: start one second before the watermark.
            query.push((
                "updated_at[after]".into(),
                (since.div_euclid(1000) - 1).to_string(),
            ));
        }
        if self.include_deleted {
            query.push(("include_deleted".into(), "true".into()));
        }
        if let Some(offset) = &scan.pos {
            query.push(("offset".into(), offset.clone()));
        }
        let body = self
            .get_json(Operation::Changes, &resource.path, &query)
            .await?;
        let (listed, next) = self.list(resource, &body, Operation::Changes)?;
        let mut records = Vec::with_capacity(listed.len());
        for record in listed {
            let changed = record.updated_at.timestamp_millis();
            let key = id_key(&record.id);
            if scan.already_seen(changed, &key) {
                continue;
            }
            scan.observe(changed, &key);
            records.push(record);
        }
        Ok(scan.page(records, next))
    }

    async fn get(
        &self,
        entity: &str,
        id: &RecordId,
    ) -> Result<Option<RemoteRecord>, ConnectorError> {
        let resource = self.resource(entity, Operation::Get)?;
        let path = format!("{}/{}", resource.path, segment(&id.to_string()));
        match self
            .http
            .send(Replay::Safe, |c| self.request(c, Method::GET, &path))
            .await
        {
            Ok(response) => {
                let body = self.json(&response, Operation::Get)?;
                self.unwrap(resource, &body, Operation::Get).map(Some)
            }
            Err(HttpError {
                status: Some(404), ..
            }) => Ok(None),
            Err(e) => Err(self.http.error(e, Operation::Get)),
        }
    }

    async fn create(
        &self,
        entity: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<RemoteRecord, ConnectorError> {
        let resource = self.resource(entity, Operation::Create)?;
        let response = self
            .post_form(
                Operation::Create,
                &resource.path,
                data,
                Nulls::Skip,
                idempotency_key,
            )
            .await?;
        if response.header("chargebee-idempotency-replayed") == Some("true") {
            tracing::info!(system = %self.system, entity, "create replayed by idempotency key");
        }
        let body = self.json(&response, Operation::Create)?;
        self.unwrap(resource, &body, Operation::Create)
    }

    async fn update(
        &self,
        entity: &str,
        id: &RecordId,
        data: &Value,
    ) -> Result<RemoteRecord, ConnectorError> {
        let resource = self.resource(entity, Operation::Update)?;
        let path = format!("{}/{}", resource.path, segment(&id.to_string()));
        let response = self
            .post_form(Operation::Update, &path, data, Nulls::Empty, None)
            .await?;
        let body = self.json(&response, Operation::Update)?;
        self.unwrap(resource, &body, Operation::Update)
    }

    async fn search(
        &self,
        entity: &str,
        property: &str,
        value: &Value,
    ) -> Result<Vec<RemoteRecord>, ConnectorError> {
        let resource = self.resource(entity, Operation::Search)?;
        if crate::json_path::is_empty(value) || !resource.list {
            return Ok(Vec::new());
        }
        let simple = !property.contains('.')
            && property
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        // `[is]` compares exactly while matching ignores case: ask for the value as given
        // and, when that finds nothing, lowercased (as e-mail addresses are mostly stored).
        let mut filters: Vec<Vec<(String, String)>> = Vec::new();
        if let Some(text) = scalar_text(value).filter(|_| simple) {
            let text = text.trim().to_string();
            let lower = text.to_lowercase();
            filters.push(vec![(format!("{property}[is]"), text.clone())]);
            if lower != text {
                filters.push(vec![(format!("{property}[is]"), lower)]);
            }
        }
        let mut found = Vec::new();
        if filters.is_empty() {
            found = self.list_all(resource, &[]).await?;
        }
        for filter in &filters {
            match self.list_all(resource, filter).await {
                Ok(records) => found.extend(records),
                // Not every attribute is filterable: fall back to comparing every record.
                Err(e) if e.kind == crate::connector::ErrorKind::Permanent => {
                    tracing::debug!(system = %self.system, entity, property, error = %e, "filter refused; scanning");
                    found = self.list_all(resource, &[]).await?;
                    break;
                }
                Err(e) => return Err(e),
            }
            if found.iter().any(|r| matches(&r.data, property, value)) {
                break;
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|a, b| a.id == b.id);
        Ok(found
            .into_iter()
            .filter(|r| matches(&r.data, property, value))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_take_chargebee_types() {
        use serde_json::json;
        let data = json!({"customer_id": "c1", "order_line_items": [
            {"unit_price": "1290", "amount": 3.0, "tax_amount": "25.0", "description": "x"}],
            "order_date": "2024-05-01T00:00:00Z", "note": "7.0"});
        assert_eq!(
            super::to_api_types(&data).expect("types"),
            json!({"customer_id": "c1", "order_line_items": [
                {"unit_price": 1290, "amount": 3, "tax_amount": 25, "description": "x"}],
                "order_date": 1_714_521_600, "note": "7.0"})
        );
        let error = super::to_api_types(&json!({"order_line_items": [{"amount": "7.5"}]}))
            .expect_err("fraction");
        assert!(
            error.contains("order_line_items.amount") && error.contains("7.5"),
            "{error}"
        );
    }

    use super::*;

    #[test]
    fn resources_default_and_singularize() {
        assert_eq!(singular("customers"), "customer");
        assert_eq!(singular("business_entities"), "business_entity");
        let r = default_resources();
        assert_eq!(
            r["Order"],
            Resource {
                path: "orders".into(),
                object: "order".into(),
                list: true
            }
        );
    }
}
