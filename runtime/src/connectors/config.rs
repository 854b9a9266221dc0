//! Connector configuration: one serde type per connector kind, tagged by `kind`, with
//! credentials given as environment variable NAMES (read when the connector is built, never
//! stored in the configuration), entity-to-endpoint mappings with defaults from APIS.md, and
//! limits with each API's documented defaults.
//!
//! ```yaml
//! kind: chargebee
//! site: acme-test
//! api_key_env: CHARGEBEE_API_KEY
//! limits: { requests: 150, period_secs: 60 }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::adapt::CreateOptions;
use super::defaults::Defaults;
use super::http::{Limits, Secret};

/// A system's connector, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ConnectorConfig {
    Chargebee(ChargebeeConfig),
    Poweroffice(PowerofficeConfig),
    Webcrm(WebcrmConfig),
    Rest(RestConfig),
}

impl ConnectorConfig {
    /// Parses one connector's YAML (the value of a system in a larger configuration).
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
            message: e.to_string(),
        })
    }

    /// The `defaults` and `markers` of this system, checked; markers default per API
    /// ([`default_markers`]).
    pub fn create_options(&self, system: &str) -> Result<CreateOptions, ConfigError> {
        let (defaults, markers, api) = match self {
            ConnectorConfig::Chargebee(c) => (&c.defaults, &c.markers, ApiKind::Chargebee),
            ConnectorConfig::Poweroffice(c) => (&c.defaults, &c.markers, ApiKind::Poweroffice),
            ConnectorConfig::Webcrm(c) => (&c.defaults, &c.markers, ApiKind::Webcrm),
            ConnectorConfig::Rest(c) => (&c.defaults, &c.markers, ApiKind::Rest),
        };
        let mut fields: BTreeMap<String, String> = default_markers(api)
            .iter()
            .map(|(entity, field)| (entity.to_lowercase(), field.to_string()))
            .collect();
        for (entity, field) in markers {
            let field = field.trim();
            if field.is_empty() {
                fields.remove(&entity.to_lowercase());
            } else if field.contains('.') || field.contains(char::is_whitespace) {
                return Err(ConfigError::invalid(
                    system,
                    &format!("markers.{entity}"),
                    format!("`{field}` is not a top-level field name"),
                ));
            } else {
                fields.insert(entity.to_lowercase(), field.to_string());
            }
        }
        Ok(CreateOptions {
            defaults: Defaults::parse(system, defaults)?,
            markers: fields,
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorConfig::Chargebee(_) => "chargebee",
            ConnectorConfig::Poweroffice(_) => "poweroffice",
            ConnectorConfig::Webcrm(_) => "webcrm",
            ConnectorConfig::Rest(_) => "rest",
        }
    }
}

/// Why a connector cannot be built. Never contains a credential's value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("connector configuration: {message}")]
    Parse { message: String },
    #[error("connector `{system}`: `{key}`: {message}")]
    Invalid {
        system: String,
        key: String,
        message: String,
    },
    #[error(
        "connector `{system}`: `{key}` names the environment variable `{variable}`, which is not set (or empty); export it before running"
    )]
    MissingEnv {
        system: String,
        key: String,
        variable: String,
    },
}

impl ConfigError {
    pub fn invalid(system: &str, key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            system: system.to_string(),
            key: key.to_string(),
            message: message.into(),
        }
    }
}

/// Limits and retry policy; every member optional, defaulting to the API's documented
/// values ([`default_limits`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests allowed per `period_secs`.
    pub requests: Option<u32>,
    pub period_secs: Option<f64>,
    /// Requests allowed back to back (default 1: under a sliding window each request of
    /// burst costs one of the steady rate).
    pub burst: Option<u32>,
    /// Milliseconds added to `period_secs` when spacing requests, for the varying delay
    /// between sending and arrival (default: 1% of the period, at least 50 ms).
    pub margin_ms: Option<u64>,
    /// Requests in flight at once.
    pub concurrency: Option<usize>,
    pub timeout_secs: Option<f64>,
    pub connect_timeout_secs: Option<f64>,
    /// Retries of a transient failure within one operation (0: leave them to the engine).
    pub max_retries: Option<u32>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    /// A longer `Retry-After` is not waited for within the operation.
    pub max_retry_after_secs: Option<f64>,
}

