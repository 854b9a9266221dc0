//! One conformance suite for the `StateStore` and `Leases` traits, run against every backend:
//! SQLite (a temporary file) always, PostgreSQL when `FLOWGEN_TEST_POSTGRES_URL` is set.
//!
//! Each PostgreSQL test works in a schema of its own (`flowgen_test_<pid>_<random>`, dropped at
//! the end), so parallel test processes and reruns never see each other's rows. When the
//! variable is set, a PostgreSQL test that cannot connect fails: it never passes silently.
//! When it is not set the PostgreSQL tests say so on stderr and pass, except under `CI=true`,
//! where they fail (CI always sets the variable, see `.ci/run`).

#[path = "support/pg_schema.rs"]
mod pg_schema;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use flowgen_runtime::RecordId;
use flowgen_runtime::state::leases::{LeaseError, LocalLeases, WorkItem, shard_cursor_entity};
use flowgen_runtime::state::{
    Backend, Batch, ClaimOutcome, Conflict, CreateClaim, Deferral, Intent, Leases, Link, Side,
    SqliteStore, StateStore,
};
use pg_schema::{PgSchema, postgres_url};
use serde_json::json;

const HOUR: Duration = Duration::from_secs(3600);

/// A backend under test: its store, its leases, and the leases of a second worker of the same
/// state (another connection pool on PostgreSQL; the same process-wide table on SQLite).
struct Fixture {
    store: Arc<dyn StateStore>,
    leases: Arc<dyn Leases>,
    other_worker: Arc<dyn Leases>,
    _cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Schema(#[allow(dead_code)] PgSchema),
}

async fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("flowgen.db");
    let store: Arc<dyn StateStore> = Arc::new(SqliteStore::open(&path).await.expect("sqlite"));
    let leases: Arc<dyn Leases> = Arc::new(LocalLeases::new(store.clone()));
    Fixture {
        store,
        other_worker: leases.clone(),
        leases,
        _cleanup: Cleanup::Dir(dir),
    }
}

async fn postgres_fixture() -> Option<Fixture> {
    let url = postgres_url("PostgreSQL conformance tests")?;
    let schema = PgSchema::create(&url, "flowgen_test").await;
    let store = schema.store().await;
    // A second pool on the same schema: another worker of the same state.
    let second = schema.store().await;
    let cleanup = Cleanup::Schema(schema);
    Some(Fixture {
        store: store.clone(),
        leases: store,
        other_worker: second,
        _cleanup: cleanup,
    })
}

/// Runs each case on SQLite (`sqlite::<case>`) and PostgreSQL (`postgres::<case>`).
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::sqlite_fixture().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(fixture) = super::postgres_fixture().await {
                        super::$case(fixture).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    links_are_found_by_either_side,
    a_record_has_one_link_per_side,
    links_are_replaced_by_a_side_id,
    orphaned_links_and_hashes_round_trip,
    cursors_per_system_and_entity,
    intents_are_stored_listed_and_done,
    deferrals_are_added_updated_and_lifted,
    dead_letters_are_added_retried_and_resolved,
    conflicts_are_logged_in_order,
    runs_are_started_finished_and_listed,
    counts_per_pair_and_direction,
    a_failing_batch_changes_nothing,
    ids_and_values_keep_their_form,
    leases_split_the_items,
    concurrent_acquires_never_share_an_item,
    an_expired_lease_is_taken_over_and_fenced,
    an_expired_lease_nobody_took_is_still_held,
    heartbeats_extend_and_release_frees,
    acquiring_takes_shards_of_every_entity_first,
    shard_cursors_are_kept_apart,
    workers_announce_expire_and_retire,
    a_claim_grants_one_create_per_source,
    a_claim_holds_back_a_possible_echo,
    concurrent_claims_grant_each_source_once,
    plain_intents_belong_to_no_worker,
);

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0)
        .single()
        .expect("time")
}

fn link(pair: &str, a: RecordId, b: RecordId) -> Link {
    Link {
        pair: pair.into(),
        a_id: a,
        b_id: b,
        a_hash: None,
        b_hash: None,
        orphaned: false,
    }
}

fn int(i: i64) -> RecordId {
    RecordId::Int(i)
}

fn text(s: &str) -> RecordId {
    RecordId::from(s)
}

fn links_batch(links: Vec<Link>) -> Batch {
    Batch {
        links,
        ..Batch::default()
    }
}

fn intent(key: &str, source: RecordId) -> Intent {
    Intent {
        key: key.into(),
        direction: "cb->wc".into(),
        pair: "P".into(),
        source_side: Side::B,
        source_id: source,
        target_system: "webcrm".into(),
        target_entity: "Organisation".into(),
        payload: json!({"name": key, "n": [1, 2.5, null]}),
        source_hash: format!("s-{key}"),
        target_hash: format!("t-{key}"),
    }
}

fn sorted(mut links: Vec<Link>) -> Vec<Link> {
    links.sort_by_key(|l| (l.pair.clone(), l.a_id.to_string(), l.b_id.to_string()));
    links
}

