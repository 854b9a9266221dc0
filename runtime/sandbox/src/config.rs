//! What a sandbox serves and how it misbehaves: dataset size and seed, ports, credentials,
//! rate limits and injected faults.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::SandboxError;

/// One emulated API. Each is served on its own loopback listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// Chargebee API v2 (`/api/v2/...`).
    Chargebee,
    /// PowerOffice Go API v2 (`/OAuth/Token`, `/v2/...`).
    PowerOffice,
    /// WebCRM REST API (`/Auth/ApiLogin`, `/Persons`, ...).
    Webcrm,
    /// The generic REST shape of the custom systems (`/{system}/{collection}`).
    Rest,
}

impl Api {
    /// Every API, in listener order (a fixed `port` gives them `port`, `port + 1`, ...).
    pub const ALL: [Api; 4] = [Api::Chargebee, Api::PowerOffice, Api::Webcrm, Api::Rest];

    /// The name used in stats and logs.
    pub fn name(self) -> &'static str {
        match self {
            Api::Chargebee => "chargebee",
            Api::PowerOffice => "powerofficego",
            Api::Webcrm => "webcrm",
            Api::Rest => "rest",
        }
    }

    /// Position in [`Api::ALL`].
    pub fn index(self) -> usize {
        match self {
            Api::Chargebee => 0,
            Api::PowerOffice => 1,
            Api::Webcrm => 2,
            Api::Rest => 3,
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// At most `requests` requests in any window of length `window` (a sliding window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length.
    #[serde(with = "duration_ms")]
    pub window: Duration,
}

impl RateLimit {
    /// `n` requests per second.
    pub const fn per_second(n: u32) -> Self {
        RateLimit {
            requests: n,
            window: Duration::from_secs(1),
        }
    }

    /// `n` requests per minute.
    pub const fn per_minute(n: u32) -> Self {
        RateLimit {
            requests: n,
            window: Duration::from_secs(60),
        }
    }
}

/// The limits the sandbox enforces, keyed as each API keys them: Chargebee per site,
/// PowerOffice Go per subscription key, WebCRM per access token, REST per bearer token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    /// When false, requests are still counted per window (see the stats) but never refused.
    pub enforce: bool,
    /// Chargebee: 150 requests/min (test sites).
    pub chargebee: RateLimit,
    /// PowerOffice Go: 10 requests/s per subscription key.
    pub poweroffice: RateLimit,
    /// WebCRM: 250 requests/min per token.
    pub webcrm: RateLimit,
    /// Generic REST: 20 requests/s per token unless configured.
    pub rest: RateLimit,
    /// Chargebee does not promise `Retry-After` on its 429s; this chooses whether the
    /// sandbox sends one (connectors must cope with both).
    pub chargebee_retry_after: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            enforce: true,
            chargebee: RateLimit::per_minute(150),
            poweroffice: RateLimit::per_second(10),
            webcrm: RateLimit::per_minute(250),
            rest: RateLimit::per_second(20),
            chargebee_retry_after: true,
        }
    }
}

impl RateLimits {
    /// The limit of one API.
    pub fn of(&self, api: Api) -> RateLimit {
        match api {
            Api::Chargebee => self.chargebee,
            Api::PowerOffice => self.poweroffice,
            Api::Webcrm => self.webcrm,
            Api::Rest => self.rest,
        }
    }
}

/// Faults injected into requests. Probabilities are per request, drawn from a deterministic
/// sequence (seeded by the config seed and the request's ordinal per API); at most one of
/// drop / 5xx / 429 / malformed hits a request, so their sum must be at most 1.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Added before every request is handled.
    #[serde(with = "duration_ms", default)]
    pub latency: Duration,
    /// Probability of a 500/502/503 in the API's error shape.
    #[serde(default)]
    pub error_5xx: f64,
    /// Probability of a 429 in the API's shape, with `Retry-After: retry_after_secs`.
    #[serde(default)]
    pub too_many_requests: f64,
    /// The `Retry-After` of injected 429s.
    #[serde(default = "one")]
    pub retry_after_secs: u64,
    /// Probability that a response body is cut in half (invalid JSON), status unchanged.
    #[serde(default)]
    pub malformed: f64,
    /// Probability that the connection is closed without any response.
    #[serde(default)]
    pub drop_connection: f64,
    /// Probability that a write (any method but GET, token requests excepted) is handled
    /// and then its connection closed without the answer: the create is made, the client
    /// cannot know. Drawn before
    /// (and besides) the faults above.
    #[serde(default)]
    pub drop_after_write: f64,
    /// Inject faults into reads (GET) only; writes still get the latency. Off by default:
    /// a write whose answer is lost or cut short is what tests duplicate avoidance.
    #[serde(default)]
    pub reads_only: bool,
}

