//! Sliding-window rate limits, keyed as each API keys them, and the count of requests
//! seen in any window (the proof, for tests and benchmarks, that a client stayed within).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{Api, RateLimit};

#[derive(Default)]
struct KeyWindow {
    /// Every request inside the current window, refused ones included.
    arrivals: VecDeque<Instant>,
    /// Requests let through inside the current window.
    accepted: VecDeque<Instant>,
}

/// Per API: the most requests seen, and let through, in any one window of one key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WindowPeaks {
    pub arrivals: u32,
    pub accepted: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// Over the limit: the soonest a request would be let through.
    Limited {
        retry_after: Duration,
    },
}

/// Keyed by secrets (subscription keys, tokens), so it has no `Debug`.
#[derive(Default)]
pub(crate) struct Limiter {
    state: Mutex<LimiterState>,
}

#[derive(Default)]
struct LimiterState {
    windows: HashMap<(Api, String), KeyWindow>,
    peaks: [WindowPeaks; 4],
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while let Some(&front) = q.front() {
        if now.saturating_duration_since(front) >= window {
            q.pop_front();
        } else {
            break;
        }
    }
}

impl Limiter {
    /// Counts a request of `key` at `now` and decides on it. With `enforce` off every
    /// request is allowed but still counted.
    pub(crate) fn check(
        &self,
        api: Api,
        key: &str,
        limit: RateLimit,
        enforce: bool,
        now: Instant,
    ) -> Verdict {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let w = state.windows.entry((api, key.to_string())).or_default();
        prune(&mut w.arrivals, now, limit.window);
        prune(&mut w.accepted, now, limit.window);
        w.arrivals.push_back(now);
        let arrivals = u32::try_from(w.arrivals.len()).unwrap_or(u32::MAX);
        let full = w.accepted.len() >= usize::try_from(limit.requests).unwrap_or(usize::MAX);
        let verdict = if enforce && full {
            let oldest = w.accepted.front().copied().unwrap_or(now);
            let free_at = oldest + limit.window;
            Verdict::Limited {
                retry_after: free_at.saturating_duration_since(now),
            }
        } else {
            w.accepted.push_back(now);
            Verdict::Allow
        };
        let accepted = u32::try_from(w.accepted.len()).unwrap_or(u32::MAX);
        // `peaks` has one slot per Api, indexed by Api::index (0..4).
        let peak = &mut state.peaks[api.index()];
        peak.arrivals = peak.arrivals.max(arrivals);
        peak.accepted = peak.accepted.max(accepted);
        verdict
    }

    pub(crate) fn peaks(&self, api: Api) -> WindowPeaks {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.peaks[api.index()]
    }

    pub(crate) fn reset(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *state = LimiterState::default();
    }
}

/// Whole seconds to wait, rounded up, at least one.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_after_the_limit_is_refused_until_the_window_slides() {
        let l = Limiter::default();
        let limit = RateLimit {
            requests: 3,
            window: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(
                l.check(Api::Webcrm, "tok", limit, true, t0 + Duration::from_secs(i)),
                Verdict::Allow
            );
        }
        let v = l.check(Api::Webcrm, "tok", limit, true, t0 + Duration::from_secs(4));
        assert_eq!(
            v,
            Verdict::Limited {
                retry_after: Duration::from_secs(6)
            }
        );
        // Other keys have their own window.
        assert_eq!(
            l.check(
                Api::Webcrm,
                "other",
                limit,
                true,
                t0 + Duration::from_secs(4)
            ),
            Verdict::Allow
        );
        // Ten seconds after the first request its slot is free again.
        assert_eq!(
            l.check(
                Api::Webcrm,
                "tok",
                limit,
                true,
                t0 + Duration::from_secs(10)
            ),
            Verdict::Allow
        );
        let p = l.peaks(Api::Webcrm);
        assert_eq!(p.accepted, 3);
        assert_eq!(p.arrivals, 4);
    }

    #[test]
    fn not_enforcing_still_counts() {
        let l = Limiter::default();
        let limit = RateLimit::per_minute(2);
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(
                l.check(Api::Chargebee, "site", limit, false, t0),
                Verdict::Allow
            );
        }
        assert_eq!(l.peaks(Api::Chargebee).arrivals, 5);
        l.reset();
        assert_eq!(l.peaks(Api::Chargebee), WindowPeaks::default());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