async fn links_are_found_by_either_side(f: Fixture) {
    let s = &f.store;
    // More than one statement's worth of rows on both stores.
    let many: Vec<Link> = (1..=1200)
        .map(|i| link("P", int(i), text(&format!("b{i}"))))
        .collect();
    s.commit(links_batch(many)).await.expect("commit");
    s.commit(links_batch(vec![link("Q", int(1), text("other"))]))
        .await
        .expect("commit");

    let ids: Vec<RecordId> = (1190..=1210).map(int).collect();
    let found = sorted(s.links("P", Side::A, &ids).await.expect("links"));
    assert_eq!(found.len(), 11);
    assert!(found.iter().all(|l| l.pair == "P"));

    let wanted: Vec<RecordId> = (1..=1200).map(|i| text(&format!("b{i}"))).collect();
    assert_eq!(
        s.links("P", Side::B, &wanted).await.expect("links").len(),
        1200
    );

    assert_eq!(
        s.links("P", Side::B, &[text("b7")]).await.expect("links"),
        vec![link("P", int(7), text("b7"))]
    );
    assert_eq!(
        s.links("Q", Side::A, &[int(1)]).await.expect("links"),
        vec![link("Q", int(1), text("other"))]
    );
    // The other side's id, a missing id, an unknown pair and no ids find nothing.
    assert!(
        s.links("P", Side::A, &[text("b7")])
            .await
            .expect("links")
            .is_empty()
    );
    assert!(
        s.links("P", Side::A, &[int(5000)])
            .await
            .expect("links")
            .is_empty()
    );
    assert!(
        s.links("R", Side::A, &[int(1)])
            .await
            .expect("links")
            .is_empty()
    );
    assert!(s.links("P", Side::A, &[]).await.expect("links").is_empty());

    let all = s.all_links(None).await.expect("all");
    assert_eq!(all.len(), 1201);
    let only_q = s.all_links(Some("Q")).await.expect("all");
    assert_eq!(only_q, vec![link("Q", int(1), text("other"))]);
    // Ordered by pair, then by the stored id text.
    let p: Vec<String> = s
        .all_links(Some("P"))
        .await
        .expect("all")
        .iter()
        .take(3)
        .map(|l| l.a_id.to_string())
        .collect();
    assert_eq!(p, ["1", "10", "100"]);
}

async fn a_record_has_one_link_per_side(f: Fixture) {
    let s = &f.store;
    s.commit(links_batch(vec![link("P", int(1), text("x"))]))
        .await
        .expect("commit");
    // Another A record onto the same B record is refused.
    let err = s
        .commit(links_batch(vec![link("P", int(2), text("x"))]))
        .await;
    assert!(err.is_err(), "a second link to one B record was accepted");
    // Within one batch too.
    assert!(
        s.commit(links_batch(vec![
            link("P", int(3), text("y")),
            link("P", int(4), text("y")),
        ]))
        .await
        .is_err()
    );
    // The same B id in another pair is another record.
    s.commit(links_batch(vec![link("Q", int(2), text("x"))]))
        .await
        .expect("other pair");
    assert_eq!(
        sorted(s.all_links(None).await.expect("all")),
        vec![link("P", int(1), text("x")), link("Q", int(2), text("x"))]
    );
}

async fn links_are_replaced_by_a_side_id(f: Fixture) {
    let s = &f.store;
    s.commit(links_batch(vec![link("P", int(1), text("x"))]))
        .await
        .expect("commit");
    let mut moved = link("P", int(1), text("y"));
    moved.a_hash = Some("ha".into());
    s.commit(links_batch(vec![moved.clone()]))
        .await
        .expect("replace");
    assert_eq!(s.all_links(None).await.expect("all"), vec![moved.clone()]);
    assert!(
        s.links("P", Side::B, &[text("x")])
            .await
            .expect("links")
            .is_empty()
    );
    // The freed B record can be linked again.
    s.commit(links_batch(vec![link("P", int(2), text("x"))]))
        .await
        .expect("relink");
    // One batch naming one A record twice: the last one wins, as applied one after another.
    let mut last = link("P", int(3), text("z2"));
    last.b_hash = Some("hb".into());
    s.commit(links_batch(vec![
        link("P", int(3), text("z1")),
        last.clone(),
    ]))
    .await
    .expect("twice");
    assert_eq!(
        s.links("P", Side::A, &[int(3)]).await.expect("links"),
        vec![last]
    );
    assert!(
        s.links("P", Side::B, &[text("z1")])
            .await
            .expect("links")
            .is_empty()
    );
    assert_eq!(s.all_links(Some("P")).await.expect("all").len(), 3);
}

async fn orphaned_links_and_hashes_round_trip(f: Fixture) {
    let s = &f.store;
    let mut l = link("P", int(1), text("x"));
    l.set_hash(Side::A, "hash-a".into());
    s.commit(links_batch(vec![l.clone()]))
        .await
        .expect("commit");
    let got = s.links("P", Side::A, &[int(1)]).await.expect("links");
    assert_eq!(got[0].hash(Side::A), Some("hash-a"));
    assert_eq!(got[0].hash(Side::B), None);
    assert!(!got[0].orphaned);

    l.set_hash(Side::B, "hash-b".into());
    l.orphaned = true;
    s.commit(links_batch(vec![l.clone()]))
        .await
        .expect("orphan");
    assert_eq!(
        s.links("P", Side::B, &[text("x")]).await.expect("links"),
        vec![l.clone()]
    );
    // And back.
    l.orphaned = false;
    l.a_hash = None;
    s.commit(links_batch(vec![l.clone()]))
        .await
        .expect("unorphan");
    assert_eq!(s.all_links(None).await.expect("all"), vec![l]);
}

