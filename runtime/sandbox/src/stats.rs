//! Request counters per API and endpoint, faults injected, rate-limit windows, and
//! changes per table: what tests and benchmarks assert on (`GET /__sandbox/stats`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Api;

/// A fault the middleware injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Injected {
    Latency(Duration),
    Error5xx,
    TooManyRequests,
    Malformed,
    Dropped,
    DroppedAfterHandling,
}

/// Everything counted so far. Serialised as the body of `GET /__sandbox/stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Per API, keyed by [`Api::name`].
    pub apis: BTreeMap<String, ApiStats>,
    /// Per table, keyed `system/collection` (`powerofficego/Customers`).
    pub tables: BTreeMap<String, TableStats>,
}

impl StatsSnapshot {
    /// The counters of one API (all zero if it saw nothing).
    pub fn api(&self, api: Api) -> ApiStats {
        self.apis.get(api.name()).cloned().unwrap_or_default()
    }

    /// The counters of one table by `system/collection` (all zero if unknown).
    pub fn table(&self, label: &str) -> TableStats {
        self.tables.get(label).cloned().unwrap_or_default()
    }

    /// Requests over all APIs.
    pub fn total_requests(&self) -> u64 {
        self.apis.values().map(|a| a.requests).sum()
    }
}

/// Counters of one API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiStats {
    /// Requests received (the `/__sandbox` endpoints are not counted).
    pub requests: u64,
    /// Per `METHOD /route` (`GET /api/v2/customers/{id}`).
    pub endpoints: BTreeMap<String, u64>,
    /// Per response status; dropped connections have none.
    pub statuses: BTreeMap<u16, u64>,
    /// 429s answered because the rate limit was exceeded (injected 429s not included).
    pub rate_limited: u64,
    /// The limit and the peaks observed against it.
    pub rate_limit: RateLimitStats,
    /// Faults injected.
    pub faults: FaultStats,
    /// Chargebee idempotency replays answered from the cache.
    pub idempotent_replays: u64,
}

/// A rate limit and what was observed against it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RateLimitStats {
    /// Requests allowed per window.
    pub requests: u32,
    /// Window length in milliseconds.
    pub window_ms: u64,
    /// Whether the limit was enforced.
    pub enforced: bool,
    /// Most requests received within one window of one key (refused ones included): at
    /// most `requests` if and only if the client never exceeded the limit.
    pub max_in_window: u32,
    /// Most requests let through within one window of one key.
    pub max_accepted_in_window: u32,
}

/// Faults injected into one API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultStats {
    /// Requests delayed.
    pub latency_requests: u64,
    /// Total delay added, in milliseconds.
    pub latency_total_ms: u64,
    /// 5xx answers injected.
    pub errors_5xx: u64,
    /// 429 answers injected (with `Retry-After`).
    pub too_many_requests: u64,
    /// Bodies cut short.
    pub malformed: u64,
    /// Connections closed without an answer (both kinds).
    pub dropped: u64,
    /// Of those, the ones closed after the request was handled (its change was made).
    pub dropped_after_handling: u64,
}

/// Changes to one table since the sandbox started (seeded rows are not changes).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TableStats {
    /// Live rows now.
    pub records: usize,
    /// Rows created through the APIs or the Rust API.
    pub creates: u64,
    /// Updates.
    pub updates: u64,
    /// Deletes.
    pub deletes: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    apis: Mutex<[ApiStats; 4]>,
}

impl Stats {
    fn with(&self, api: Api, f: impl FnOnce(&mut ApiStats)) {
        let mut apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        // One slot per Api, indexed by Api::index (0..4).
        f(&mut apis[api.index()]);
    }

    pub(crate) fn request(&self, api: Api, endpoint: String) {
        self.with(api, |s| {
            s.requests += 1;
            *s.endpoints.entry(endpoint).or_default() += 1;
        });
    }

    pub(crate) fn status(&self, api: Api, status: u16) {
        self.with(api, |s| *s.statuses.entry(status).or_default() += 1);
    }

    pub(crate) fn rate_limited(&self, api: Api) {
        self.with(api, |s| s.rate_limited += 1);
    }

    pub(crate) fn replay(&self, api: Api) {
        self.with(api, |s| s.idempotent_replays += 1);
    }

    pub(crate) fn injected(&self, api: Api, fault: Injected) {
        self.with(api, |s| {
            let f = &mut s.faults;
            match fault {
                Injected::Latency(d) => {
                    f.latency_requests += 1;
                    f.latency_total_ms += u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
                }
                Injected::Error5xx => f.errors_5xx += 1,
                Injected::TooManyRequests => f.too_many_requests += 1,
                Injected::Malformed => f.malformed += 1,
                Injected::Dropped => f.dropped += 1,
                Injected::DroppedAfterHandling => {
                    f.dropped += 1;
                    f.dropped_after_handling += 1;
                }
            }
        });
    }

    pub(crate) fn snapshot(&self) -> BTreeMap<String, ApiStats> {
        let apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        Api::ALL
            .iter()
            .zip(apis.iter())
            .map(|(api, s)| (api.name().to_string(), s.clone()))
            .collect()
    }

    pub(crate) fn reset(&self) {
        let mut apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        *apis = Default::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_serialise() {
        let s = Stats::default();
        s.request(Api::Webcrm, "GET /Persons".into());
        s.request(Api::Webcrm, "GET /Persons".into());
        s.status(Api::Webcrm, 200);
        s.injected(Api::Webcrm, Injected::Latency(Duration::from_millis(20)));
        s.injected(Api::Webcrm, Injected::Dropped);
        let snap = StatsSnapshot {
            apis: s.snapshot(),
            tables: BTreeMap::new(),
        };
        let w = snap.api(Api::Webcrm);
        assert_eq!(w.requests, 2);
        assert_eq!(w.endpoints.get("GET /Persons"), Some(&2));
        assert_eq!(w.faults.latency_total_ms, 20);
        assert_eq!(w.faults.dropped, 1);
        assert_eq!(snap.total_requests(), 2);
        let json = serde_json::to_string(&snap).unwrap();
        let back: StatsSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
        s.reset();
        assert_eq!(s.snapshot().get("webcrm").map(|a| a.requests), Some(0));
    }
}