fn one() -> u64 {
    1
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Faults {
            retry_after_secs: 1,
            ..Faults::default()
        }
    }

    /// True when nothing would be injected.
    pub fn is_none(&self) -> bool {
        self.latency.is_zero()
            && self.error_5xx == 0.0
            && self.too_many_requests == 0.0
            && self.malformed == 0.0
            && self.drop_connection == 0.0
            && self.drop_after_write == 0.0
    }

    /// Probabilities within [0, 1] and summing to at most 1.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let probabilities = [
            ("error_5xx", self.error_5xx),
            ("too_many_requests", self.too_many_requests),
            ("malformed", self.malformed),
            ("drop_connection", self.drop_connection),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(SandboxError::Config(format!(
                    "fault probability `{name}` is {p}; it must be between 0 and 1"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.drop_after_write) {
            return Err(SandboxError::Config(format!(
                "fault probability `drop_after_write` is {}; it must be between 0 and 1",
                self.drop_after_write
            )));
        }
        let sum: f64 = probabilities.iter().map(|(_, p)| p).sum();
        if sum > 1.0 + 1e-9 {
            return Err(SandboxError::Config(format!(
                "fault probabilities sum to {sum}; at most one fault hits a request, so the sum must be at most 1"
            )));
        }
        Ok(())
    }
}

impl std::str::FromStr for Faults {
    type Err = SandboxError;

    /// Parses the command-line form, comma-separated `key=value` pairs:
    /// `latency=20ms,5xx=10%,429=0.05,retry_after=2,malformed=1%,drop=0.001`.
    /// Latency takes `ms` or `s` (bare numbers are milliseconds); probabilities are
    /// fractions or percentages. An empty string is no faults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Faults::none();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                SandboxError::Config(format!("fault `{part}` must be key=value (e.g. 5xx=0.1)"))
            })?;
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            match key.as_str() {
                "latency" => f.latency = parse_duration(value)?,
                "5xx" | "error_5xx" => f.error_5xx = parse_probability(&key, value)?,
                "429" | "too_many_requests" => {
                    f.too_many_requests = parse_probability(&key, value)?
                }
                "malformed" => f.malformed = parse_probability(&key, value)?,
                "drop" | "drop_connection" => f.drop_connection = parse_probability(&key, value)?,
                "drop_after_write" => f.drop_after_write = parse_probability(&key, value)?,
                "reads_only" => {
                    f.reads_only = value.parse().map_err(|_| {
                        SandboxError::Config(format!("reads_only `{value}` must be true or false"))
                    })?;
                }
                "retry_after" | "retry_after_secs" => {
                    f.retry_after_secs = value.trim_end_matches('s').parse().map_err(|_| {
                        SandboxError::Config(format!("retry_after `{value}` must be whole seconds"))
                    })?;
                }
                other => {
                    return Err(SandboxError::Config(format!(
                        "unknown fault `{other}` (known: latency, 5xx, 429, retry_after, malformed, drop, drop_after_write, reads_only)"
                    )));
                }
            }
        }
        f.validate()?;
        Ok(f)
    }
}

impl fmt::Display for Faults {
    /// The form [`Faults::from_str`](std::str::FromStr) reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency={}ms,5xx={},429={},retry_after={},malformed={},drop={},drop_after_write={},reads_only={}",
            self.latency.as_millis(),
            self.error_5xx,
            self.too_many_requests,
            self.retry_after_secs,
            self.malformed,
            self.drop_connection,
            self.drop_after_write,
            self.reads_only
        )
    }
}

