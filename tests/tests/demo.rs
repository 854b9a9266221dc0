//! `flowgen demo` end to end: the documents' flows synced against the sandbox over real
//! HTTP, twice; the second run must write nothing.

use std::collections::BTreeMap;

use flowgen_runtime::cli::demo::{DemoOptions, DemoOutcome, run_demo, sandbox_config};
use flowgen_sandbox::{Api, Credentials, Faults, Sandbox};

const RECORDS: usize = 20;
const SEED: u64 = 1;

async fn demo(dir: &tempfile::TempDir) -> (DemoOutcome, String) {
    demo_with(dir, Faults::none()).await
}

async fn demo_with(dir: &tempfile::TempDir, faults: Faults) -> (DemoOutcome, String) {
    let options = DemoOptions {
        records: RECORDS,
        seed: SEED,
        faults,
        state: dir.path().join("demo.db"),
        progress: false,
    };
    let mut out = Vec::new();
    let outcome = run_demo(&options, dataflows::registry(), &mut out)
        .await
        .expect("the demo runs");
    (outcome, String::from_utf8(out).expect("utf-8 output"))
}

/// A sandbox seeded as the demo's was, untouched: what the systems held before the sync.
async fn baseline() -> Sandbox {
    flowgen_sandbox::start(sandbox_config(RECORDS, SEED, Faults::none()))
        .await
        .expect("baseline sandbox")
}

fn count(sandbox: &Sandbox, system: &str, entity: &str) -> usize {
    sandbox
        .records(&system.to_lowercase(), entity)
        .unwrap_or_else(|e| panic!("{system} {entity}: {e}"))
        .len()
}