async fn cursors_per_system_and_entity(f: Fixture) {
    let s = &f.store;
    assert_eq!(s.cursor("S", "E").await.expect("cursor"), None);
    let batch = Batch {
        cursors: vec![
            ("S".into(), "E".into(), "1".into()),
            ("S".into(), "F".into(), "a".into()),
            // The last of two for one entity wins.
            ("S".into(), "E".into(), "2".into()),
        ],
        ..Batch::default()
    };
    s.commit(batch).await.expect("commit");
    assert_eq!(
        s.cursor("S", "E").await.expect("cursor").as_deref(),
        Some("2")
    );
    assert_eq!(
        s.cursor("S", "F").await.expect("cursor").as_deref(),
        Some("a")
    );
    assert_eq!(s.cursor("T", "E").await.expect("cursor"), None);
    let batch = Batch {
        cursors: vec![("S".into(), "E".into(), "2026-01-01T00:00:00Z|x".into())],
        ..Batch::default()
    };
    s.commit(batch).await.expect("advance");
    assert_eq!(
        s.cursor("S", "E").await.expect("cursor").as_deref(),
        Some("2026-01-01T00:00:00Z|x")
    );
}

async fn intents_are_stored_listed_and_done(f: Fixture) {
    let s = &f.store;
    s.put_intents(&[]).await.expect("nothing");
    assert!(s.intents().await.expect("intents").is_empty());
    let (a, b) = (intent("k1", text("x")), intent("k2", int(2)));
    s.put_intents(&[b.clone(), a.clone()]).await.expect("put");
    // One call: ordered by key.
    assert_eq!(
        s.intents().await.expect("intents"),
        vec![a.clone(), b.clone()]
    );

    // The same key again replaces it.
    let mut a2 = a.clone();
    a2.payload = json!({"name": "changed"});
    a2.target_hash = "t2".into();
    s.put_intents(std::slice::from_ref(&a2))
        .await
        .expect("replace");
    let listed = s.intents().await.expect("intents");
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&a2) && listed.contains(&b));

    // Twice in one call: the last one.
    let mut b2 = b.clone();
    b2.source_hash = "s2".into();
    s.put_intents(&[b.clone(), b2.clone()])
        .await
        .expect("twice");
    assert!(s.intents().await.expect("intents").contains(&b2));

    let batch = Batch {
        intents_done: vec!["k1".into(), "unknown".into()],
        ..Batch::default()
    };
    s.commit(batch).await.expect("done");
    assert_eq!(s.intents().await.expect("intents"), vec![b2]);
}

async fn deferrals_are_added_updated_and_lifted(f: Fixture) {
    let s = &f.store;
    let d = |id: RecordId, reason: &str| Deferral {
        direction: "d".into(),
        record_id: id,
        reason: reason.into(),
    };
    s.commit(Batch {
        deferred: vec![d(int(1), "waits for 7"), d(text("1"), "waits for 8")],
        ..Batch::default()
    })
    .await
    .expect("defer");
    let listed = s.deferrals().await.expect("deferrals");
    assert_eq!(listed.len(), 2, "integer 1 and text \"1\" are two records");

    s.commit(Batch {
        deferred: vec![d(int(1), "waits for 9")],
        ..Batch::default()
    })
    .await
    .expect("again");
    let listed = s.deferrals().await.expect("deferrals");
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&d(int(1), "waits for 9")));

    s.commit(Batch {
        undeferred: vec![("d".into(), int(1)), ("other".into(), text("1"))],
        ..Batch::default()
    })
    .await
    .expect("lift");
    assert_eq!(
        s.deferrals().await.expect("deferrals"),
        vec![d(text("1"), "waits for 8")]
    );

    // Lifted and deferred again in one batch: deferred.
    s.commit(Batch {
        undeferred: vec![("d".into(), text("1"))],
        deferred: vec![d(text("1"), "still waiting")],
        ..Batch::default()
    })
    .await
    .expect("both");
    assert_eq!(
        s.deferrals().await.expect("deferrals"),
        vec![d(text("1"), "still waiting")]
    );
}

async fn dead_letters_are_added_retried_and_resolved(f: Fixture) {
    let s = &f.store;
    let fail = |id: RecordId, error: &str| ("d".to_string(), id, json!({"p": error}), error.into());
    s.commit(Batch {
        dead_letters: vec![fail(int(1), "boom"), fail(int(2), "bang")],
        ..Batch::default()
    })
    .await
    .expect("fail");
    let dead = s.dead_letters().await.expect("dead");
    assert_eq!(dead.len(), 2);
    assert_eq!((dead[0].record_id.clone(), dead[0].attempts), (int(1), 1));
    assert!(dead[0].id < dead[1].id);
    let first_at = dead[0].created_at;

    // A retry that fails again counts an attempt and keeps the latest error and payload.
    s.commit(Batch {
        dead_letters: vec![fail(int(1), "boom again")],
        ..Batch::default()
    })
    .await
    .expect("retry");
    let dead = s.dead_letters().await.expect("dead");
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].error, "boom again");
    assert_eq!(dead[0].payload, json!({"p": "boom again"}));
    assert_eq!(dead[0].created_at, first_at);

    // Twice in one batch: two attempts.
    s.commit(Batch {
        dead_letters: vec![fail(int(2), "x"), fail(int(2), "y")],
        ..Batch::default()
    })
    .await
    .expect("twice");
    let dead = s.dead_letters().await.expect("dead");
    assert_eq!((dead[1].attempts, dead[1].error.as_str()), (3, "y"));

    // Resolved: gone. Resolved and failed again in one batch: a fresh dead letter.
    s.commit(Batch {
        resolved_dead_letters: vec![("d".into(), int(1)), ("d".into(), int(2))],
        dead_letters: vec![fail(int(2), "new")],
        ..Batch::default()
    })
    .await
    .expect("resolve");
    let dead = s.dead_letters().await.expect("dead");
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].record_id.clone(), dead[0].attempts), (int(2), 1));

    // An error text with a NUL character (remote systems send anything) is stored.
    s.commit(Batch {
        dead_letters: vec![fail(int(3), "bad\0byte")],
        ..Batch::default()
    })
    .await
    .expect("nul");
    let dead = s.dead_letters().await.expect("dead");
    assert!(dead[1].error.starts_with("bad") && dead[1].error.ends_with("byte"));
}