/// The APIs whose documented limits are the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    Chargebee,
    Poweroffice,
    Webcrm,
    Rest,
}

/// The marker fields of each API's entities by default: PowerOffice Go's
/// `ExternalImportReference` (on sales order lines unconfirmed: turn it off with
/// `markers: { Salesorderlines: "" }` where the API does not keep it). Chargebee takes
/// idempotency keys; WebCRM and custom systems have no field to spare unless configured
/// (WebCRM's custom fields, say).
pub fn default_markers(api: ApiKind) -> &'static [(&'static str, &'static str)] {
    const POWEROFFICE: [(&str, &str); 8] = [
        ("Customers", "ExternalImportReference"),
        ("Customers person", "ExternalImportReference"),
        ("Contactperson", "ExternalImportReference"),
        ("Employees", "ExternalImportReference"),
        ("Departments", "ExternalImportReference"),
        ("Product", "ExternalImportReference"),
        ("Salesorders", "ExternalImportReference"),
        ("Salesorderlines", "ExternalImportReference"),
    ];
    match api {
        ApiKind::Poweroffice => &POWEROFFICE,
        ApiKind::Chargebee | ApiKind::Webcrm | ApiKind::Rest => &[],
    }
}

/// The documented limits: Chargebee 150/min (test sites), PowerOffice Go 10/s per
/// subscription key (and at least 1 s after a 429), WebCRM 250/min per token; generic REST
/// 20/s unless configured.
pub fn default_limits(api: ApiKind) -> Limits {
    let (requests, period, concurrency, min_wait_429) = match api {
        ApiKind::Chargebee => (150, Duration::from_secs(60), 4, Duration::ZERO),
        ApiKind::Poweroffice => (10, Duration::from_secs(1), 4, Duration::from_secs(1)),
        ApiKind::Webcrm => (250, Duration::from_secs(60), 4, Duration::ZERO),
        ApiKind::Rest => (20, Duration::from_secs(1), 8, Duration::ZERO),
    };
    Limits {
        requests,
        period,
        burst: 1,
        margin: default_margin(period),
        concurrency,
        timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(10),
        max_retries: 4,
        backoff_base: Duration::from_millis(500),
        backoff_max: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(120),
        min_wait_429,
    }
}

/// 1% of the period, at least 50 ms: arrival times on a busy machine or network vary by
/// tens of milliseconds.
fn default_margin(period: Duration) -> Duration {
    (period / 100).max(Duration::from_millis(50))
}

