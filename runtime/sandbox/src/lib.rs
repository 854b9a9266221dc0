//! flowgen-sandbox: emulations of the Chargebee, PowerOffice Go and WebCRM HTTP APIs and of
//! the generic REST shape of the custom systems (Customerp, Customwebshop), served on
//! loopback, in memory, seeded with a deterministic dataset, enforcing each API's auth,
//! encodings and rate limits, answering with its real error shapes, and injecting faults
//! on demand. The demo, the end-to-end tests and the benchmarks talk to it instead of the
//! real APIs.
//!
//! # Starting
//!
//! ```no_run
//! # async fn demo() -> Result<(), flowgen_sandbox::SandboxError> {
//! use flowgen_sandbox::{Api, SandboxConfig};
//! let sandbox = flowgen_sandbox::start(SandboxConfig { records: 200, ..SandboxConfig::default() }).await?;
//! let chargebee = sandbox.base_url(Api::Chargebee); // http://127.0.0.1:PORT/api/v2
//! let customers = sandbox.records("chargebee", "Customer")?;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! [`start`] binds one loopback listener per API (ephemeral ports, or `port`..`port + 3`)
//! and returns a [`Sandbox`] handle; [`serve_until`] does the same for the `flowgen sandbox`
//! command, printing the base URLs, until a shutdown future completes. Dropping the handle
//! also stops the listeners.
//!
//! # The APIs
//!
//! | API | base URL ([`Sandbox::base_url`]) | auth |
//! |---|---|---|
//! | Chargebee | `http://127.0.0.1:P/api/v2` | HTTP Basic, API key as user, empty password |
//! | PowerOffice Go | `http://127.0.0.1:P/v2` (token: [`Sandbox::token_url`] = `…/OAuth/Token`) | `Ocp-Apim-Subscription-Key` + Bearer token |
//! | WebCRM | `http://127.0.0.1:P` (`/Auth/ApiLogin`, `/Auth/ApiRefresh`) | Bearer token |
//! | REST | `http://127.0.0.1:P/{system}` ([`Sandbox::rest_base_url`]) | Bearer token |
//!
//! **Chargebee** (`/api/v2`): `customers`, `orders`, `items`, and `business_entities`
//! (which the real API does not list; served unless
//! [`SandboxConfig::chargebee_business_entities`] is off, then 404). Each has `GET /{res}`
//! with `limit` (1–100, default 10), `offset` (the opaque `next_offset`, absent on the last
//! page), `sort_by[asc|desc]=updated_at|created_at` (default: creation order),
//! `include_deleted=true`, and filters `{attr}[is|is_not|starts_with|in|not_in|is_present]`
//! and `{timestamp}[after|before|on|between]` (Unix seconds); `GET /{res}/{id}`;
//! `POST /{res}` create and `POST /{res}/{id}` update, form-encoded with nested
//! `billing_address[city]=…` and indexed `order_line_items[unit_price][0]=…`;
//! `POST /{res}/{id}/delete`. Responses: `{"customer": {…}}`,
//! `{"list": [{"customer": {…}}], "next_offset": "[\"…\",\"…\"]"}`; timestamps in Unix
//! seconds, `resource_version` in milliseconds. `chargebee-idempotency-key` on a POST is
//! honoured: a replay answers the first response with `chargebee-idempotency-replayed:
//! true` and creates nothing. Errors: `{"message", "type", "api_error_code", "param",
//! "error_cause_id"}` (plus the legacy `error_code`, `error_msg`, `http_status_code`).
//! Unlike the real API, item ids are generated from the name when absent and orders can be
//! created with `POST /orders` without an invoice.
//!
//! **PowerOffice Go**: `POST /OAuth/Token` (Basic `ApplicationKey:ClientKey`,
//! `Ocp-Apim-Subscription-Key`, form `grant_type=client_credentials`) →
//! `{"access_token", "token_type": "Bearer", "expires_in"}` (lifetime configurable, 1200 s).
//! `/v2/Customers`, `/v2/ContactPersons`, `/v2/Employees`, `/v2/Departments`,
//! `/v2/Products`, `/v2/SalesOrders`: `GET` list (bare JSON array, `204` when empty;
//! `PageNumber` from 1, `PageSize` default 5000, max 20000;
//! `lastChangedDateTimeOffsetGreaterThan=<ISO 8601>`; any other query parameter naming a
//! field is an equality filter, e.g. `IsPerson=true`, `EmailAddress=…`), `GET /{id}`,
//! `POST` → 201 with the object, `PATCH /{id}` with `application/json-patch+json` (RFC 6902
//! `replace`/`add`/`remove`; read-only fields such as `Id`, `VatRate`,
//! `LastChangedDateTimeOffset` refused). Contact persons also as
//! `/v2/ContactPersons/{customerId}` (list, create) and `/v2/ContactPersons/{customerId}/{id}`.
//! Sales orders: `POST /v2/SalesOrders/Complete` with `SalesOrderLines` creates the order
//! and its lines; `GET /v2/SalesOrders/Complete/{id}` returns both; lines at
//! `/v2/SalesOrders/{id}/Lines` (GET, POST) and `/v2/SalesOrders/{id}/Lines/{lineId}`
//! (GET, PATCH). Ids are int64, GUIDs for sales orders and lines; fields PascalCase, bound
//! case-insensitively (`emailAddress` = `EmailAddress`); paths match in any case and
//! `/Demo/...` works too. Errors are RFC 7807 ProblemDetails `{type, title, status, detail,
//! instance}` (validation errors add `errors`).
//!
//! **WebCRM**: `POST /Auth/ApiLogin` (form or query `authCode`) →
//! `{AccessToken, RefreshToken, ExpiresIn, TokenType}`; `POST /Auth/ApiRefresh` with the
//! refresh token as a form field `refreshToken`, a `RefreshToken` header or a Bearer header.
//! `/Persons`, `/Organisations`, `/Opportunities`, `/QuotationLines`, `/Users`, `/Products`:
//! `GET` with `Page` (from 1) and `Size` (1–1000, default 50), bare arrays, an empty page
//! ends; `GET /{id}`; `POST` → 201 with the new integer id as the body; `PUT /{id}` full
//! update → 204 with no body; `PATCH /{collection}` bulk upsert of an array (rows with a
//! known id are merged, others created) → the ids; `DELETE /{id}` → 204.
//! `GET /Queries?script=SELECT * FROM Person WHERE PersonUpdatedAt >= '2024-05-01T00:00:00'`
//! (tables `Person`, `Organisation`, `Opportunity`, `QuotationLine`, `User`, `Product`;
//! conditions `Field op 'value'` joined by `AND`, op one of `= != > >= < <=`; optional
//! `ORDER BY Field [ASC|DESC]`) → an array of dictionaries. Fields carry the entity prefix
//! (`PersonId`, `PersonEmail`, `PersonUpdatedAt`, …); timestamps are ISO 8601 UTC. Errors:
//! `{"Message", "Type": "…Exception"}`; 429 adds `RetryAfterSeconds` and `Retry-After`.
//!
//! **REST** (`customerp`: `contacts`, `customers`, `employees`, `quotes`, `orders`,
//! `products`; `customwebshop`: `customers`, `orders`, `products`): `GET /{system}/{col}`
//! with `offset` (default 0), `limit` (1–1000, default 100), `updated_since` (RFC 3339,
//! inclusive), `sort=id|updated_at` (default `id`) and equality filters on any field →
//! `{"data": [...], "offset", "limit", "total", "next_offset"}` (`next_offset` null on the
//! last page); `GET /{system}/{col}/{id}`; `POST` → 201 with the object; `PUT` (full) and
//! `PATCH` (merge) → 200 with the object; `DELETE` → 204. Records have an integer `id`,
//! `created_at`, `updated_at` (RFC 3339 UTC); unknown fields are refused with 422. Errors:
//! `{"error": "<code>", "message": "…"}`.
//!
//! # Rate limits, faults, counters
//!
//! Limits ([`RateLimits`]) are sliding windows keyed as the APIs key them (Chargebee: the
//! site; PowerOffice Go: the subscription key; WebCRM: the token; REST: the token); over
//! the limit the API's own 429 is served with `Retry-After`. Faults ([`Faults`]: latency,
//! 5xx, 429 with `Retry-After`, malformed bodies, dropped connections) are drawn from a
//! sequence fixed by the seed and can be changed while running ([`Sandbox::set_faults`],
//! or `PUT /__sandbox/faults` with a JSON [`Faults`]); `Faults` also parses from the
//! command-line form `latency=20ms,5xx=10%,429=5%,retry_after=1,malformed=1%,drop=0.1%`
//! (add `reads_only=true` to spare writes).
//! Order per request: latency, rate
//! limit, then at most one fault. Malformed bodies keep the status and cut the JSON in
//! half (the change, if any, was made); half the dropped connections close before the
//! request is handled and half after it (the change was made, the answer is lost).
//! [`Sandbox::stats`] and
//! `GET /__sandbox/stats` (on every listener) report requests per API and endpoint,
//! statuses, 429s served by the limiter, the most requests seen in one window, faults
//! injected and changes per table; `GET /__sandbox/records/{system}/{entity}` lists a table.
//! The `/__sandbox` routes are not counted, limited, authenticated or faulted.
//!
//! # Determinism
//!
//! The same seed, epoch and counts give the same dataset, ids and fault sequence; records
//! created at run time get ids from a sequence of their own (also seeded) and timestamps
//! from the wall clock, always later than any seeded one.
#![forbid(unsafe_code)]