fn duplicate_groups(sandbox: &Sandbox, system: &str, entity: &str, field: &str) -> usize {
    sandbox
        .duplicates(&system.to_lowercase(), entity, &[field])
        .unwrap_or_else(|e| panic!("{system} {entity} {field}: {e}"))
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_syncs_every_flow_then_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (outcome, text) = demo(&dir).await;
    let before = baseline().await;
    let registry = dataflows::registry();
    let sandbox = &outcome.sandbox;

    for flow in registry.flows() {
        let name = flow.info().name;
        let counts = outcome
            .first
            .flows
            .get(name)
            .unwrap_or_else(|| panic!("{name}: not in the first run's report"));
        assert!(counts.read > 0, "{name}: read nothing: {counts:?}");
        assert!(text.contains(name), "{name}: not in the summary table");
    }

    // What the first run created is in the target systems.
    let mut created: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for flow in registry.flows() {
        let info = flow.info();
        let c = outcome.first.flow(info.name);
        *created
            .entry((info.target.system, info.target.entity))
            .or_default() += c.created;
    }
    assert!(
        created.values().sum::<u64>() > 0,
        "the first run created records"
    );
    for ((system, entity), n) in &created {
        if *n > 0 {
            assert!(
                count(sandbox, system, entity) > count(&before, system, entity),
                "{system} {entity}: {n} created by the run, none in the sandbox"
            );
        }
    }

    // Clean data: every record of every flow synced, nothing dead-lettered or left waiting.
    let first = outcome.first.total();
    assert_eq!(first.dead_lettered, 0, "{text}");
    assert_eq!(outcome.first.still_deferred, 0, "{text}");
    assert!(outcome.first.read_errors.is_empty(), "{text}");
    assert!(!text.contains("dead letters so far"), "{text}");

    // The second run wrote nothing, by the engine's count and by the sandbox's.
    assert_eq!(outcome.second.total().writes, 0, "{:?}", outcome.second);
    assert_eq!(outcome.second.total().created, 0);
    assert_eq!(outcome.second.total().updated, 0);
    assert_eq!(outcome.second_run_changes, 0);
    assert!(outcome.second_run_wrote_nothing());
    assert!(text.contains("run 2 wrote nothing"), "{text}");

    // No limit exceeded: the connectors kept below the sandbox's enforced limits.
    for api in Api::ALL {
        let s = outcome.stats.api(api);
        assert!(s.rate_limit.enforced, "{api}: limits enforced in the demo");
        assert_eq!(s.rate_limited, 0, "{api}: rate-limited responses: {s:?}");
        assert!(
            s.rate_limit.max_in_window <= s.rate_limit.requests,
            "{api}: {} requests in one window, limit {}",
            s.rate_limit.max_in_window,
            s.rate_limit.requests
        );
    }
    assert!(outcome.stats.total_requests() > 0);

    // No duplicates made: per match property, no more groups of equal records than seeded.
    for flow in registry.flows() {
        let info = flow.info();
        for rule in info.match_rules {
            let (system, entity) = (info.target.system, info.target.entity);
            let field = rule.target;
            assert!(
                duplicate_groups(sandbox, system, entity, field)
                    <= duplicate_groups(&before, system, entity, field),
                "{}: duplicates by {field} in {system} {entity}",
                info.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_make_no_duplicates_by_match_rules() {
    let dir = tempfile::tempdir().expect("temp dir");
    let faults: Faults = "5xx=3%,429=2%,retry_after=1,malformed=1%,drop=0.5%"
        .parse()
        .expect("faults");
    let (outcome, _) = demo_with(&dir, faults).await;
    let before = baseline().await;
    let registry = dataflows::registry();
    let injected: u64 = Api::ALL
        .iter()
        .map(|api| {
            let f = outcome.stats.api(*api).faults;
            f.too_many_requests + f.malformed + f.dropped
        })
        .sum();
    assert!(injected > 0, "faults were injected: {:?}", outcome.stats);
    for flow in registry.flows() {
        let info = flow.info();
        for rule in info.match_rules {
            let (system, entity) = (info.target.system, info.target.entity);
            assert!(
                duplicate_groups(&outcome.sandbox, system, entity, rule.target)
                    <= duplicate_groups(&before, system, entity, rule.target),
                "{}: duplicates by {} in {system} {entity}",
                info.name,
                rule.target
            );
        }
    }
    // Creates whose answer was lost (dropped after handling, or a malformed body) were
    // found again (Chargebee by idempotency key, PowerOffice Go by its marker field): the
    // second run reads them as already synced and writes nothing.
    let lost: u64 = Api::ALL
        .iter()
        .map(|api| {
            let f = outcome.stats.api(*api).faults;
            f.dropped_after_handling + f.malformed
        })
        .sum();
    assert!(lost > 0, "answers were lost: {:?}", outcome.stats);
    assert_eq!(
        outcome.second.total().writes,
        0,
        "second run: {:?}",
        outcome
            .second
            .flows
            .iter()
            .filter(|(_, c)| c.writes > 0)
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_output_shows_no_credentials() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (outcome, text) = demo(&dir).await;
    let credentials = Credentials::default();
    let debug = format!("{outcome:?}");
    for secret in [
        &credentials.chargebee_api_key,
        &credentials.poweroffice_application_key,
        &credentials.poweroffice_client_key,
        &credentials.poweroffice_subscription_key,
        &credentials.webcrm_auth_code,
        &credentials.rest_token,
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "the output shows a credential"
        );
        assert!(!debug.contains(secret.as_str()), "Debug shows a credential");
    }
    assert!(text.contains("sandbox counters"), "{text}");
}

#[test]
fn the_command_exits_zero_and_refuses_bad_faults() {
    use clap::Parser;
    let cli = flowgen_runtime::cli::Cli::try_parse_from(["flowgen", "demo", "--records", "5"])
        .expect("arguments");
    assert_eq!(
        flowgen_runtime::cli::run_with(cli, Some(dataflows::registry)),
        flowgen_runtime::cli::EXIT_OK
    );
    let bad =
        flowgen_runtime::cli::Cli::try_parse_from(["flowgen", "demo", "--faults", "5xx=lots"])
            .expect("arguments");
    assert_eq!(
        flowgen_runtime::cli::run_with(bad, Some(dataflows::registry)),
        flowgen_runtime::cli::EXIT_USAGE
    );
}
