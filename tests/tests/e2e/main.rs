//! Issue 5's end-to-end tests: the `flowgen` binary syncing the five documents' flows
//! against the sandbox over real HTTP.
//!
//! - `full_sync`: every flow synced as the documents say; a second run writes nothing.
//! - `faults`: 10 % 5xx, 5 % 429 with Retry-After, 1 % malformed bodies: everything good
//!   synced, the bad dead-lettered with their reason, nothing duplicated.
//! - `crash`: `flowgen sync --once` killed (SIGKILL) at ≥ 20 random points, restarted each
//!   time: converges with no duplicate.
//! - every test: the sandbox's counters prove no rate limit was exceeded.
//! - `secrets`: everything the commands print, at trace level, holds no configured secret.

mod checks;
mod crash;
mod faults;
mod full_sync;
mod secrets;
mod support;