impl LimitsConfig {
    /// The limits with defaults filled in; out-of-range values are errors naming the key.
    pub fn resolve(&self, system: &str, api: ApiKind) -> Result<Limits, ConfigError> {
        let mut limits = default_limits(api);
        let secs =
            |key: &str, value: Option<f64>, default: Duration| -> Result<Duration, ConfigError> {
                match value {
                    None => Ok(default),
                    Some(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => {
                        Ok(Duration::from_secs_f64(v))
                    }
                    Some(v) => Err(ConfigError::invalid(
                        system,
                        &format!("limits.{key}"),
                        format!("{v} is not a number of seconds between 0 (excluded) and 86400"),
                    )),
                }
            };
        if let Some(requests) = self.requests {
            if requests == 0 {
                return Err(ConfigError::invalid(
                    system,
                    "limits.requests",
                    "must be at least 1",
                ));
            }
            limits.requests = requests;
        }
        limits.period = secs("period_secs", self.period_secs, limits.period)?;
        limits.margin = match self.margin_ms {
            Some(ms) if ms > 60_000 => {
                return Err(ConfigError::invalid(
                    system,
                    "limits.margin_ms",
                    format!("{ms} is more than a minute"),
                ));
            }
            Some(ms) => Duration::from_millis(ms),
            None => default_margin(limits.period),
        };
        if let Some(burst) = self.burst {
            if burst == 0 || burst > limits.requests {
                return Err(ConfigError::invalid(
                    system,
                    "limits.burst",
                    format!(
                        "{burst} must be between 1 and limits.requests ({})",
                        limits.requests
                    ),
                ));
            }
            limits.burst = burst;
        }
        if let Some(concurrency) = self.concurrency {
            if concurrency == 0 {
                return Err(ConfigError::invalid(
                    system,
                    "limits.concurrency",
                    "must be at least 1",
                ));
            }
            limits.concurrency = concurrency;
        }
        limits.timeout = secs("timeout_secs", self.timeout_secs, limits.timeout)?;
        limits.connect_timeout = secs(
            "connect_timeout_secs",
            self.connect_timeout_secs,
            limits.connect_timeout,
        )?;
        if let Some(retries) = self.max_retries {
            if retries > 20 {
                return Err(ConfigError::invalid(
                    system,
                    "limits.max_retries",
                    format!("{retries} is more than 20"),
                ));
            }
            limits.max_retries = retries;
        }
        if let Some(ms) = self.backoff_base_ms {
            limits.backoff_base = Duration::from_millis(ms);
        }
        if let Some(ms) = self.backoff_max_ms {
            limits.backoff_max = Duration::from_millis(ms);
        }
        if limits.backoff_max < limits.backoff_base {
            return Err(ConfigError::invalid(
                system,
                "limits.backoff_max_ms",
                "must not be less than limits.backoff_base_ms",
            ));
        }
        limits.max_retry_after = secs(
            "max_retry_after_secs",
            self.max_retry_after_secs,
            limits.max_retry_after,
        )?;
        Ok(limits)
    }
}

/// Reads the secret named by configuration key `key` from environment variable `variable`.
pub(crate) fn env_secret(
    env: &dyn Fn(&str) -> Option<String>,
    system: &str,
    key: &str,
    variable: &str,
) -> Result<Secret, ConfigError> {
    if variable.trim().is_empty() {
        return Err(ConfigError::invalid(
            system,
            key,
            "must name an environment variable",
        ));
    }
    match env(variable) {
        Some(value) if !value.is_empty() => Ok(Secret::new(value)),
        _ => Err(ConfigError::MissingEnv {
            system: system.to_string(),
            key: key.to_string(),
            variable: variable.to_string(),
        }),
    }
}

/// A base URL without its trailing slash; only http(s).
pub(crate) fn base_url(system: &str, key: &str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| ConfigError::invalid(system, key, format!("{url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ConfigError::invalid(
            system,
            key,
            format!("{url:?} is not an http(s) URL"),
        ));
    }
    Ok(url.to_string())
}

/// Chargebee (API v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargebeeConfig {
    /// The site (`acme` or `acme-test`); gives `https://{site}.chargebee.com/api/v2`.
    #[serde(default)]
    pub site: Option<String>,
    /// Instead of `site`: the full base URL (the sandbox's, a proxy's).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the API key.
    pub api_key_env: String,
    /// Sent as `chargebee-business-entity-id` on every request when set.
    #[serde(default)]
    pub business_entity_id: Option<String>,
    /// List deleted records too (`include_deleted=true`; they carry `deleted: true`).
    #[serde(default)]
    pub include_deleted: bool,
    /// Entity mappings replacing or adding to the defaults (Customer, Order, Item,
    /// Business_entity).
    #[serde(default)]
    pub entities: BTreeMap<String, ChargebeeEntityConfig>,
    /// Per entity, values for required fields the documents do not map, filled in on
    /// create (see `connectors::defaults`).
    #[serde(default)]
    pub defaults: BTreeMap<String, BTreeMap<String, Value>>,
    /// Per entity, the field a create stamps with a marker of its idempotency key, to find
    /// it again when its answer is lost (see `connectors::adapt`); `""` for none.
    #[serde(default)]
    pub markers: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargebeeEntityConfig {
    /// The resource path under the base URL (`customers`).
    pub resource: String,
    /// The wrapper key of one object (`customer`); default: `resource` made singular.
    #[serde(default)]
    pub object: Option<String>,
    /// Whether the resource can be listed (Chargebee has no list of business entities:
    /// `list: false` makes `changes` yield nothing).
    #[serde(default = "yes")]
    pub list: bool,
}

fn yes() -> bool {
    true
}

