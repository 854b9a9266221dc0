//! A sync through 10 % 5xx, 5 % 429 with Retry-After and 1 % malformed bodies ends with the
//! systems as a sync without faults leaves them: every good record synced, the bad ones
//! dead-lettered with their reason, no record duplicated.

use std::collections::BTreeMap;

use flowgen_sandbox::{Api, Faults};
use serde_json::json;

use crate::checks::{documents_hold, identities, identity_differences, rate_limits_kept};
use crate::support::{Setup, World, links_per_pair};

/// What a dead letter's error must not be: a transient failure the run should have
/// retried instead of giving the record up.
const TRANSIENT: [&str; 6] = [
    "HTTP 5",
    "HTTP 429",
    "malformed",
    "timed out",
    "connection",
    "Too Many",
];

/// The flow the bad records go through, and what the API says of them.
const BAD_FLOW: &str = "Powerofficego Customers person -> Chargebee Customer";
const BAD_REASON: &str = "invalid email";

/// Records an API refuses whatever the retries: PowerOffice Go persons whose e-mail
/// address Chargebee rejects (`email : invalid email`). Returns their ids.
fn plant_bad_records(world: &World) -> Vec<String> {
    [
        "ola(at)example.no",
        "kari@@example",
        "per at example dot com",
    ]
    .iter()
    .enumerate()
    .map(|(i, email)| {
        let person = world
            .sandbox
            .insert(
                "powerofficego",
                "Customers person",
                json!({"FirstName": format!("Bad{i}"), "LastName": "Address",
                           "Name": format!("Bad{i} Address"), "EmailAddress": email}),
            )
            .expect("a bad record");
        person.get("Id").map(ToString::to_string).expect("an id")
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_nothing_and_duplicate_nothing() {
    let faults: Faults = "5xx=10%,429=5%,retry_after=1,malformed=1%"
        .parse()
        .expect("faults");
    let faulty = World::start(Setup {
        faults,
        ..Setup::default()
    })
    .await;
    let clean = World::start(Setup::default()).await;
    let bad = plant_bad_records(&faulty);
    assert_eq!(
        plant_bad_records(&clean),
        bad,
        "the same ids in both worlds"
    );
    let seeded = clean.tables().await;
    clean.sandbox.reset_stats();

    let (faulty_runs, clean_runs) =
        tokio::join!(faulty.sync_until_quiet(5), clean.sync_until_quiet(4));
    for run in faulty_runs.iter().chain(&clean_runs) {
        let errors = run.report.get("read_errors").cloned().unwrap_or_default();
        assert!(
            errors.as_array().is_none_or(Vec::is_empty),
            "read errors: {errors}"
        );
    }

    // Every kind of fault was served; every API the sync talks to much got its share.
    let stats = faulty.sandbox.stats();
    let sum = |kind: fn(&flowgen_sandbox::FaultStats) -> u64| -> u64 {
        Api::ALL.iter().map(|a| kind(&stats.api(*a).faults)).sum()
    };
    assert!(sum(|f| f.errors_5xx) > 0, "5xx served: {stats:?}");
    assert!(sum(|f| f.too_many_requests) > 0, "429 served: {stats:?}");
    assert!(
        sum(|f| f.malformed) > 0,
        "malformed bodies served: {stats:?}"
    );
    for api in Api::ALL {
        let s = stats.api(api);
        let f = &s.faults;
        assert!(
            s.requests < 50 || f.errors_5xx + f.too_many_requests + f.malformed > 0,
            "{api}: {} requests and no fault: {f:?}",
            s.requests
        );
    }
    let problems = rate_limits_kept(&stats);
    assert!(problems.is_empty(), "{problems:#?}");

    // Read back without faults: the check is of the data, not of the reading.
    faulty
        .sandbox
        .set_faults(Faults::none())
        .expect("faults off");
    let (tables, state) = (faulty.tables().await, faulty.state().await);
    let (clean_tables, clean_state) = (clean.tables().await, clean.state().await);

    documents_hold(&faulty.registry, &seeded, &tables, &state).assert_none("sync with faults");

    // No duplicate, nothing missing: per flow, as many target records of each identity
    // (the values mapped from a source) as without faults, and as many records per table.
    let problems = identity_differences(
        &identities(&clean.registry, &clean_tables),
        &identities(&faulty.registry, &tables),
    );
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(tables.sandbox_counts, clean_tables.sandbox_counts);
    assert_eq!(
        links_per_pair(&state.links),
        links_per_pair(&clean_state.links)
    );

    // The bad records are dead-lettered with the API's reason, in both worlds; no good
    // record is: nothing is there for a fault it should have retried.
    let mut lettered: Vec<String> = state
        .dead_letters
        .iter()
        .filter(|l| l.direction == BAD_FLOW && l.error.contains(BAD_REASON))
        .map(|l| l.record_id.to_string())
        .collect();
    lettered.sort();
    let mut expected = bad.clone();
    expected.sort();
    assert_eq!(
        lettered, expected,
        "dead letters: {:#?}",
        state.dead_letters
    );
    assert_eq!(
        state.dead_letters.len(),
        bad.len(),
        "{:#?}",
        state.dead_letters
    );
    let per_direction = |letters: &[flowgen_runtime::state::DeadLetter]| {
        let mut n: BTreeMap<String, usize> = BTreeMap::new();
        for l in letters {
            *n.entry(l.direction.clone()).or_default() += 1;
        }
        n
    };
    assert_eq!(
        per_direction(&state.dead_letters),
        per_direction(&clean_state.dead_letters),
        "dead letters per flow, with and without faults"
    );
    for letter in &state.dead_letters {
        assert!(!letter.error.trim().is_empty(), "{letter:?}: no reason");
        for transient in TRANSIENT {
            assert!(
                !letter.error.contains(transient),
                "{} {}: dead-lettered for a transient failure: {}",
                letter.direction,
                letter.record_id,
                letter.error
            );
        }
        let clean_reason = clean_state
            .dead_letters
            .iter()
            .find(|c| c.direction == letter.direction && c.record_id == letter.record_id);
        if let Some(clean) = clean_reason {
            assert_eq!(
                letter.error, clean.error,
                "the same reason with and without faults"
            );
        }
    }
}
