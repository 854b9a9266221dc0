//! A full sync of every flow of the five documents, checked against what the documents
//! say, then a run that writes nothing.

use flowgen_runtime::flow::CreatePolicy;

use crate::checks::{documents_hold, rate_limits_kept};
use crate::support::{Setup, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_syncs_as_documented_and_the_next_run_writes_nothing() {
    // The connectors keep to exactly the limits the sandbox enforces: the sandbox's
    // counters then prove the limiter spends the whole budget and never more.
    let world = World::start(Setup {
        sandbox_per_second: 50,
        connector_per_second: 50,
        ..Setup::default()
    })
    .await;
    let seeded = world.tables().await;
    world.sandbox.reset_stats();

    let first = world.sync_once().await;
    let flows: Vec<_> = world.registry.flows().map(|f| f.info()).collect();
    assert_eq!(flows.len(), 29, "the five documents hold 29 flows");
    assert!(
        flows
            .iter()
            .all(|i| i.condition.is_none() && i.match_rules.is_empty()),
        "the checks below assume what the five documents say: no conditions, no match rules"
    );
    for info in &flows {
        let name = info.name;
        assert!(
            first.flows().contains_key(name),
            "{name}: not in the first run's report"
        );
        // Records other flows created in the source before it was read count too.
        let read = first.count(name, "read");
        assert!(
            read as usize >= seeded.of(info.source).len() && read > 0,
            "{name}: the first run read {read} records, the sandbox seeded {} {}",
            seeded.of(info.source).len(),
            info.source
        );
    }
    // "Every X will be synchronized with a Y": the first run created a Y per X.
    for info in flows.iter().filter(|i| i.create == CreatePolicy::Always) {
        let created = first.count(info.name, "created");
        assert!(
            created as usize >= seeded.of(info.source).len(),
            "{}: {created} created for {} seeded {}",
            info.name,
            seeded.of(info.source).len(),
            info.source
        );
    }
    // "A new Y will be created from a X if it is connected to ...": some are, not all.
    for info in flows
        .iter()
        .filter(|i| i.create == CreatePolicy::WhenConnected)
    {
        let created = first.count(info.name, "created");
        assert!(
            created > 0 && first.count(info.name, "skipped") > 0,
            "{}: created {created}, skipped {}: the connected ones only",
            info.name,
            first.count(info.name, "skipped")
        );
    }
    assert_eq!(first.total("dead_lettered"), 0, "{:#?}", first.busy());
    // Clean data: nothing worth a warning (dead letters, read errors, retries given up).
    for level in ["WARN", "ERROR"] {
        assert!(
            !first.output.stderr.contains(level),
            "the first run logged at {level}:\n{}",
            first.output.stderr
        );
    }

    // The run after a full sync writes nothing, by the engine's count and the sandbox's.
    let before = world.changes();
    let second = world.sync_once().await;
    assert_eq!(
        second.total("writes"),
        0,
        "the run after a full sync writes nothing; it did {:#?}",
        second.busy()
    );
    assert_eq!(second.total("created") + second.total("updated"), 0);
    assert_eq!(
        world.changes(),
        before,
        "the sandbox saw writes in the second run"
    );

    let stats = world.sandbox.stats();
    let problems = rate_limits_kept(&stats);
    assert!(problems.is_empty(), "{problems:#?}\n{stats:#?}");
    assert!(stats.total_requests() > 0);

    let tables = world.tables().await;
    let state = world.state().await;
    documents_hold(&world.registry, &seeded, &tables, &state).assert_none("full sync");
    assert!(state.dead_letters.is_empty(), "{:#?}", state.dead_letters);
    assert!(state.deferrals.is_empty(), "{:#?}", state.deferrals);
}