async fn conflicts_are_logged_in_order(f: Fixture) {
    let s = &f.store;
    let c = |n: i64, winner: Side| Conflict {
        direction: "a->b".into(),
        pair: "P".into(),
        a_id: int(n),
        b_id: text(&format!("b{n}")),
        winner,
        winner_values: json!({"name": format!("w{n}")}),
        loser_values: json!({"name": format!("l{n}"), "deep": {"x": [n]}}),
        at: at(n),
    };
    s.commit(Batch {
        conflicts: vec![c(2, Side::A), c(1, Side::B)],
        ..Batch::default()
    })
    .await
    .expect("conflicts");
    s.commit(Batch {
        conflicts: vec![c(2, Side::B)],
        ..Batch::default()
    })
    .await
    .expect("again");
    assert_eq!(
        s.conflicts().await.expect("conflicts"),
        vec![c(2, Side::A), c(1, Side::B), c(2, Side::B)]
    );
}

async fn runs_are_started_finished_and_listed(f: Fixture) {
    let s = &f.store;
    assert!(s.runs(10).await.expect("runs").is_empty());
    let first = s.start_run(at(0)).await.expect("start");
    let second = s.start_run(at(10)).await.expect("start");
    assert!(second > first);
    s.finish_run(first, at(5), "ok", &json!({"created": 3, "errors": []}))
        .await
        .expect("finish");
    let runs = s.runs(10).await.expect("runs");
    assert_eq!(runs.len(), 2);
    // Newest first; the unfinished one is still running.
    assert_eq!((runs[0].id, runs[0].status.as_str()), (second, "running"));
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(runs[0].report, json!({}));
    assert_eq!(runs[0].started_at, at(10));
    assert_eq!(runs[1].finished_at, Some(at(5)));
    assert_eq!(runs[1].report, json!({"created": 3, "errors": []}));
    assert_eq!(s.runs(1).await.expect("runs").len(), 1);
    assert!(s.runs(0).await.expect("runs").is_empty());
}

async fn counts_per_pair_and_direction(f: Fixture) {
    let s = &f.store;
    assert_eq!(s.counts().await.expect("counts"), Default::default());
    s.commit(Batch {
        links: vec![
            link("P", int(1), int(1)),
            link("P", int(2), int(2)),
            link("Q", int(1), int(1)),
        ],
        deferred: vec![Deferral {
            direction: "d1".into(),
            record_id: int(1),
            reason: "r".into(),
        }],
        dead_letters: vec![
            ("d1".into(), int(1), json!(null), "e".into()),
            ("d2".into(), int(1), json!(null), "e".into()),
            ("d2".into(), int(2), json!(null), "e".into()),
        ],
        conflicts: vec![Conflict {
            direction: "d2".into(),
            pair: "P".into(),
            a_id: int(1),
            b_id: int(1),
            winner: Side::A,
            winner_values: json!({}),
            loser_values: json!({}),
            at: at(0),
        }],
        ..Batch::default()
    })
    .await
    .expect("commit");
    let counts = s.counts().await.expect("counts");
    assert_eq!(counts.links.get("P"), Some(&2));
    assert_eq!(counts.links.get("Q"), Some(&1));
    assert_eq!(counts.deferred.get("d1"), Some(&1));
    assert_eq!(counts.dead_letters.get("d1"), Some(&1));
    assert_eq!(counts.dead_letters.get("d2"), Some(&2));
    assert_eq!(counts.conflicts.get("d2"), Some(&1));
    assert_eq!(counts.conflicts.get("d1"), None);
}

async fn a_failing_batch_changes_nothing(f: Fixture) {
    let s = &f.store;
    s.commit(links_batch(vec![link("P", int(1), text("taken"))]))
        .await
        .expect("commit");
    s.put_intents(&[intent("k", int(5))]).await.expect("intent");
    let bad = Batch {
        links: vec![
            link("P", int(2), text("fine")),
            link("P", int(3), text("taken")),
        ],
        cursors: vec![("S".into(), "E".into(), "9".into())],
        intents_done: vec!["k".into()],
        deferred: vec![Deferral {
            direction: "d".into(),
            record_id: int(1),
            reason: "r".into(),
        }],
        dead_letters: vec![("d".into(), int(1), json!(1), "e".into())],
        ..Batch::default()
    };
    assert!(s.commit(bad).await.is_err());
    assert_eq!(
        s.all_links(None).await.expect("links"),
        vec![link("P", int(1), text("taken"))]
    );
    assert_eq!(s.cursor("S", "E").await.expect("cursor"), None);
    assert_eq!(s.intents().await.expect("intents").len(), 1);
    assert!(s.deferrals().await.expect("deferrals").is_empty());
    assert!(s.dead_letters().await.expect("dead").is_empty());
    // The store still works after the rollback.
    s.commit(links_batch(vec![link("P", int(2), text("fine"))]))
        .await
        .expect("commit after rollback");
    assert_eq!(s.all_links(None).await.expect("links").len(), 2);
}

