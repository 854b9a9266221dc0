//! HTTP connectors (DESIGN.md §6, APIS.md): Chargebee, PowerOffice Go, WebCRM, and a
//! generic REST connector configured in YAML for custom systems, all on one shared HTTP
//! layer ([`http`]).
//!
//! A connector is built from its [`ConnectorConfig`] by [`build`] (credentials read from
//! the environment variables the configuration names) or [`build_with`] (a custom
//! environment lookup, and the property spellings of the documents).
//!
//! Entities are the documents' names; each connector maps them to endpoints with defaults
//! from APIS.md that the configuration can replace or extend. Entity names match
//! case-insensitively.
//!
//! Change cursors are watermarks over the APIs' change times ([`scan::ScanCursor`]). A scan
//! that pages by offset or page number over a list the server does not keep stable (a
//! record deleted mid-scan shifts the rest left) can miss one record per shift; it is
//! delivered when it next changes. Chargebee pages by a keyset `next_offset` and is not
//! affected; for REST systems prefer a stable sort (`sort: id`, the sandbox's default) or
//! cursor paging.

pub mod adapt;
pub mod chargebee;
pub mod coerce;
pub mod config;
pub mod defaults;
pub mod form;
pub mod http;
pub mod poweroffice;
pub mod rest;
pub mod scan;
pub mod webcrm;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use chargebee::ChargebeeConnector;
pub use config::{
    ApiKind, ChargebeeConfig, ConfigError, ConnectorConfig, LimitsConfig, PowerofficeConfig,
    RestConfig, WebcrmConfig, default_limits,
};
pub use http::{HttpClient, HttpError, Limits, Secret, backoff_delay};
pub use poweroffice::PowerofficeConnector;
pub use rest::RestConnector;
pub use webcrm::WebcrmConnector;

use crate::connector::{Connector, ConnectorError, ErrorKind, Operation};

/// How a connector is built besides its configuration.
pub struct BuildOptions<'a> {
    /// Reads an environment variable (default: the process environment).
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Per entity, the property names as the documents spell them (dotted paths). Used by
    /// connectors of APIs that bind names case-insensitively (PowerOffice Go) to return
    /// records in the documents' spelling; merged with the configuration's `properties`.
    pub properties: BTreeMap<String, Vec<String>>,
    /// Per entity, the documented type of each property: records are handed out in these
    /// types ([`coerce`]).
    pub types: coerce::DocumentTypes,
}

impl std::fmt::Debug for BuildOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("properties", &self.properties)
            .field("types", &self.types)
            .finish_non_exhaustive()
    }
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl Default for BuildOptions<'_> {
    fn default() -> Self {
        BuildOptions {
            env: &process_env,
            properties: BTreeMap::new(),
            types: BTreeMap::new(),
        }
    }
}

/// Builds the connector of system `name` (the documents' spelling) from its configuration,
/// reading credentials from the process environment.
pub fn build(name: &str, config: &ConnectorConfig) -> Result<Arc<dyn Connector>, ConfigError> {
    build_with(name, config, &BuildOptions::default())
}

/// [`build`] with a custom environment and the documents' property spellings and types.
/// The connector comes wrapped in [`adapt::Adapted`] (defaults, recovery of lost create
/// answers, the documents' types).
pub fn build_with(
    name: &str,
    config: &ConnectorConfig,
    options: &BuildOptions<'_>,
) -> Result<Arc<dyn Connector>, ConfigError> {
    fn built<C: Connector + 'static>(
        connector: C,
        entities: Vec<String>,
    ) -> (Arc<dyn Connector>, Vec<String>) {
        (Arc::new(connector), entities)
    }
    let create = config.create_options(name)?;
    let (inner, entities) = match config {
        ConnectorConfig::Chargebee(c) => {
            let connector = ChargebeeConnector::new(name, c, options)?;
            let entities = connector.entities();
            built(connector, entities)
        }
        ConnectorConfig::Poweroffice(c) => {
            let connector = PowerofficeConnector::new(name, c, options)?;
            let entities = connector.entities();
            built(connector, entities)
        }
        ConnectorConfig::Webcrm(c) => {
            let connector = WebcrmConnector::new(name, c, options)?;
            let entities = connector.entities();
            built(connector, entities)
        }
        ConnectorConfig::Rest(c) => {
            let connector = RestConnector::new(name, c, options)?;
            let entities = connector.entities();
            built(connector, entities)
        }
    };
    Ok(Arc::new(adapt::Adapted::new(
        inner,
        create,
        &options.types,
        &entities,
    )))
}

/// The entry for `entity` in a map keyed by entity names, compared case-insensitively.
pub(crate) fn lookup_entity<'a, T>(map: &'a BTreeMap<String, T>, entity: &str) -> Option<&'a T> {
    map.get(entity).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(entity))
            .map(|(_, v)| v)
    })
}

/// The error for an entity the configuration does not map.
pub(crate) fn unknown_entity(
    system: &str,
    operation: Operation,
    entity: &str,
    known: &[&String],
) -> ConnectorError {
    let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
    ConnectorError::new(
        ErrorKind::Permanent,
        system,
        operation,
        format!(
            "no endpoint is configured for entity `{entity}` (known: {}); add it under `entities` in the connector's configuration",
            known.join(", ")
        ),
    )
}

/// A path segment, percent-encoded (ids can hold any character).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A `Permanent` connector error.
pub(crate) fn permanent(
    system: &str,
    operation: Operation,
    message: impl Into<String>,
) -> ConnectorError {
    ConnectorError::new(ErrorKind::Permanent, system, operation, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(segment("cust_1-a.b~"), "cust_1-a.b~");
        assert_eq!(segment("a/b c?ø"), "a%2Fb%20c%3F%C3%B8");
    }

    #[test]
    fn entity_lookup_ignores_case() {
        let map = BTreeMap::from([("Customers person".to_string(), 1)]);
        assert_eq!(lookup_entity(&map, "customers PERSON"), Some(&1));
        assert_eq!(lookup_entity(&map, "Customers"), None);
    }
}
