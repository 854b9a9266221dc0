//! `flowgen.yaml`: where the state lives and how to reach each system.
//!
//! ```yaml
//! state: flowgen.db              # SQLite state file (default flowgen.db), relative to this file,
//!                                # or postgres://user@host/db for several workers
//! page_size: 500                 # optional
//! poll_interval: 30              # seconds between passes of `flowgen run` (default 30)
//! run:                           # how `flowgen run` workers split the work (optional)
//!   shards: 8                    # shards per entity; every worker of one state must agree
//!   lease_ttl: 30                # seconds a lease lasts without a heartbeat
//!   workers: 1                   # workers in each `flowgen run` process
//! prefer:                        # optional, per flow name: source | target | newest
//!   "Chargebee Customer -> Powerofficego Customers person": newest
//! systems:
//!   Chargebee:
//!     kind: memory-file          # a JSON file holding the system's records
//!     path: data/chargebee.json
//!     ids: text                  # text (with `prefix`) or int
//!     prefix: cb_
//!   Powerofficego: { kind: memory-file, path: data/powerofficego.json, ids: int }
//! ```
//!
//! The HTTP kinds are the connectors' configurations (`crate::connectors::config`):
//!
//! ```yaml
//! systems:
//!   Chargebee: { kind: chargebee, site: acme-test, api_key_env: CHARGEBEE_API_KEY }
//!   Webcrm: { kind: webcrm, auth_code_env: WEBCRM_AUTH_CODE, limits: { requests: 200 } }
//! ```
//!
//! Credentials are named by environment variable, read when the connectors are built.
//! A `memory-file` system is loaded before a command and saved after it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::connector::Connector;
use crate::connectors::config::ConnectorConfig;
use crate::flow::Prefer;
use crate::memory::{IdKind, MemoryConnector, MemoryFileError};
use crate::state::{Backend, StateError};

/// The default configuration file.
pub const DEFAULT_CONFIG: &str = "flowgen.yaml";
/// The default state file.
pub const DEFAULT_STATE: &str = "flowgen.db";

/// Errors reading `flowgen.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source} (create it, or pass --config PATH)")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error(transparent)]
    System(#[from] MemoryFileError),
    #[error(transparent)]
    Connector(#[from] crate::connectors::ConfigError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    page_size: Option<usize>,
    #[serde(default)]
    poll_interval: Option<f64>,
    #[serde(default)]
    run: RunConfig,
    #[serde(default)]
    prefer: BTreeMap<String, Prefer>,
    /// Each system as YAML: its `kind` says which type reads the rest.
    #[serde(default)]
    systems: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
enum RawSystem {
    MemoryFile {
        path: PathBuf,
        #[serde(default)]
        ids: Option<RawIds>,
        #[serde(default)]
        prefix: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawIds {
    Int,
    Text,
}

/// How `flowgen run` workers split the work (`run:`); flags override each.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Shards per entity; every worker of one state must use the same count.
    #[serde(default)]
    pub shards: Option<u32>,
    /// Seconds a lease lasts without a heartbeat.
    #[serde(default)]
    pub lease_ttl: Option<f64>,
    /// Workers in each `flowgen run` process.
    #[serde(default)]
    pub workers: Option<usize>,
}

/// Where the state is: a SQLite file, or a PostgreSQL database (for several workers).
#[derive(Clone, PartialEq, Eq)]
pub enum StateLocation {
    Sqlite(PathBuf),
    /// A `postgres://…` URL; shown with its password hidden.
    Postgres(String),
}

impl StateLocation {
    /// `postgres://…` and `postgresql://…` are PostgreSQL URLs; anything else is the path of
    /// a SQLite file (an optional `sqlite://` or `sqlite:` prefix dropped), relative to `base`.
    pub fn parse(text: &str, base: &Path) -> StateLocation {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return StateLocation::Postgres(trimmed.to_string());
        }
        let path = ["sqlite://", "sqlite:"]
            .iter()
            .find(|p| lower.starts_with(*p))
            // The prefix is ASCII, so its length in `lower` is its length in `trimmed`.
            .and_then(|p| trimmed.get(p.len()..))
            .unwrap_or(trimmed);
        StateLocation::Sqlite(base.join(path))
    }

    /// Opens the store and its leases.
    pub async fn open(&self) -> Result<Backend, StateError> {
        match self {
            StateLocation::Postgres(url) => Backend::open(url).await,
            StateLocation::Sqlite(path) => Backend::sqlite(path).await,
        }
    }
}

/// `scheme://user:password@host/…?password=…` with the passwords replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = url[..scheme_end].to_string();
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => {
                out.push_str(&rest[..colon]);
                out.push_str(":***");
                out.push_str(&rest[at..authority_end]);
            }
            None => out.push_str(&rest[..authority_end]),
        },
        None => out.push_str(&rest[..authority_end]),
    }
    let tail = &rest[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            out.push_str(&params.join("&"));
        }
        None => out.push_str(tail),
    }
    out
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

