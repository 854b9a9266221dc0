//! `flowgen generate --out DIR`: the standalone crate it writes for the five documents
//! builds with cargo with no warnings, and `--check` tells a fresh crate from a stale one.
//!
//! The crate depends on `flowgen-runtime` by path. It is built with the workspace's
//! `Cargo.lock`, profiles and target directory (the one this test binary was built in), so
//! its dependencies (tokio, sqlx, reqwest, …) are the ones already compiled for the tests
//! and only the generated crate itself is compiled. Where the feature set the tests were
//! built with differs from the runtime's own for a shared dependency (about 40 crates:
//! `url`'s ICU crates, rustls, sqlx, …), cargo builds that part once per target directory;
//! later runs reuse it (see BENCHMARKS.md for the times).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use flowgen_runtime::cli::{Cli, EXIT_FINDINGS, EXIT_OK, run};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate is in the workspace")
        .to_path_buf()
}

/// The target directory this test binary was built in (`<target>/debug/deps/<binary>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace().join(dir)
        };
    }
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace().join("target"))
}

fn flowgen(args: &[&str]) -> u8 {
    let cli = Cli::try_parse_from(std::iter::once("flowgen").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("flowgen {args:?}: {e}"));
    run(cli)
}

/// The `[profile…]` tables of the workspace manifest, as a cargo config file: the
/// generated crate is its own workspace, and cargo reuses a compiled dependency only when
/// the profile matches.
fn profile_config(dir: &Path) -> PathBuf {
    let manifest =
        std::fs::read_to_string(workspace().join("Cargo.toml")).expect("workspace manifest");
    let mut out = String::new();
    let mut in_profile = false;
    for line in manifest.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            in_profile = trimmed.starts_with("[profile.");
        }
        if in_profile {
            out.push_str(line);
            out.push('\n');
        }
    }
    let path = dir.join("profiles.toml");
    std::fs::write(&path, out).expect("write profile config");
    path
}

#[test]
fn the_generated_crate_builds_without_warnings_and_check_detects_staleness() {
    let dir = tempfile::tempdir().expect("temp dir");
    let documents = dir.path().join("dataflows");
    std::fs::create_dir(&documents).expect("documents folder");
    for entry in std::fs::read_dir(workspace().join("generated/dataflows")).expect("documents") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "rst") {
            std::fs::copy(&path, documents.join(path.file_name().expect("file name")))
                .expect("copy document");
        }
    }
    let out = dir.path().join("flows");
    let (docs, out_arg) = (
        documents.to_str().expect("utf-8 path"),
        out.to_str().expect("utf-8 path"),
    );
    let generate = ["generate", docs, "--out", out_arg, "--name", "five-flows"];
    let check = [&generate[..], &["--check"]].concat();

    assert_eq!(flowgen(&check), EXIT_FINDINGS, "nothing written yet: stale");
    assert_eq!(flowgen(&generate), EXIT_OK);
    assert_eq!(flowgen(&check), EXIT_OK, "just written: fresh");

    let lib = std::fs::read_to_string(out.join("src/lib.rs")).expect("lib.rs");
    assert!(lib.contains("// command: flowgen generate "), "stamped");
    let manifest = std::fs::read_to_string(out.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        manifest.contains("flowgen-runtime = { path = "),
        "the runtime by path: {manifest}"
    );

    // The documents changed since: stale, and regenerating makes it fresh again.
    let document = documents.join("chargebee-to-powerofficego.rst");
    let text = std::fs::read_to_string(&document).expect("document");
    let edited = text.replacen("     - EmailAddress", "     - EmailAddressPrimary", 1);
    assert_ne!(edited, text, "the edit changes a property");
    std::fs::write(&document, edited).expect("edit document");
    assert_eq!(flowgen(&check), EXIT_FINDINGS, "a changed document: stale");
    std::fs::write(&document, &text).expect("restore document");
    assert_eq!(flowgen(&check), EXIT_OK);
    // A hand edit of the written crate is stale too.
    std::fs::write(out.join("src/lib.rs"), format!("{lib}\n// edited\n")).expect("edit");
    assert_eq!(flowgen(&check), EXIT_FINDINGS, "an edited lib.rs: stale");
    assert_eq!(flowgen(&generate), EXIT_OK);

    // Build it as a user would, against the dependencies already compiled for the tests.
    std::fs::copy(workspace().join("Cargo.lock"), out.join("Cargo.lock")).expect("Cargo.lock");
    let config = profile_config(dir.path());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // What cargo sets for this test process is not the user's environment: build scripts
    // that watch such variables (ring watches `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …)
    // would rerun and rebuild their crates here, and again in the next `cargo test`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || name.starts_with("__CARGO")
            || name.starts_with("NEXTEST")
            || [
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
                "RUSTC_WORKSPACE_WRAPPER",
            ]
            .contains(&name.as_ref());
        if set_by_cargo {
            command.env_remove(name.as_ref());
        }
    }
    let started = std::time::Instant::now();
    let build = command
        .current_dir(&out)
        .env("CARGO_TARGET_DIR", target_dir())
        .args([
            "build",
            "--offline",
            "--lib",
            "--color",
            "never",
            "--config",
        ])
        .arg(&config)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&build.stderr);
    eprintln!(
        "cargo build of the generated crate: {:.1} s (target dir {})\n{stderr}",
        started.elapsed().as_secs_f64(),
        target_dir().display()
    );
    assert!(
        build.status.success(),
        "the generated crate builds:\n{stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("warning"))
        .collect();
    assert!(warnings.is_empty(), "no warnings: {warnings:#?}\n{stderr}");
    assert!(
        stderr.contains("Compiling five-flows"),
        "the generated crate itself was compiled:\n{stderr}"
    );
}