fn parse_duration(value: &str) -> Result<Duration, SandboxError> {
    let bad = || SandboxError::Config(format!("latency `{value}` must be like 20ms or 1s"));
    let (number, scale) = if let Some(ms) = value.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1000.0)
    } else {
        (value, 1.0)
    };
    let ms: f64 = number.trim().parse().map_err(|_| bad())?;
    let ms = ms * scale;
    if !ms.is_finite() || !(0.0..=3_600_000.0).contains(&ms) {
        return Err(bad());
    }
    Ok(Duration::from_micros((ms * 1000.0).round() as u64))
}

fn parse_probability(key: &str, value: &str) -> Result<f64, SandboxError> {
    let bad = || {
        SandboxError::Config(format!(
            "fault `{key}` = `{value}` must be a fraction (0.1) or a percentage (10%)"
        ))
    };
    let p = match value.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => value.parse::<f64>().map_err(|_| bad())?,
    };
    if p.is_finite() { Ok(p) } else { Err(bad()) }
}

/// The secrets each API checks. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Chargebee API key (HTTP Basic user name, empty password).
    pub chargebee_api_key: String,
    /// PowerOffice Go application key (Basic user name on `/OAuth/Token`).
    pub poweroffice_application_key: String,
    /// PowerOffice Go client key (Basic password on `/OAuth/Token`).
    pub poweroffice_client_key: String,
    /// PowerOffice Go `Ocp-Apim-Subscription-Key`, on every request.
    pub poweroffice_subscription_key: String,
    /// WebCRM application token, posted as `authCode` to `/Auth/ApiLogin`.
    pub webcrm_auth_code: String,
    /// Bearer token of the generic REST systems.
    pub rest_token: String,
}

impl Default for Credentials {
    /// Well-known values for the demo and tests; they open nothing outside the sandbox.
    fn default() -> Self {
        Credentials {
            chargebee_api_key: "test_sandbox_chargebee_key".into(),
            poweroffice_application_key: "sandbox-application-key".into(),
            poweroffice_client_key: "sandbox-client-key".into(),
            poweroffice_subscription_key: "sandbox-subscription-key".into(),
            webcrm_auth_code: "sandbox-webcrm-auth-code".into(),
            rest_token: "sandbox-rest-token".into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("chargebee_api_key", &"<redacted>")
            .field("poweroffice_application_key", &"<redacted>")
            .field("poweroffice_client_key", &"<redacted>")
            .field("poweroffice_subscription_key", &"<redacted>")
            .field("webcrm_auth_code", &"<redacted>")
            .field("rest_token", &"<redacted>")
            .finish()
    }
}

/// The most records per entity a sandbox seeds.
pub const MAX_RECORDS: usize = 1_000_000;

/// Everything a sandbox needs. `SandboxConfig::default()` serves 50 records per entity on
/// ephemeral ports with the real rate limits and no faults.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxConfig {
    /// Seed of the dataset, of generated ids and of the fault sequence.
    pub seed: u64,
    /// Records per top-level entity (lines come 1–3 per order/opportunity).
    pub records: usize,
    /// Per-entity counts overriding `records`, keyed `"system/Entity"` with the documents'
    /// names (`"powerofficego/Departments"`, `"chargebee/Business_entity"`).
    pub record_overrides: BTreeMap<String, usize>,
    /// Seeded records are created and changed in the 180 days after this instant.
    pub epoch: DateTime<Utc>,
    /// 0: ephemeral ports. Otherwise Chargebee listens on `port`, PowerOffice Go on
    /// `port + 1`, WebCRM on `port + 2`, REST on `port + 3`.
    pub port: u16,
    /// Faults injected into every API (overridden per API by `api_faults`).
    pub faults: Faults,
    /// Per-API fault overrides.
    pub api_faults: BTreeMap<Api, Faults>,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Secrets the APIs check.
    pub credentials: Credentials,
    /// Lifetime of PowerOffice Go access tokens (20 minutes).
    pub poweroffice_token_lifetime: Duration,
    /// Lifetime of WebCRM access tokens (one hour).
    pub webcrm_token_lifetime: Duration,
    /// Serve Chargebee `/business_entities` (list, get, create, update). The real API has
    /// no list endpoint; turn this off to answer 404 like it.
    pub chargebee_business_entities: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 5,
            records: 50,
            record_overrides: BTreeMap::new(),
            epoch: Utc
                .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            port: 0,
            faults: Faults::none(),
            api_faults: BTreeMap::new(),
            rate_limits: RateLimits::default(),
            credentials: Credentials::default(),
            poweroffice_token_lifetime: Duration::from_secs(1200),
            webcrm_token_lifetime: Duration::from_secs(3600),
            chargebee_business_entities: true,
        }
    }
}