async fn ids_and_values_keep_their_form(f: Fixture) {
    let s = &f.store;
    let odd = [
        int(-7),
        int(i64::MAX),
        text("12"),
        text("quote\"and\\slash"),
        text("ünïcødé ✓"),
        text("nul\0inside"),
        text(""),
    ];
    let links: Vec<Link> = odd
        .iter()
        .enumerate()
        .map(|(i, id)| link("P", id.clone(), int(i64::try_from(i).expect("small"))))
        .collect();
    s.commit(links_batch(links.clone())).await.expect("commit");
    let found = s.links("P", Side::A, &odd).await.expect("links");
    assert_eq!(sorted(found), sorted(links));
    assert!(
        s.links("P", Side::A, &[int(12)])
            .await
            .expect("links")
            .is_empty()
    );

    let mut i = intent("k", text("nul\0inside"));
    i.payload = json!({
        "big": 18_446_744_073_709_551_615u64,
        "neg": -1.5e-7,
        "s": "line\nbreak\u{0}nul",
        "nested": {"b": [true, false, null], "a": {}}
    });
    s.put_intents(std::slice::from_ref(&i)).await.expect("put");
    assert_eq!(s.intents().await.expect("intents"), vec![i]);
}

fn items(n: u32) -> Vec<WorkItem> {
    (0..n).map(|shard| WorkItem::new("S", "E", shard)).collect()
}

async fn leases_split_the_items(f: Fixture) {
    let (mine, theirs) = (&f.leases, &f.other_worker);
    assert!(
        mine.acquire("w1", 5, HOUR)
            .await
            .expect("none known")
            .is_empty()
    );
    mine.register(&items(5)).await.expect("register");
    // Registering again (another worker starting) changes nothing.
    theirs.register(&items(5)).await.expect("register again");
    assert_eq!(mine.items().await.expect("items").len(), 5);

    assert!(mine.acquire("w1", 0, HOUR).await.expect("zero").is_empty());
    let first = mine.acquire("w1", 3, HOUR).await.expect("acquire");
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|l| l.holder == "w1" && l.token == 1));
    let second = theirs.acquire("w2", 10, HOUR).await.expect("acquire");
    assert_eq!(second.len(), 2);
    let a: HashSet<&WorkItem> = first.iter().map(|l| &l.item).collect();
    assert!(second.iter().all(|l| !a.contains(&l.item)));
    assert!(
        mine.acquire("w1", 10, HOUR)
            .await
            .expect("again")
            .is_empty()
    );

    let states = theirs.items().await.expect("items");
    assert_eq!(states.len(), 5);
    assert_eq!(
        states
            .iter()
            .filter(|s| s.holder.as_deref() == Some("w1"))
            .count(),
        3
    );
    assert!(states.iter().all(|s| s.expires_at.is_some()));

    // Work committed under a held lease is written.
    let batch = links_batch(vec![link("P", int(1), int(1))]);
    mine.commit_leased(&first, batch).await.expect("commit");
    assert_eq!(f.store.all_links(None).await.expect("links").len(), 1);
    // A lease of another worker does not let a worker commit.
    let mut forged = second[0].clone();
    forged.holder = "w1".into();
    let err = mine
        .commit_leased(&[forged], links_batch(vec![link("P", int(2), int(2))]))
        .await;
    assert!(matches!(err, Err(LeaseError::Lost { .. })), "{err:?}");
    assert_eq!(f.store.all_links(None).await.expect("links").len(), 1);
}

async fn concurrent_acquires_never_share_an_item(f: Fixture) {
    f.leases.register(&items(24)).await.expect("register");
    let mut tasks = Vec::new();
    for w in 0..8 {
        let leases = if w % 2 == 0 {
            f.leases.clone()
        } else {
            f.other_worker.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..3 {
                got.extend(
                    leases
                        .acquire(&format!("w{w}"), 2, HOUR)
                        .await
                        .expect("acquire"),
                );
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for lease in task.await.expect("task") {
            assert!(
                seen.insert(lease.item.clone()),
                "{} leased twice",
                lease.item
            );
            total += 1;
        }
    }
    // 8 workers asking 3 times for 2 items each: all 24 items are taken, each once.
    assert_eq!(total, 24);
    let states = f.leases.items().await.expect("items");
    assert!(states.iter().all(|s| s.holder.is_some() && s.token == 1));
}

async fn an_expired_lease_is_taken_over_and_fenced(f: Fixture) {
    let (dead, alive) = (&f.leases, &f.other_worker);
    dead.register(&items(1)).await.expect("register");
    // A worker that stops renewing: its lease expires at once.
    let old = dead
        .acquire("dead", 1, Duration::ZERO)
        .await
        .expect("acquire");
    assert_eq!(old.len(), 1);
    let new = alive.acquire("alive", 1, HOUR).await.expect("take over");
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].item, old[0].item);
    assert!(new[0].token > old[0].token);
    assert!(
        dead.acquire("third", 1, HOUR)
            .await
            .expect("none")
            .is_empty()
    );

    // The old holder learns it lost the lease, and can no longer write under it.
    assert!(
        dead.heartbeat(&old, HOUR)
            .await
            .expect("heartbeat")
            .is_empty()
    );
    let err = dead
        .commit_leased(&old, links_batch(vec![link("P", int(1), int(1))]))
        .await;
    assert!(
        matches!(&err, Err(LeaseError::Lost { item }) if *item == old[0].item),
        "{err:?}"
    );
    assert!(f.store.all_links(None).await.expect("links").is_empty());
    // Its release does not free the new holder's lease.
    dead.release(&old).await.expect("release");
    let states = alive.items().await.expect("items");
    assert_eq!(states[0].holder.as_deref(), Some("alive"));
    assert_eq!(states[0].token, new[0].token);

    alive
        .commit_leased(&new, links_batch(vec![link("P", int(1), int(1))]))
        .await
        .expect("new holder commits");
    assert_eq!(f.store.all_links(None).await.expect("links").len(), 1);
}

