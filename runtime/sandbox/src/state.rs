//! What every request handler shares: the store, the counters, the limiter, issued tokens
//! and the Chargebee idempotency cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use crate::config::{Api, Faults, SandboxConfig};
use crate::ratelimit::Limiter;
use crate::rng::{SplitMix64, mix, to_unit};
use crate::stats::Stats;
use crate::store::Store;

pub(crate) struct Shared {
    pub config: SandboxConfig,
    faults: RwLock<[Faults; 4]>,
    store: Mutex<Store>,
    pub stats: Stats,
    pub limiter: Limiter,
    pub tokens: Mutex<Tokens>,
    pub idempotency: Mutex<HashMap<String, Cached>>,
    fault_seq: [AtomicU64; 4],
}

/// The state of the handlers of one API.
#[derive(Clone, Debug)]
pub(crate) struct ApiCtx {
    pub shared: Arc<Shared>,
    pub api: Api,
}

/// A Chargebee response kept for idempotent replays.
#[derive(Clone, Debug)]
pub(crate) struct Cached {
    /// Method and path the key was first used with.
    pub request: String,
    pub status: StatusCode,
    pub body: Vec<u8>,
}

pub(crate) struct Issued {
    pub api: Api,
    pub expires: Instant,
    /// PowerOffice Go tokens are bound to the subscription key they were issued for.
    pub subscription_key: Option<String>,
}

pub(crate) struct Tokens {
    pub access: HashMap<String, Issued>,
    pub refresh: HashMap<String, Api>,
    rng: SplitMix64,
}

impl Tokens {
    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.rng.alnum(40))
    }

    pub(crate) fn issue(
        &mut self,
        api: Api,
        lifetime: Duration,
        subscription_key: Option<String>,
    ) -> String {
        let token = self.fresh("at_");
        self.access.insert(
            token.clone(),
            Issued {
                api,
                expires: Instant::now() + lifetime,
                subscription_key,
            },
        );
        token
    }

    /// Whether `token` is a live access token of `api` (for `subscription_key`, if bound).
    pub(crate) fn valid(&self, api: Api, token: &str, subscription_key: Option<&str>) -> bool {
        match self.access.get(token) {
            Some(t) => {
                t.api == api
                    && Instant::now() < t.expires
                    && (t.subscription_key.is_none()
                        || t.subscription_key.as_deref() == subscription_key)
            }
            None => false,
        }
    }
}

// Tokens and rate-limit keys are secrets: Debug shows neither.
impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(config: SandboxConfig, store: Store) -> Self {
        let faults = Api::ALL.map(|api| config.faults_of(api).clone());
        let seed = config.seed;
        Shared {
            config,
            faults: RwLock::new(faults),
            store: Mutex::new(store),
            stats: Stats::default(),
            limiter: Limiter::default(),
            tokens: Mutex::new(Tokens {
                access: HashMap::new(),
                refresh: HashMap::new(),
                rng: SplitMix64::new(mix(seed ^ 0x0070_4BE5)),
            }),
            idempotency: Mutex::new(HashMap::new()),
            fault_seq: Default::default(),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn faults_of(&self, api: Api) -> Faults {
        let f = self.faults.read().unwrap_or_else(|p| p.into_inner());
        // One slot per Api, indexed by Api::index (0..4).
        f[api.index()].clone()
    }

    pub(crate) fn set_faults(&self, api: Option<Api>, faults: Faults) {
        let mut f = self.faults.write().unwrap_or_else(|p| p.into_inner());
        match api {
            Some(api) => f[api.index()] = faults,
            None => *f = Api::ALL.map(|_| faults.clone()),
        }
    }

    /// The next number of this API's fault sequence, in `[0, 1)`: a pure function of the
    /// seed and the request's ordinal, so runs with the same seed see the same faults.
    pub(crate) fn roll(&self, api: Api) -> f64 {
        let n = self.fault_seq[api.index()].fetch_add(1, Ordering::Relaxed);
        to_unit(mix(
            self.config.seed ^ mix(n ^ ((api.index() as u64 + 1) << 56))
        ))
    }
}