mod chargebee;
pub mod config;
mod control;
mod data;
mod error;
mod faults;
mod form;
mod http;
mod poweroffice;
mod ratelimit;
mod rest;
mod rng;
mod schema;
mod server;
mod state;
pub mod stats;
mod store;
mod webcrm;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{Api, Credentials, Faults, RateLimit, RateLimits, SandboxConfig};
pub use error::SandboxError;
pub use stats::{ApiStats, FaultStats, RateLimitStats, StatsSnapshot, TableStats};

use state::Shared;
use store::Store;

/// A running sandbox. Dropping it stops the listeners; [`Sandbox::shutdown`] also waits
/// for open connections to finish.
#[derive(Debug)]
pub struct Sandbox {
    shared: Arc<Shared>,
    addrs: BTreeMap<Api, SocketAddr>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Seeds the dataset and starts one loopback listener per API.
pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
    config.validate()?;
    let mut store = Store::new(config.seed);
    data::seed(&mut store, &config)?;
    let port = config.port;
    let shared = Arc::new(Shared::new(config, store));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut addrs = BTreeMap::new();
    let mut listeners = Vec::new();
    for api in Api::ALL {
        let listener = server::bind(api, port).await?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            addr: format!("{api} listener"),
            source,
        })?;
        addrs.insert(api, addr);
        listeners.push((api, listener));
    }
    let tasks = listeners
        .into_iter()
        .map(|(api, listener)| {
            server::spawn(
                api,
                listener,
                server::router(api, shared.clone()),
                shutdown_rx.clone(),
            )
        })
        .collect();
    tracing::info!(
        chargebee = %addrs.get(&Api::Chargebee).map(ToString::to_string).unwrap_or_default(),
        poweroffice = %addrs.get(&Api::PowerOffice).map(ToString::to_string).unwrap_or_default(),
        webcrm = %addrs.get(&Api::Webcrm).map(ToString::to_string).unwrap_or_default(),
        rest = %addrs.get(&Api::Rest).map(ToString::to_string).unwrap_or_default(),
        "sandbox listening"
    );
    Ok(Sandbox {
        shared,
        addrs,
        shutdown,
        tasks,
    })
}