impl SandboxConfig {
    /// Checks what `start` would otherwise fail on late.
    pub fn validate(&self) -> Result<(), SandboxError> {
        self.faults.validate()?;
        for faults in self.api_faults.values() {
            faults.validate()?;
        }
        for api in Api::ALL {
            let limit = self.rate_limits.of(api);
            if limit.requests == 0 || limit.window.is_zero() {
                return Err(SandboxError::Config(format!(
                    "the {api} rate limit must allow at least one request in a non-empty window"
                )));
            }
        }
        let most = self
            .record_overrides
            .values()
            .copied()
            .chain([self.records])
            .max()
            .unwrap_or(0);
        if most > MAX_RECORDS {
            return Err(SandboxError::Config(format!(
                "{most} records per entity is more than the sandbox holds in memory (at most {MAX_RECORDS})"
            )));
        }
        if self.port != 0 && self.port > u16::MAX - 3 {
            return Err(SandboxError::Config(format!(
                "port {} leaves no room for the four listeners (port .. port + 3)",
                self.port
            )));
        }
        Ok(())
    }

    /// The faults applying to one API.
    pub fn faults_of(&self, api: Api) -> &Faults {
        self.api_faults.get(&api).unwrap_or(&self.faults)
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_probabilities_are_checked() {
        let mut f = Faults::none();
        assert!(f.validate().is_ok());
        f.error_5xx = 0.7;
        f.malformed = 0.5;
        assert!(f.validate().is_err());
        f.malformed = -0.1;
        assert!(f.validate().is_err());
    }

    #[test]
    fn faults_parse_from_the_command_line_form() {
        let f: Faults = "latency=20ms, 5xx=10%,429=0.05,retry_after=2s,malformed=1%,drop=0.001"
            .parse()
            .unwrap();
        assert_eq!(f.latency, Duration::from_millis(20));
        assert!((f.error_5xx - 0.1).abs() < 1e-12);
        assert!((f.too_many_requests - 0.05).abs() < 1e-12);
        assert_eq!(f.retry_after_secs, 2);
        assert!((f.malformed - 0.01).abs() < 1e-12);
        assert!((f.drop_connection - 0.001).abs() < 1e-12);
        assert_eq!(
            "latency=1s".parse::<Faults>().unwrap().latency,
            Duration::from_secs(1)
        );
        assert_eq!("".parse::<Faults>().unwrap(), Faults::none());
        assert!("reads_only=true".parse::<Faults>().unwrap().reads_only);
        let back: Faults = f.to_string().parse().unwrap();
        assert_eq!(back, f);
        for bad in [
            "5xx",
            "5xx=lots",
            "teapot=1",
            "5xx=0.8,429=0.8",
            "latency=-5ms",
            "retry_after=x",
            "5xx=NaN",
        ] {
            assert!(bad.parse::<Faults>().is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_never_debug_print() {
        let c = Credentials::default();
        let shown = format!("{c:?}");
        assert!(!shown.contains(&c.chargebee_api_key));
        assert!(!shown.contains(&c.rest_token));
    }

    #[test]
    fn zero_limits_are_refused() {
        let mut c = SandboxConfig::default();
        assert!(c.validate().is_ok());
        c.rate_limits.webcrm.requests = 0;
        assert!(c.validate().is_err());
        let huge = SandboxConfig {
            records: MAX_RECORDS + 1,
            ..SandboxConfig::default()
        };
        assert!(huge.validate().is_err());
    }
}
