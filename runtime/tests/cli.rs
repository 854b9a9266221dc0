//! The runtime commands end to end: a `flowgen.yaml` with memory-file systems, a state file,
//! and the command functions the `flowgen` binary calls.

mod support;

use std::path::Path;

use clap::Parser;
use flowgen_runtime::cli::{Cli, EXIT_OK, EXIT_USAGE, run, run_with};
use flowgen_runtime::flow::RecordId;
use flowgen_runtime::memory::{IdKind, MemoryConnector};
use flowgen_runtime::state::{SqliteStore, StateStore};
use serde_json::json;

fn registry() -> flowgen_runtime::flow::Registry {
    support::flows::registry()
}

fn flowgen(dir: &Path, args: &[&str]) -> u8 {
    let config = dir.join("flowgen.yaml");
    let mut argv = vec!["flowgen".to_string()];
    argv.extend(args.iter().map(|a| a.to_string()));
    if !args.contains(&"--config") {
        argv.push("--config".into());
        argv.push(config.display().to_string());
    }
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    run_with(cli, Some(registry))
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir(dir.path().join("data")).expect("data dir");
    std::fs::write(
        dir.path().join("flowgen.yaml"),
        "state: flowgen.db\nsystems:\n  Chargebee: { kind: memory-file, path: data/chargebee.json, ids: text, prefix: cb_ }\n  Powerofficego: { kind: memory-file, path: data/powerofficego.json, ids: int }\n",
    )
    .expect("config");
    std::fs::write(
        dir.path().join("data/chargebee.json"),
        r#"{"ids": {"text": {"prefix": "cb_"}}, "entities": {"Customer": [
            {"id": "cb_1", "data": {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}}
        ]}}"#,
    )
    .expect("chargebee data");
    dir
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn plan_then_sync_then_inspect() {
    let dir = setup();
    let d = dir.path();
    assert_eq!(flowgen(d, &["plan"]), EXIT_OK);
    assert!(
        !d.join("data/powerofficego.json").exists(),
        "plan writes nothing"
    );

    assert_eq!(flowgen(d, &["sync", "--once"]), EXIT_OK);
    let po = MemoryConnector::load_file(
        "Powerofficego",
        IdKind::Int,
        &d.join("data/powerofficego.json"),
    )
    .expect("powerofficego file");
    assert_eq!(
        po.records("Customers person"),
        vec![(
            RecordId::Int(1),
            json!({"id": 1, "EmailAddress": "ann@example.com", "FirstName": "Ann", "LastName": "Lee"})
        )]
    );
    let links = block(async {
        let store = SqliteStore::open(&d.join("flowgen.db"))
            .await
            .expect("store");
        store.all_links(None).await.expect("links")
    });
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].a_id, RecordId::from("cb_1"));

    for args in [
        &["status"][..],
        &["status", "--output", "json"],
        &["links"],
        &[
            "links",
            "--flow",
            "Chargebee Customer -> Powerofficego Customers person",
        ],
        &["dead-letters", "list"],
        &["dead-letters", "retry"],
        &["sync", "--once", "--output", "json"],
    ] {
        assert_eq!(flowgen(d, args), EXIT_OK, "{args:?}");
    }
    // Nothing changed: the second sync created nothing more.
    let po = MemoryConnector::load_file(
        "Powerofficego",
        IdKind::Int,
        &d.join("data/powerofficego.json"),
    )
    .expect("powerofficego file");
    assert_eq!(po.count("Customers person"), 1);
    assert_eq!(flowgen(d, &["links", "--flow", "No such flow"]), EXIT_USAGE);
}

#[test]
fn state_override_and_config_errors() {
    let dir = setup();
    let d = dir.path();
    let other = d.join("other.db");
    assert_eq!(
        flowgen(
            d,
            &["sync", "--once", "--state", &other.display().to_string()]
        ),
        EXIT_OK
    );
    assert!(other.exists());
    assert!(!d.join("flowgen.db").exists());

    std::fs::write(
        d.join("bad.yaml"),
        "systems:\n  Chargebee: { kind: carrier-pigeon, path: x }\n",
    )
    .expect("bad");
    let bad = d.join("bad.yaml").display().to_string();
    assert_eq!(
        flowgen(d, &["sync", "--once", "--config", &bad]),
        EXIT_USAGE
    );
    let missing = d.join("missing.yaml").display().to_string();
    assert_eq!(flowgen(d, &["status", "--config", &missing]), EXIT_USAGE);
    std::fs::write(
        d.join("prefer.yaml"),
        "prefer: { Nope: source }\nsystems: {}\n",
    )
    .expect("prefer");
    let prefer = d.join("prefer.yaml").display().to_string();
    assert_eq!(flowgen(d, &["status", "--config", &prefer]), EXIT_USAGE);
}

#[test]
fn runtime_commands_need_flows() {
    let cli = Cli::try_parse_from(["flowgen", "status"]).expect("parse");
    assert_eq!(run(cli), EXIT_USAGE);
}

/// `status`, `links` and `dead-letters list` only read the state: they work without the
/// credentials a sync needs, which fails naming the missing variable.
#[test]
fn inspecting_the_state_needs_no_credentials() {
    let dir = setup();
    let d = dir.path();
    assert_eq!(flowgen(d, &["sync", "--once"]), EXIT_OK);
    // The same state, with Chargebee now an HTTP system whose key variable is not set.
    std::fs::write(
        d.join("http.yaml"),
        "state: flowgen.db\nsystems:\n  Chargebee: { kind: chargebee, site: acme-test, api_key_env: FLOWGEN_TEST_UNSET_CHARGEBEE_KEY }\n  Powerofficego: { kind: memory-file, path: data/powerofficego.json, ids: int }\n",
    )
    .expect("config");
    let http = d.join("http.yaml").display().to_string();
    assert!(std::env::var_os("FLOWGEN_TEST_UNSET_CHARGEBEE_KEY").is_none());
    for args in [
        &["status", "--config", &http][..],
        &["status", "--output", "json", "--config", &http],
        &["links", "--config", &http],
        &["dead-letters", "list", "--config", &http],
    ] {
        assert_eq!(flowgen(d, args), EXIT_OK, "{args:?}");
    }
    assert_ne!(flowgen(d, &["sync", "--once", "--config", &http]), EXIT_OK);
}