/// Runs a sandbox until `shutdown` completes (the `flowgen sandbox` command), printing the
/// base URLs to standard output first.
pub async fn serve_until(
    config: SandboxConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SandboxError> {
    let sandbox = start(config).await?;
    println!("{}", sandbox.describe());
    shutdown.await;
    sandbox.shutdown().await;
    Ok(())
}

impl Sandbox {
    /// The socket address of an API's listener.
    pub fn addr(&self, api: Api) -> SocketAddr {
        self.addrs
            .get(&api)
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// `http://127.0.0.1:PORT`: the root of an API's listener.
    pub fn origin(&self, api: Api) -> String {
        format!("http://{}", self.addr(api))
    }

    /// The base URL a connector is configured with: Chargebee `…/api/v2`, PowerOffice Go
    /// `…/v2`, WebCRM the origin, REST the origin (systems below it, see
    /// [`Sandbox::rest_base_url`]).
    pub fn base_url(&self, api: Api) -> String {
        let origin = self.origin(api);
        match api {
            Api::Chargebee => format!("{origin}/api/v2"),
            Api::PowerOffice => format!("{origin}/v2"),
            Api::Webcrm | Api::Rest => origin,
        }
    }

    /// Where tokens are obtained: PowerOffice Go `…/OAuth/Token`, WebCRM
    /// `…/Auth/ApiLogin`; `None` for the APIs without tokens.
    pub fn token_url(&self, api: Api) -> Option<String> {
        match api {
            Api::PowerOffice => Some(format!("{}/OAuth/Token", self.origin(api))),
            Api::Webcrm => Some(format!("{}/Auth/ApiLogin", self.origin(api))),
            Api::Chargebee | Api::Rest => None,
        }
    }

    /// The base URL of a generic REST system (`customerp`, `customwebshop`).
    pub fn rest_base_url(&self, system: &str) -> Option<String> {
        schema::REST_SYSTEMS
            .contains(&system)
            .then(|| format!("{}/{system}", self.origin(Api::Rest)))
    }

    /// The configuration the sandbox runs with (credentials included: pass them to the
    /// connectors, never log them).
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// A human-readable list of the base URLs.
    pub fn describe(&self) -> String {
        let mut out = String::from("flowgen sandbox listening on loopback:\n");
        out.push_str(&format!(
            "  chargebee      {}\n",
            self.base_url(Api::Chargebee)
        ));
        out.push_str(&format!(
            "  powerofficego  {}  (token {})\n",
            self.base_url(Api::PowerOffice),
            self.token_url(Api::PowerOffice).unwrap_or_default()
        ));
        out.push_str(&format!(
            "  webcrm         {}  (login {})\n",
            self.base_url(Api::Webcrm),
            self.token_url(Api::Webcrm).unwrap_or_default()
        ));
        for system in schema::REST_SYSTEMS {
            out.push_str(&format!(
                "  {system:<14} {}\n",
                self.rest_base_url(system).unwrap_or_default()
            ));
        }
        out.push_str(&format!(
            "  stats          {}/__sandbox/stats",
            self.origin(Api::Chargebee)
        ));
        out
    }

    /// Everything counted so far.
    pub fn stats(&self) -> StatsSnapshot {
        control::stats(&self.shared)
    }

    /// Zeroes the request counters and rate-limit peaks (table counters stay).
    pub fn reset_stats(&self) {
        self.shared.stats.reset();
        self.shared.limiter.reset();
    }

    /// The live records of an entity, in the API's own shape and creation order. Systems
    /// and entities by the documents' names (`"powerofficego"`, `"Customers person"`) or
    /// by collection names (`"ContactPersons"`).
    pub fn records(&self, system: &str, entity: &str) -> Result<Vec<Value>, SandboxError> {
        control::records(&self.shared, system, entity)
    }

    /// One live record by id (integers and GUIDs as strings).
    pub fn record(
        &self,
        system: &str,
        entity: &str,
        id: &str,
    ) -> Result<Option<Value>, SandboxError> {
        control::record(&self.shared, system, entity, id)
    }

    /// Creates a record "on the remote side", in the API's field names; returns it with
    /// its id and timestamps.
    pub fn insert(&self, system: &str, entity: &str, record: Value) -> Result<Value, SandboxError> {
        control::insert(&self.shared, system, entity, record)
    }

    /// Merges `patch` into a record "on the remote side" (bumping its change time).
    pub fn update(
        &self,
        system: &str,
        entity: &str,
        id: &str,
        patch: Value,
    ) -> Result<Value, SandboxError> {
        control::update(&self.shared, system, entity, id, patch)
    }

    /// Deletes a record "on the remote side".
    pub fn delete(&self, system: &str, entity: &str, id: &str) -> Result<(), SandboxError> {
        control::delete(&self.shared, system, entity, id)
    }

    /// Groups of live records sharing the same non-empty values of `fields` (compared
    /// trimmed and case-insensitively): duplicates a sync should not have made.
    pub fn duplicates(
        &self,
        system: &str,
        entity: &str,
        fields: &[&str],
    ) -> Result<Vec<Vec<Value>>, SandboxError> {
        control::duplicates(&self.shared, system, entity, fields)
    }

    /// Replaces the faults of every API.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SandboxError> {
        faults.validate()?;
        self.shared.set_faults(None, faults);
        Ok(())
    }

    /// Replaces the faults of one API.
    pub fn set_api_faults(&self, api: Api, faults: Faults) -> Result<(), SandboxError> {
        faults.validate()?;
        self.shared.set_faults(Some(api), faults);
        Ok(())
    }

    /// Makes every issued access token expire now (PowerOffice Go and WebCRM), to test
    /// renewal without waiting.
    pub fn expire_tokens(&self) {
        let now = std::time::Instant::now();
        for t in self.shared.tokens().access.values_mut() {
            t.expires = now;
        }
    }

    /// Stops accepting, lets open connections finish (at most a few seconds), and waits
    /// for the listeners to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