async fn an_expired_lease_nobody_took_is_still_held(f: Fixture) {
    let l = &f.leases;
    l.register(&items(1)).await.expect("register");
    let lease = l.acquire("w", 1, Duration::ZERO).await.expect("acquire");
    // Nobody else can have processed the item: the holder may still write and renew.
    l.commit_leased(&lease, links_batch(vec![link("P", int(1), int(1))]))
        .await
        .expect("commit");
    let renewed = l.heartbeat(&lease, HOUR).await.expect("heartbeat");
    assert_eq!(renewed.len(), 1);
    assert_eq!(renewed[0].token, lease[0].token);
    assert!(renewed[0].expires_at > lease[0].expires_at);
    assert!(
        f.other_worker
            .acquire("other", 1, HOUR)
            .await
            .expect("none")
            .is_empty()
    );
}

async fn heartbeats_extend_and_release_frees(f: Fixture) {
    let (a, b) = (&f.leases, &f.other_worker);
    a.register(&items(3)).await.expect("register");
    let held = a
        .acquire("a", 3, Duration::from_secs(60))
        .await
        .expect("acquire");
    assert_eq!(held.len(), 3);
    let renewed = a.heartbeat(&held, HOUR).await.expect("heartbeat");
    assert_eq!(renewed.len(), 3);
    for (old, new) in held.iter().zip(&renewed) {
        assert_eq!((&old.item, old.token), (&new.item, new.token));
        assert!(new.expires_at > old.expires_at);
    }
    // A lease with a wrong token (an older life of the holder) is not renewed.
    let mut stale = held[0].clone();
    stale.token -= 1;
    assert!(
        a.heartbeat(&[stale.clone()], HOUR)
            .await
            .expect("stale")
            .is_empty()
    );
    a.release(&[stale]).await.expect("stale release");
    assert!(b.acquire("b", 3, HOUR).await.expect("all held").is_empty());

    a.release(&renewed[..2]).await.expect("release");
    let taken = b.acquire("b", 3, HOUR).await.expect("acquire");
    assert_eq!(
        taken.iter().map(|l| l.item.clone()).collect::<Vec<_>>(),
        vec![held[0].item.clone(), held[1].item.clone()]
    );
    assert!(taken.iter().all(|l| l.token == 2));
    // Released leases no longer count for their old holder.
    assert_eq!(
        a.heartbeat(&renewed, HOUR).await.expect("heartbeat").len(),
        1
    );
    let err = a.commit_leased(&renewed, Batch::default()).await;
    assert!(matches!(err, Err(LeaseError::Lost { .. })), "{err:?}");
    let states = a.items().await.expect("items");
    assert_eq!(
        states.iter().map(|s| s.holder.clone()).collect::<Vec<_>>(),
        vec![Some("b".into()), Some("b".into()), Some("a".into())]
    );
}

/// `Backend::open` picks the store by the form of its argument.
#[tokio::test]
async fn backend_is_chosen_by_url_or_path() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.db");
    let backend = Backend::open(path.to_str().expect("utf-8 path"))
        .await
        .expect("sqlite");
    assert!(format!("{:?}", backend.store).contains("SqliteStore"));
    backend.leases.register(&items(1)).await.expect("register");
    assert_eq!(backend.leases.items().await.expect("items").len(), 1);
    assert!(path.exists());

    let prefixed = dir.path().join("prefixed.db");
    let prefixed_url = format!("sqlite://{}", prefixed.display());
    flowgen_runtime::state::open(&prefixed_url)
        .await
        .expect("sqlite:// prefix");
    assert!(prefixed.exists());

    assert!(Backend::open("  ").await.is_err());
    // A postgres URL is never taken for a file name, even when no server answers.
    let err = flowgen_runtime::state::open("postgresql://nobody@127.0.0.1:1/none")
        .await
        .expect_err("no server on port 1");
    assert!(!dir.path().join("postgresql:").exists());
    assert!(format!("{err}").starts_with("state store"), "{err}");
}

/// A claim of `holder`'s create from `source` (side A of pair `P`, of `S/Se`) into `T/Te`.
fn claim(
    key: &str,
    source: RecordId,
    data: serde_json::Value,
    payload: serde_json::Value,
) -> CreateClaim {
    CreateClaim {
        intent: Intent {
            key: key.into(),
            direction: "S/Se -> T/Te".into(),
            pair: "P".into(),
            source_side: Side::A,
            source_id: source,
            target_system: "T".into(),
            target_entity: "Te".into(),
            payload,
            source_hash: format!("s-{key}"),
            target_hash: format!("t-{key}"),
        },
        source_system: "S".into(),
        source_entity: "Se".into(),
        source_data: data,
    }
}

