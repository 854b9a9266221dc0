//! Generates the typed flows from `dataflows/*.rst` into `$OUT_DIR/dataflows.rs` (and
//! `$OUT_DIR/spec.yaml`); `src/lib.rs` includes it.
//!
//! Each documented system has a cargo feature, all on by default. A service that needs
//! only some systems turns the others off (`default-features = false, features =
//! ["chargebee", "powerofficego"]`) and compiles only the flows between the enabled
//! systems. A system without a feature (new in the documents) is always kept.

/// The systems with a cargo feature (snake case of the documents' names).
const FEATURES: &[&str] = &[
    "chargebee",
    "powerofficego",
    "webcrm",
    "customerp",
    "customwebshop",
];

fn enabled(system: &str) -> bool {
    let feature = flowgen_codegen::naming::snake(system);
    !FEATURES.contains(&feature.as_str())
        || std::env::var_os(format!("CARGO_FEATURE_{}", feature.to_uppercase())).is_some()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    flowgen_codegen::Builder::new()
        .dataflows("dataflows")
        .systems_where(enabled)
        .generate()?;
    Ok(())
}
