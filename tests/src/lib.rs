//! Shared helpers of the end-to-end tests.
#![forbid(unsafe_code)]

#[path = "../../runtime/tests/support/canonical.rs"]
pub mod canonical;
pub mod cluster;
#[path = "../../runtime/tests/support/pg_schema.rs"]
pub mod pg_schema;
#[path = "../../runtime/tests/support/quiet.rs"]
pub mod quiet;
