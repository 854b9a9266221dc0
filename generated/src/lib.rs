//! The typed flows generated from `generated/dataflows/*.rst` by `build.rs`
//! (`flowgen_codegen::Builder`): a module per system with a struct per entity, `flows`
//! with one `flowgen_runtime::Flow` per documented flow, and `registry()`.
//!
//! The generated source is `$OUT_DIR/dataflows.rs` (the spec it was made from is
//! `$OUT_DIR/spec.yaml`); `flowgen generate generated/dataflows --out DIR` writes the same
//! code as a standalone crate to read.
#![forbid(unsafe_code)]

include!(concat!(env!("OUT_DIR"), "/dataflows.rs"));