impl fmt::Debug for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StateLocation::Postgres(url) => {
                f.debug_tuple("Postgres").field(&redact_url(url)).finish()
            }
        }
    }
}

/// One configured system.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemConfig {
    MemoryFile {
        path: PathBuf,
        ids: IdKind,
    },
    /// An HTTP connector (`kind: chargebee | poweroffice | webcrm | rest`).
    Http(Box<ConnectorConfig>),
}

/// The kinds a system can have.
const KINDS: &str = "memory-file, chargebee, poweroffice, webcrm or rest";

/// A read configuration, paths resolved against the file's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub state: StateLocation,
    pub page_size: Option<usize>,
    /// The pause between passes of `flowgen run`.
    pub poll_interval: Option<Duration>,
    pub run: RunConfig,
    pub prefer: HashMap<String, Prefer>,
    pub systems: BTreeMap<String, SystemConfig>,
}

impl Config {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses a configuration; relative paths are taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let raw: RawConfig = serde_yaml::from_str(text).map_err(|e| {
            format!("{e} (expected keys: state, page_size, poll_interval, run.{{shards, lease_ttl, workers}}, prefer, systems.<name>.{{kind, path, ids, prefix}})")
        })?;
        if raw.page_size == Some(0) {
            return Err("page_size: must be at least 1".into());
        }
        let poll_interval = raw
            .poll_interval
            .map(|s| seconds(s, "poll_interval", 0.0))
            .transpose()?;
        if let Some(ttl) = raw.run.lease_ttl {
            seconds(ttl, "run.lease_ttl", 1.0)?;
        }
        if raw.run.shards == Some(0) {
            return Err("run.shards: must be at least 1".into());
        }
        if raw.run.workers == Some(0) {
            return Err("run.workers: must be at least 1".into());
        }
        let mut systems = BTreeMap::new();
        for (name, value) in raw.systems {
            let kind = value
                .get("kind")
                .and_then(|k| k.as_str())
                .map(str::to_string);
            let system = match kind.as_deref() {
                Some("memory-file") => serde_yaml::from_value::<RawSystem>(value)
                    .map_err(|e| format!("systems.{name}: {e}"))?,
                Some("chargebee" | "poweroffice" | "webcrm" | "rest") => {
                    let config = serde_yaml::from_value::<ConnectorConfig>(value)
                        .map_err(|e| format!("systems.{name}: {e}"))?;
                    // Defaults and markers are checked now, not when a command first
                    // builds the connector.
                    config
                        .create_options(&name)
                        .map_err(|e| format!("systems.{name}: {e}"))?;
                    systems.insert(name, SystemConfig::Http(Box::new(config)));
                    continue;
                }
                Some(other) => {
                    return Err(format!(
                        "systems.{name}.kind: unknown kind `{other}` (expected {KINDS})"
                    ));
                }
                None => {
                    return Err(format!("systems.{name}.kind: missing (one of {KINDS})"));
                }
            };
            let config = match system {
                RawSystem::MemoryFile { path, ids, prefix } => {
                    let ids = match (ids, prefix) {
                        (Some(RawIds::Int) | None, None) => IdKind::Int,
                        (Some(RawIds::Int), Some(_)) => {
                            return Err(format!(
                                "systems.{name}.prefix: only text ids have a prefix (set ids: text)"
                            ));
                        }
                        (Some(RawIds::Text) | None, Some(prefix)) => IdKind::Text { prefix },
                        (Some(RawIds::Text), None) => IdKind::Text {
                            prefix: String::new(),
                        },
                    };
                    SystemConfig::MemoryFile {
                        path: base.join(path),
                        ids,
                    }
                }
            };
            systems.insert(name, config);
        }
        Ok(Config {
            state: StateLocation::parse(raw.state.as_deref().unwrap_or(DEFAULT_STATE), base),
            page_size: raw.page_size,
            poll_interval,
            run: raw.run,
            prefer: raw.prefer.into_iter().collect(),
            systems,
        })
    }
}