/// PowerOffice Go (API v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerofficeConfig {
    /// Default `https://goapi.poweroffice.net/v2` (demo: `…/Demo/v2`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Default `https://goapi.poweroffice.net/OAuth/Token`.
    #[serde(default)]
    pub token_url: Option<String>,
    pub application_key_env: String,
    pub client_key_env: String,
    pub subscription_key_env: String,
    /// Renew the token this long before it expires (default 120 s).
    #[serde(default)]
    pub token_renew_margin_secs: Option<u64>,
    /// Page size of lists (default: the engine's page size, at most 20000).
    #[serde(default)]
    pub page_size: Option<u32>,
    #[serde(default)]
    pub entities: BTreeMap<String, PowerofficeEntityConfig>,
    /// The property names each entity's documents use, for names bound case-insensitively
    /// (`emailAddress` = `EmailAddress`): records are returned in these spellings.
    #[serde(default)]
    pub properties: BTreeMap<String, Vec<String>>,
    /// Per entity, values for required fields the documents do not map, filled in on
    /// create (see `connectors::defaults`).
    #[serde(default)]
    pub defaults: BTreeMap<String, BTreeMap<String, Value>>,
    /// Per entity, the field a create stamps with a marker of its idempotency key, to find
    /// it again when its answer is lost (see `connectors::adapt`); `""` for none.
    #[serde(default)]
    pub markers: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerofficeEntityConfig {
    /// Collection path (`/Customers`); for a child entity with `{parent}` where the parent's
    /// id goes (`/SalesOrders/{parent}/Lines`).
    pub path: String,
    /// Equality filters the entity is (`IsPerson: true`): sent as query parameters,
    /// checked on every record, and set on creates.
    #[serde(default)]
    pub filter: BTreeMap<String, Value>,
    /// The entity whose records own this one's (`Salesorders` for lines); its changes
    /// drive this one's.
    #[serde(default)]
    pub parent: Option<String>,
    /// The member holding the parent id in a child record (`SalesOrderId`).
    #[serde(default)]
    pub parent_field: Option<String>,
    /// Where creates go instead of `path` (`/SalesOrders/Complete`).
    #[serde(default)]
    pub create_path: Option<String>,
    /// Whether `lastChangedDateTimeOffsetGreaterThan` works on the list (default true).
    #[serde(default = "yes")]
    pub incremental: bool,
    /// The member naming the record's owner when the API addresses one record only under
    /// its owner (`ContactId`: `/ContactPersons/{ContactId}/{Id}`); `{path}/{id}` is tried
    /// first.
    #[serde(default)]
    pub owner_field: Option<String>,
}

/// WebCRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebcrmConfig {
    /// Default `https://api.webcrm.com`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the API token (`authCode` of `/Auth/ApiLogin`).
    pub auth_code_env: String,
    /// Refresh the token this long before it expires (default 300 s).
    #[serde(default)]
    pub token_renew_margin_secs: Option<u64>,
    /// How `/Auth/ApiRefresh` gets the refresh token (unconfirmed: default both).
    #[serde(default)]
    pub refresh_token_in: RefreshTokenIn,
    /// Page size of list scans (default: the engine's page size, at most 1000).
    #[serde(default)]
    pub page_size: Option<u32>,
    #[serde(default)]
    pub entities: BTreeMap<String, WebcrmEntityConfig>,
    /// Per entity, values for required fields the documents do not map, filled in on
    /// create (see `connectors::defaults`).
    #[serde(default)]
    pub defaults: BTreeMap<String, BTreeMap<String, Value>>,
    /// Per entity, the field a create stamps with a marker of its idempotency key, to find
    /// it again when its answer is lost (see `connectors::adapt`); `""` for none.
    #[serde(default)]
    pub markers: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshTokenIn {
    Form,
    Header,
    #[default]
    Both,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebcrmEntityConfig {
    /// Collection path (`/Persons`).
    pub path: String,
    /// The field prefix and `/Queries` table (`Person`).
    pub prefix: String,
    /// Default `{prefix}Id`.
    #[serde(default)]
    pub id_field: Option<String>,
    /// Default `{prefix}UpdatedAt`.
    #[serde(default)]
    pub updated_at_field: Option<String>,
    /// How changes are found (default `query`).
    #[serde(default)]
    pub changes: ChangeDetection,
}

/// WebCRM lists have no updated-since filter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeDetection {
    /// `GET /Queries?script=SELECT * FROM {prefix} WHERE {updated} >= '…'` after a first
    /// full scan.
    #[default]
    Query,
    /// Full scans comparing a hash per record kept in the cursor.
    Hash,
}