/// The claim of the inverse direction: a create from `source` of `T/Te` (side B) into `S/Se`.
fn inverse_claim(key: &str, source: RecordId, data: serde_json::Value) -> CreateClaim {
    CreateClaim {
        intent: Intent {
            key: key.into(),
            direction: "T/Te -> S/Se".into(),
            pair: "P".into(),
            source_side: Side::B,
            source_id: source,
            target_system: "S".into(),
            target_entity: "Se".into(),
            payload: json!({}),
            source_hash: format!("s-{key}"),
            target_hash: format!("t-{key}"),
        },
        source_system: "T".into(),
        source_entity: "Te".into(),
        source_data: data,
    }
}

async fn holder_of(leases: &Arc<dyn Leases>, key: &str) -> Option<Option<String>> {
    leases
        .claimed_intents()
        .await
        .expect("claimed intents")
        .into_iter()
        .find(|c| c.intent.key == key)
        .map(|c| c.holder)
}

async fn acquiring_takes_shards_of_every_entity_first(f: Fixture) {
    let items: Vec<WorkItem> = ["A", "B"]
        .iter()
        .flat_map(|e| (0..3).map(move |shard| WorkItem::new("S", *e, shard)))
        .collect();
    f.leases.register(&items).await.expect("register");
    let first = f.leases.acquire("w1", 2, HOUR).await.expect("acquire");
    assert_eq!(
        first.iter().map(|l| l.item.clone()).collect::<Vec<_>>(),
        vec![WorkItem::new("S", "A", 0), WorkItem::new("S", "B", 0)]
    );
    let next = f
        .other_worker
        .acquire("w2", 3, HOUR)
        .await
        .expect("acquire");
    assert_eq!(
        next.iter().map(|l| l.item.clone()).collect::<Vec<_>>(),
        vec![
            WorkItem::new("S", "A", 1),
            WorkItem::new("S", "A", 2),
            WorkItem::new("S", "B", 1)
        ]
    );
}

async fn shard_cursors_are_kept_apart(f: Fixture) {
    let s = &f.store;
    let (zero, one) = (
        shard_cursor_entity("E", 0, 4),
        shard_cursor_entity("E", 1, 4),
    );
    assert_ne!(zero, one);
    assert_ne!(zero, shard_cursor_entity("E", 0, 8));
    let batch = Batch {
        cursors: vec![
            ("S".into(), "E".into(), "whole".into()),
            ("S".into(), zero.clone(), "c0".into()),
            ("S".into(), one.clone(), "c1".into()),
        ],
        ..Batch::default()
    };
    s.commit(batch).await.expect("cursors");
    assert_eq!(
        s.cursor("S", "E").await.expect("c").as_deref(),
        Some("whole")
    );
    assert_eq!(
        s.cursor("S", &zero).await.expect("c").as_deref(),
        Some("c0")
    );
    assert_eq!(s.cursor("S", &one).await.expect("c").as_deref(), Some("c1"));
    assert_eq!(
        s.cursor("S", &shard_cursor_entity("E", 2, 4))
            .await
            .expect("c"),
        None
    );
}

async fn workers_announce_expire_and_retire(f: Fixture) {
    let (a, b) = (&f.leases, &f.other_worker);
    assert!(a.workers().await.expect("workers").is_empty());
    a.announce("w1", HOUR).await.expect("announce");
    b.announce("w2", HOUR).await.expect("announce");
    // Expired at once: not counted.
    b.announce("w3", Duration::ZERO).await.expect("announce");
    assert_eq!(a.workers().await.expect("workers"), vec!["w1", "w2"]);
    assert_eq!(b.workers().await.expect("workers"), vec!["w1", "w2"]);
    // Renewing keeps one entry; an expired worker that announces again is back.
    a.announce("w1", HOUR).await.expect("renew");
    b.announce("w3", HOUR).await.expect("back");
    assert_eq!(a.workers().await.expect("workers"), vec!["w1", "w2", "w3"]);
    a.retire("w2").await.expect("retire");
    a.retire("nobody").await.expect("retire unknown");
    assert_eq!(b.workers().await.expect("workers"), vec!["w1", "w3"]);
}

async fn a_claim_grants_one_create_per_source(f: Fixture) {
    let (w1, w2) = (&f.leases, &f.other_worker);
    assert!(
        w1.claim_creates("w1", &[])
            .await
            .expect("nothing")
            .is_empty()
    );
    let data = json!({"name": "Ann"});
    let c1 = claim("k1", int(1), data.clone(), json!({"Name": "Ann"}));
    let c2 = claim("k2", int(2), json!({"name": "Bo"}), json!({"Name": "Bo"}));
    assert_eq!(
        w1.claim_creates("w1", &[c1.clone(), c2.clone()])
            .await
            .expect("claim"),
        vec![ClaimOutcome::Claimed, ClaimOutcome::Claimed]
    );
    // The claims are intents, held by their worker.
    assert_eq!(holder_of(w1, "k1").await, Some(Some("w1".into())));
    assert_eq!(holder_of(w2, "k2").await, Some(Some("w1".into())));
    assert_eq!(f.store.intents().await.expect("intents").len(), 2);

    // A second create of source 1, by another worker or by the same one: busy.
    let again = claim("k1b", int(1), data.clone(), json!({"Name": "Ann"}));
    for (leases, holder) in [(w2, "w2"), (w1, "w1")] {
        let outcome = leases
            .claim_creates(holder, std::slice::from_ref(&again))
            .await
            .expect("claim");
        assert!(
            matches!(&outcome[..], [ClaimOutcome::Busy(reason)] if reason.contains("in progress")),
            "{outcome:?}"
        );
    }
    assert_eq!(holder_of(w1, "k1b").await, None);

    // The create done: the link and the intent's removal are one commit. Then a claim gets
    // the link, and stores nothing.
    let mut made = link("P", int(1), int(100));
    made.a_hash = Some("s-k1".into());
    let batch = Batch {
        links: vec![made.clone()],
        intents_done: vec!["k1".into()],
        ..Batch::default()
    };
    w1.commit_leased(&[], batch).await.expect("commit");
    assert_eq!(holder_of(w1, "k1").await, None);
    assert_eq!(
        w2.claim_creates("w2", &[again]).await.expect("claim"),
        vec![ClaimOutcome::Linked(made)]
    );
    assert_eq!(holder_of(w2, "k1b").await, None);
    // The same source in the other direction is another create.
    assert_eq!(
        w2.claim_creates("w2", &[inverse_claim("k3", int(1), json!({}))])
            .await
            .expect("claim"),
        vec![ClaimOutcome::Claimed]
    );
}

