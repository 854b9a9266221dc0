//! flowgen-runtime: what generated dataflows run on.
//!
//! [`flow`] is the contract generated code implements; [`cli`] holds the `flowgen`
//! command line (its binary lives in the `dataflows` crate, next to the generated flows).
#![forbid(unsafe_code)]

pub mod cli;
pub mod connector;
pub mod connectors;
pub mod engine;
pub mod flow;
pub mod generated_support;
pub mod interpret;
pub mod json_path;
pub mod memory;
pub mod state;
pub mod values;
pub mod worker;

// Generated code derives and names these through the runtime, so a crate embedding the
// generated flows depends on flowgen-runtime alone.
pub use serde;
pub use serde_json;

/// The allocator the `flowgen` binary runs with (`#[global_allocator] static A: Allocator =
/// Allocator;`). With glibc's malloc a quarter of the engine's time went to the allocator
/// once the heap held many records (BENCHMARKS.md, "Engine"); a service embedding the
/// generated flows picks its own.
pub use mimalloc::MiMalloc as Allocator;

pub use flow::{
    CreatePolicy, DynFlow, EntityKey, Flow, FlowInfo, Id, Links, MapError, MatchInfo, NoLinks,
    Prefer, PropertyInfo, Record, RecordId, Ref, Reference, Registry,
};
