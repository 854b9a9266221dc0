//! flowgen-runtime: what generated dataflows run on.
//!
//! [`flow`] is the contract generated code implements; [`cli`] holds the `flowgen`
//! command line (its binary lives in the `dataflows` crate, next to the generated flows).
#![forbid(unsafe_code)]

pub mod cli;
pub mod flow;

pub use flow::{
    CreatePolicy, DynFlow, EntityKey, Flow, FlowInfo, Id, Links, MapError, MatchInfo, NoLinks,
    Prefer, PropertyInfo, Record, RecordId, Ref, Reference, Registry,
};