/// A duration in seconds from the configuration, at least `min`.
pub fn seconds(value: f64, key: &str, min: f64) -> Result<Duration, String> {
    if !value.is_finite() || value < min || value > 365.0 * 24.0 * 3600.0 {
        return Err(format!(
            "{key}: {value} is not a number of seconds from {min} to a year"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

/// Connectors by system name.
pub type Connectors = HashMap<String, Arc<dyn Connector>>;

/// The connectors of a configuration, and how to save the file-backed ones.
#[derive(Debug)]
pub struct Systems {
    memory: Vec<(Arc<MemoryConnector>, PathBuf)>,
}

impl Systems {
    /// The connectors of a configuration, HTTP ones without the documents' property
    /// spellings and types (see [`Systems::open_for`]).
    pub fn open(config: &Config) -> Result<(Systems, Connectors), ConfigError> {
        Systems::open_with(config, None)
    }

    /// The connectors of a configuration for the flows of `registry`: HTTP connectors get
    /// the property names the documents use (PowerOffice Go binds names
    /// case-insensitively and answers in its own spelling) and their documented types.
    pub fn open_for(
        config: &Config,
        registry: &crate::flow::Registry,
    ) -> Result<(Systems, Connectors), ConfigError> {
        Systems::open_with(config, Some(registry))
    }

    fn open_with(
        config: &Config,
        registry: Option<&crate::flow::Registry>,
    ) -> Result<(Systems, Connectors), ConfigError> {
        let mut memory = Vec::new();
        let mut connectors: Connectors = HashMap::new();
        for (name, system) in &config.systems {
            match system {
                SystemConfig::MemoryFile { path, ids } => {
                    let connector = Arc::new(MemoryConnector::load_file(name, ids.clone(), path)?);
                    connectors.insert(name.clone(), Arc::clone(&connector) as Arc<dyn Connector>);
                    memory.push((connector, path.clone()));
                }
                SystemConfig::Http(http) => {
                    let mut options = crate::connectors::BuildOptions::default();
                    if let Some(registry) = registry {
                        options.properties = super::demo::document_properties(registry, name);
                        options.types = super::demo::document_types(registry, name);
                    }
                    let connector = crate::connectors::build_with(name, http, &options)?;
                    connectors.insert(name.clone(), connector);
                }
            }
        }
        Ok((Systems { memory }, connectors))
    }

    /// Writes the file-backed systems back.
    pub fn save(&self) -> Result<(), ConfigError> {
        for (connector, path) in &self.memory {
            connector.save_file(path)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_paths() {
        let text = "state: s.db\nsystems:\n  Chargebee: { kind: memory-file, path: cb.json, prefix: cb_ }\n  Powerofficego: { kind: memory-file, path: po.json, ids: int }\nprefer:\n  F: source\n";
        let c = Config::parse(text, Path::new("/x")).expect("config");
        assert_eq!(c.state, StateLocation::Sqlite(PathBuf::from("/x/s.db")));
        assert_eq!(
            c.systems["Chargebee"],
            SystemConfig::MemoryFile {
                path: PathBuf::from("/x/cb.json"),
                ids: IdKind::Text {
                    prefix: "cb_".into()
                }
            }
        );
        assert_eq!(c.prefer["F"], Prefer::Source);
        let d = Config::parse("systems: {}", Path::new("/x")).expect("config");
        assert_eq!(
            d.state,
            StateLocation::Sqlite(PathBuf::from("/x/flowgen.db"))
        );
        assert_eq!((d.poll_interval, &d.run), (None, &RunConfig::default()));
    }

    #[test]
    fn postgres_state_and_run_settings() {
        let text = "state: postgres://flow:s3cret@db.example:5432/flowgen\npoll_interval: 2.5\nrun: { shards: 4, lease_ttl: 10, workers: 2 }\n";
        let c = Config::parse(text, Path::new("/x")).expect("config");
        assert_eq!(
            c.state,
            StateLocation::Postgres("postgres://flow:s3cret@db.example:5432/flowgen".into())
        );
        // The password never shows.
        assert_eq!(
            c.state.to_string(),
            "postgres://flow:***@db.example:5432/flowgen"
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(c.poll_interval, Some(Duration::from_millis(2500)));
        assert_eq!(
            c.run,
            RunConfig {
                shards: Some(4),
                lease_ttl: Some(10.0),
                workers: Some(2)
            }
        );
        assert_eq!(
            StateLocation::parse("sqlite:rel.db", Path::new("/x")),
            StateLocation::Sqlite(PathBuf::from("/x/rel.db"))
        );
        assert_eq!(
            redact_url("postgres://u@h/d?sslmode=disable&password=x"),
            "postgres://u@h/d?sslmode=disable&password=***"
        );
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
        for (text, key) in [
            ("poll_interval: -1\n", "poll_interval"),
            ("run: { lease_ttl: 0.1 }\n", "run.lease_ttl"),
            ("run: { shards: 0 }\n", "run.shards"),
            ("run: { workers: 0 }\n", "run.workers"),
            ("run: { shard: 3 }\n", "shard"),
        ] {
            let e = Config::parse(text, Path::new(".")).expect_err(text);
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn http_kinds_are_connector_configurations() {
        let text = "systems:\n  Chargebee: { kind: chargebee, site: acme-test, api_key_env: CB_KEY }\n  Shop: { kind: rest, base_url: 'http://127.0.0.1:1/shop', auth: { type: bearer, token_env: SHOP }, entities: { Customer: { path: /customers } } }\n  Po: { kind: memory-file, path: po.json }\n";
        let c = Config::parse(text, Path::new("/x")).expect("config");
        assert!(matches!(
            &c.systems["Chargebee"],
            SystemConfig::Http(http)
                if matches!(http.as_ref(), ConnectorConfig::Chargebee(cb) if cb.api_key_env == "CB_KEY")
        ));
        assert!(matches!(
            &c.systems["Shop"],
            SystemConfig::Http(http) if matches!(http.as_ref(), ConnectorConfig::Rest(_))
        ));
        assert!(matches!(&c.systems["Po"], SystemConfig::MemoryFile { .. }));
    }

    #[test]
    fn defaults_and_markers_are_checked_when_read() {
        let good = "systems:\n  Po:\n    kind: poweroffice\n    application_key_env: A\n    client_key_env: C\n    subscription_key_env: S\n    defaults:\n      Customers person: { Name: [\"{FirstName} {LastName}\", \"Person {$ref}\"] }\n    markers: { Customers: ExternalImportReference, Employees: \"\" }\n";
        let c = Config::parse(good, Path::new(".")).expect("config");
        let SystemConfig::Http(http) = &c.systems["Po"] else {
            panic!("http system")
        };
        let options = http.create_options("Po").expect("options");
        assert_eq!(
            options.markers.get("customers").map(String::as_str),
            Some("ExternalImportReference")
        );
        assert!(
            !options.markers.contains_key("employees"),
            "\"\" turns a marker off"
        );
        assert!(
            options.markers.contains_key("product"),
            "PowerOffice Go's default markers stay"
        );
        let bad_template = good.replace("{$ref}", "{$who}");
        let e = Config::parse(&bad_template, Path::new(".")).expect_err("bad template");
        assert!(
            e.contains("systems.Po") && e.contains("defaults.Customers person.Name"),
            "{e}"
        );
        let bad_marker = good.replace("ExternalImportReference", "Mail.Address");
        let e = Config::parse(&bad_marker, Path::new(".")).expect_err("bad marker");
        assert!(e.contains("markers.Customers"), "{e}");
    }

    #[test]
    fn http_errors_name_the_system_and_key() {
        let e = Config::parse(
            "systems:\n  Cb: { kind: chargebee, site: s }\n",
            Path::new("."),
        )
        .expect_err("api_key_env");
        assert!(e.contains("systems.Cb") && e.contains("api_key_env"), "{e}");
        let e = Config::parse(
            "systems:\n  Cb: { kind: chargebee, site: s, api_key_env: K, limits: { reqests: 1 } }\n",
            Path::new("."),
        )
        .expect_err("limits");
        assert!(e.contains("systems.Cb") && e.contains("reqests"), "{e}");
        let e = Config::parse("systems:\n  Cb: { site: s }\n", Path::new(".")).expect_err("kind");
        assert!(e.contains("systems.Cb.kind"), "{e}");
    }

    #[test]
    fn a_missing_credential_names_its_variable_not_a_value() {
        let text = "systems:\n  Cb: { kind: chargebee, site: s, api_key_env: FLOWGEN_TEST_SURELY_UNSET_KEY }\n";
        let c = Config::parse(text, Path::new(".")).expect("config");
        let e = Systems::open(&c).expect_err("no key in the environment");
        let message = e.to_string();
        assert!(
            message.contains("FLOWGEN_TEST_SURELY_UNSET_KEY") && message.contains("api_key_env"),
            "{message}"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::parse("systems:\n  A: { kind: http, path: a }\n", Path::new("."))
            .expect_err("kind");
        assert!(e.contains("systems") && e.contains("http"), "{e}");
        let e = Config::parse("systems:\n  A: { kind: memory-file }\n", Path::new("."))
            .expect_err("path");
        assert!(e.contains("path"), "{e}");
        let e = Config::parse("stat: x\n", Path::new(".")).expect_err("unknown");
        assert!(e.contains("stat"), "{e}");
        let e = Config::parse(
            "systems:\n  A: { kind: memory-file, path: a, ids: int, prefix: p }\n",
            Path::new("."),
        )
        .expect_err("prefix");
        assert!(e.contains("systems.A.prefix"), "{e}");
        let e = Config::parse("prefer: { F: oldest }\n", Path::new(".")).expect_err("prefer");
        assert!(e.contains("prefer") || e.contains("oldest"), "{e}");
    }
}