async fn a_claim_holds_back_a_possible_echo(f: Fixture) {
    let (w1, w2) = (&f.leases, &f.other_worker);
    // w1 creates T/Te from S/Se record 1 with these values...
    let create = claim(
        "k1",
        int(1),
        json!({"name": "Ann"}),
        json!({"Name": "Ann", "Size": 2}),
    );
    assert_eq!(
        w1.claim_creates("w1", &[create]).await.expect("claim"),
        vec![ClaimOutcome::Claimed]
    );
    // ... so a T/Te record carrying them may be the one being made: w2 does not create an S/Se
    // record from it before w1 stored its link.
    let echo = inverse_claim(
        "k2",
        int(100),
        json!({"Name": " ann ", "Size": 2.0, "Other": 1}),
    );
    let outcome = w2
        .claim_creates("w2", std::slice::from_ref(&echo))
        .await
        .expect("claim");
    assert!(
        matches!(&outcome[..], [ClaimOutcome::Busy(reason)] if reason.contains("w1")),
        "{outcome:?}"
    );
    // Other values, or the creating worker itself: not in the way.
    let other = inverse_claim("k3", int(101), json!({"Name": "Bo", "Size": 2}));
    assert_eq!(
        w2.claim_creates("w2", &[other]).await.expect("claim"),
        vec![ClaimOutcome::Claimed]
    );
    let own = inverse_claim("k4", int(102), json!({"Name": "Ann", "Size": 2}));
    assert_eq!(
        w1.claim_creates("w1", &[own]).await.expect("claim"),
        vec![ClaimOutcome::Claimed]
    );
    // w1's link committed: the echo is linked, nothing to create.
    let made = link("P", int(1), int(100));
    let batch = Batch {
        links: vec![made.clone()],
        intents_done: vec!["k1".into()],
        ..Batch::default()
    };
    w1.commit_leased(&[], batch).await.expect("commit");
    assert_eq!(
        w2.claim_creates("w2", &[echo]).await.expect("claim"),
        vec![ClaimOutcome::Linked(made)]
    );
}

async fn concurrent_claims_grant_each_source_once(f: Fixture) {
    let mut tasks = Vec::new();
    for w in 0..6 {
        let leases = if w % 2 == 0 {
            f.leases.clone()
        } else {
            f.other_worker.clone()
        };
        tasks.push(tokio::spawn(async move {
            let holder = format!("w{w}");
            let mut granted = Vec::new();
            // Each worker claims the same eight sources, in its own order and batch size.
            let mut sources: Vec<i64> = (0..8).collect();
            sources.rotate_left(w);
            for chunk in sources.chunks(1 + w % 3) {
                let claims: Vec<CreateClaim> = chunk
                    .iter()
                    .map(|s| {
                        claim(
                            &format!("{holder}-{s}"),
                            int(*s),
                            json!({}),
                            json!({"n": s}),
                        )
                    })
                    .collect();
                let outcomes = leases.claim_creates(&holder, &claims).await.expect("claim");
                assert_eq!(outcomes.len(), claims.len());
                for (c, o) in claims.iter().zip(outcomes) {
                    if o == ClaimOutcome::Claimed {
                        granted.push(c.intent.source_id.clone());
                    }
                }
            }
            granted
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for source in task.await.expect("task") {
            assert!(seen.insert(source.clone()), "source {source} claimed twice");
        }
    }
    assert_eq!(seen.len(), 8, "every source claimed once");
    assert_eq!(f.store.intents().await.expect("intents").len(), 8);
}

async fn plain_intents_belong_to_no_worker(f: Fixture) {
    let plain = claim("k1", int(1), json!({}), json!({"Name": "Ann"}));
    f.store
        .put_intents(std::slice::from_ref(&plain.intent))
        .await
        .expect("put");
    assert_eq!(holder_of(&f.leases, "k1").await, Some(None));
    // A single-process run's open create is in the way of a worker's, as any other.
    let outcome = f
        .leases
        .claim_creates("w1", &[claim("k2", int(1), json!({}), json!({}))])
        .await
        .expect("claim");
    assert!(
        matches!(&outcome[..], [ClaimOutcome::Busy(reason)] if reason.contains("single-process")),
        "{outcome:?}"
    );
}