/// A custom system served by the generic REST connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestConfig {
    pub base_url: String,
    #[serde(default)]
    pub auth: RestAuth,
    pub entities: BTreeMap<String, RestEntityConfig>,
    /// Per entity, values for required fields the documents do not map, filled in on
    /// create (see `connectors::defaults`).
    #[serde(default)]
    pub defaults: BTreeMap<String, BTreeMap<String, Value>>,
    /// Per entity, the field a create stamps with a marker of its idempotency key, to find
    /// it again when its answer is lost (see `connectors::adapt`); `""` for none.
    #[serde(default)]
    pub markers: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum RestAuth {
    #[default]
    None,
    Bearer {
        token_env: String,
    },
    Basic {
        username_env: String,
        password_env: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestEntityConfig {
    /// Collection path under the base URL (`/customers`).
    pub path: String,
    #[serde(default = "default_id_field")]
    pub id_field: String,
    #[serde(default)]
    pub id_type: IdType,
    /// The field holding the change time (RFC 3339 or Unix seconds); `null` to scan fully.
    #[serde(default = "default_updated_at_field")]
    pub updated_at_field: Option<String>,
    /// The query parameter filtering by change time.
    #[serde(default = "default_updated_since_param")]
    pub updated_since_param: Option<String>,
    /// Whether that filter includes the instant given (`>=`) or not (`>`).
    #[serde(default = "yes")]
    pub updated_since_inclusive: bool,
    #[serde(default)]
    pub paging: Paging,
    /// The member holding the records of a list answer (default: the answer itself when it
    /// is an array, else `data`).
    #[serde(default)]
    pub items_field: Option<String>,
    /// Extra query parameters of change lists (`sort: updated_at`).
    #[serde(default)]
    pub list_query: BTreeMap<String, String>,
    #[serde(default)]
    pub search: SearchStyle,
    #[serde(default)]
    pub update: UpdateMethod,
    /// Fields never sent in writes (`created_at`).
    #[serde(default)]
    pub read_only: Vec<String>,
}

fn default_id_field() -> String {
    "id".to_string()
}

fn default_updated_at_field() -> Option<String> {
    Some("updated_at".to_string())
}

fn default_updated_since_param() -> Option<String> {
    Some("updated_since".to_string())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdType {
    #[default]
    Int,
    String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "style", rename_all = "lowercase", deny_unknown_fields)]
pub enum Paging {
    /// `?offset=N&limit=M`; ends on a short page.
    Offset {
        #[serde(default = "offset_param")]
        offset_param: String,
        #[serde(default = "limit_param")]
        limit_param: String,
        #[serde(default)]
        size: Option<u32>,
    },
    /// `?page=N&size=M` from `first`; ends on a short page.
    Page {
        #[serde(default = "page_param")]
        page_param: String,
        #[serde(default = "size_param")]
        size_param: String,
        #[serde(default = "one")]
        first: u64,
        #[serde(default)]
        size: Option<u32>,
    },
    /// `?cursor=…` with the next cursor in member `next_field` of the answer; ends when it
    /// is absent or null.
    Cursor {
        #[serde(default = "cursor_param")]
        cursor_param: String,
        next_field: String,
        #[serde(default = "limit_param")]
        limit_param: String,
        #[serde(default)]
        size: Option<u32>,
    },
    /// One request returns everything.
    None,
}

impl Default for Paging {
    fn default() -> Self {
        Paging::Offset {
            offset_param: offset_param(),
            limit_param: limit_param(),
            size: None,
        }
    }
}

fn offset_param() -> String {
    "offset".to_string()
}
fn limit_param() -> String {
    "limit".to_string()
}
fn page_param() -> String {
    "page".to_string()
}
fn size_param() -> String {
    "size".to_string()
}
fn cursor_param() -> String {
    "cursor".to_string()
}
fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchStyle {
    /// `?{property}={value}` on the collection (results are checked again locally).
    #[default]
    Filter,
    /// List everything and compare locally.
    Scan,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMethod {
    /// `PATCH {path}/{id}` with the changed members.
    #[default]
    Patch,
    /// `PUT {path}/{id}` with the whole record (read, merge, write).
    Put,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind_and_refuses_unknown_keys() {
        let chargebee =
            ConnectorConfig::from_yaml("kind: chargebee\nsite: acme-test\napi_key_env: CB_KEY\n")
                .expect("chargebee");
        assert_eq!(chargebee.kind(), "chargebee");
        let rest = ConnectorConfig::from_yaml(
            "kind: rest\nbase_url: http://localhost:1/erp\nauth: {type: bearer, token_env: ERP_TOKEN}\nentities:\n  Customer: {path: /customers, paging: {style: page, size: 50}}\n",
        )
        .expect("rest");
        let ConnectorConfig::Rest(rest) = rest else {
            panic!("rest expected")
        };
        assert_eq!(
            rest.entities["Customer"].paging,
            Paging::Page {
                page_param: "page".into(),
                size_param: "size".into(),
                first: 1,
                size: Some(50)
            }
        );
        let error =
            ConnectorConfig::from_yaml("kind: chargebee\nsite: a\napi_key_env: K\napi_key: oops\n")
                .expect_err("unknown key");
        assert!(error.to_string().contains("api_key"), "{error}");
        let error = ConnectorConfig::from_yaml(
            "kind: chargebee\nsite: a\napi_key_env: K\nlimits: {rate: 3}\n",
        )
        .expect_err("unknown limit");
        assert!(error.to_string().contains("rate"), "{error}");
        let error = ConnectorConfig::from_yaml("kind: soap\n").expect_err("unknown kind");
        assert!(error.to_string().contains("soap"), "{error}");
    }

    #[test]
    fn limits_default_per_api_and_validate() {
        let po = LimitsConfig::default()
            .resolve("po", ApiKind::Poweroffice)
            .expect("limits");
        assert_eq!(
            (po.requests, po.period, po.min_wait_429),
            (10, Duration::from_secs(1), Duration::from_secs(1))
        );
        let cb = LimitsConfig::default()
            .resolve("cb", ApiKind::Chargebee)
            .expect("limits");
        assert_eq!((cb.requests, cb.period), (150, Duration::from_secs(60)));
        let web = LimitsConfig::default()
            .resolve("w", ApiKind::Webcrm)
            .expect("limits");
        assert_eq!(web.requests, 250);
        let custom = LimitsConfig {
            requests: Some(1000),
            concurrency: Some(2),
            ..Default::default()
        }
        .resolve("cb", ApiKind::Chargebee)
        .expect("limits");
        assert_eq!(
            (custom.requests, custom.burst, custom.concurrency),
            (1000, 1, 2)
        );
        assert_eq!(custom.margin, Duration::from_millis(600));
        assert_eq!(po.margin, Duration::from_millis(50));
        let bad = LimitsConfig {
            margin_ms: Some(120_000),
            ..Default::default()
        }
        .resolve("cb", ApiKind::Chargebee);
        assert!(
            bad.expect_err("margin")
                .to_string()
                .contains("limits.margin_ms")
        );
        let bad = LimitsConfig {
            period_secs: Some(-1.0),
            ..Default::default()
        }
        .resolve("cb", ApiKind::Chargebee);
        let Err(ConfigError::Invalid { key, .. }) = bad else {
            panic!("invalid expected")
        };
        assert_eq!(key, "limits.period_secs");
        let bad = LimitsConfig {
            requests: Some(0),
            ..Default::default()
        }
        .resolve("cb", ApiKind::Chargebee);
        assert!(
            bad.expect_err("zero")
                .to_string()
                .contains("limits.requests")
        );
        let bad = LimitsConfig {
            burst: Some(500),
            ..Default::default()
        }
        .resolve("cb", ApiKind::Chargebee);
        assert!(bad.expect_err("burst").to_string().contains("limits.burst"));
    }

    #[test]
    fn missing_env_names_key_and_variable_never_value() {
        let env = |name: &str| (name == "SET").then(|| "s3cr3t-value".to_string());
        let secret = env_secret(&env, "cb", "api_key_env", "SET").expect("set");
        assert_eq!(secret.expose(), "s3cr3t-value");
        let error = env_secret(&env, "cb", "api_key_env", "UNSET").expect_err("unset");
        let text = error.to_string();
        assert!(
            text.contains("api_key_env") && text.contains("UNSET") && text.contains("cb"),
            "{text}"
        );
        assert!(env_secret(&env, "cb", "api_key_env", " ").is_err());
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            base_url("s", "base_url", "http://127.0.0.1:9/api/v2/").expect("url"),
            "http://127.0.0.1:9/api/v2"
        );
        assert!(
            base_url("s", "base_url", "ftp://x")
                .expect_err("scheme")
                .to_string()
                .contains("base_url")
        );
        assert!(base_url("s", "base_url", "not a url").is_err());
    }
}
