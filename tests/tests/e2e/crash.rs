//! `flowgen sync --once` killed with SIGKILL at random points (a seeded generator picks
//! the delays) and restarted each time, while the systems keep changing: once it may
//! finish, it converges to what a sync without crashes gives — no duplicate, nothing lost,
//! and a final run writes nothing. The sandbox lives in the test process, so it outlives
//! every killed `flowgen`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use flowgen_runtime::flow::EntityKey;
use flowgen_sandbox::Faults;
use serde_json::json;

use crate::checks::{documents_hold, identities, identity_differences, rate_limits_kept};
use crate::support::{Setup, World, links_per_pair};

/// Kills that must land while `flowgen` is running and talking to the sandbox.
const KILLS: usize = 20;
/// Attempts at most (an attempt whose run ends before its kill is not a kill).
const ATTEMPTS: usize = 60;

/// A change made "on the remote side" between two attempts, the same in both worlds.
/// `customers`: ids of seeded Chargebee customers (the same in both worlds).
fn mutate(world: &World, step: usize, customers: &[String]) {
    let sandbox = &world.sandbox;
    let name = format!("Crash{step}");
    let done = match step % 4 {
        // A new Chargebee customer: a new PowerOffice Go person.
        0 => sandbox.insert(
            "chargebee",
            "Customer",
            json!({"first_name": name, "last_name": "Kill", "email": format!("{}@kill.test", name.to_lowercase())}),
        ),
        // A new PowerOffice Go person: a new Chargebee customer.
        1 => sandbox.insert(
            "powerofficego",
            "Customers person",
            json!({"FirstName": name, "LastName": "Restart", "Name": format!("{name} Restart"),
                   "EmailAddress": format!("{}@restart.test", name.to_lowercase())}),
        ),
        // An edit of a seeded Chargebee customer: an update of its PowerOffice Go person.
        2 => sandbox.update(
            "chargebee",
            "Customer",
            &customers[step % customers.len()],
            json!({"last_name": format!("Edited{step}")}),
        ),
        // A new WebCRM person: a new Chargebee customer, then a PowerOffice Go person.
        _ => sandbox.insert(
            "webcrm",
            "Persons",
            json!({"PersonFirstName": name, "PersonLastName": "Webcrm", "PersonEmail": format!("{}@webcrm.test", name.to_lowercase())}),
        ),
    };
    done.unwrap_or_else(|e| panic!("change {step}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_it_converges_without_duplicates() {
    // Latency keeps every run long enough for a kill to land inside it.
    let faults: Faults = "latency=8ms".parse().expect("faults");
    let world = World::start(Setup {
        faults,
        ..Setup::default()
    })
    .await;
    let reference = World::start(Setup::default()).await;
    let seeded = world.tables().await;
    world.sandbox.reset_stats();
    let customers: Vec<String> = seeded
        .of(EntityKey {
            system: "Chargebee",
            entity: "Customer",
        })
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    assert!(!customers.is_empty());

    let mut rng = SplitMix64::new(0x5eed_c0de);
    let (mut landed, mut while_writing, mut finished, mut step) = (0, 0, 0, 0);
    let mut longest = Duration::from_millis(1500);
    for attempt in 0..ATTEMPTS {
        if landed >= KILLS {
            break;
        }
        // From the third attempt on, the systems change between attempts.
        if attempt >= 2 {
            mutate(&world, step, &customers);
            mutate(&reference, step, &customers);
            step += 1;
        }
        let requests = world.sandbox.stats().total_requests();
        let changes = world.changes();
        let mut command = world.command(&["sync", "--once"]);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        let started = Instant::now();
        let mut child = command.spawn().expect("flowgen starts");
        let delay = Duration::from_millis(30 + rng.below(longest.as_millis() as u64));
        tokio::time::sleep(delay).await;
        match child.try_wait().expect("the child's status") {
            Some(status) => {
                assert!(
                    matches!(status.code(), Some(0 | 1)),
                    "an uninterrupted run failed: {status:?}"
                );
                finished += 1;
                longest = started.elapsed();
            }
            None => {
                child.start_kill().expect("SIGKILL");
                let status = child.wait().await.expect("the killed child ends");
                if std::os::unix::process::ExitStatusExt::signal(&status) != Some(9) {
                    // It ended by itself between the look and the kill.
                    assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
                    finished += 1;
                    continue;
                }
                if world.sandbox.stats().total_requests() > requests {
                    landed += 1;
                    if world.changes() > changes {
                        while_writing += 1;
                    }
                }
            }
        }
    }
    eprintln!(
        "{landed} kills mid-run ({while_writing} after the run had written), {finished} runs finished before their kill, {step} changes"
    );
    assert!(landed >= KILLS, "only {landed} kills landed mid-run");
    assert!(
        while_writing >= KILLS / 4,
        "only {while_writing} kills interrupted a run that was writing"
    );

    // Restarted without kills, it converges: the last run writes nothing.
    let runs = world.sync_until_quiet(4).await;
    let quiet = runs.last().expect("a run");
    assert_eq!(quiet.total("writes"), 0, "{:#?}", quiet.busy());
    let stats = world.sandbox.stats();
    let problems = rate_limits_kept(&stats);
    assert!(problems.is_empty(), "{problems:#?}");

    reference.sync_until_quiet(4).await;
    world
        .sandbox
        .set_faults(Faults::none())
        .expect("latency off");
    let (tables, state) = (world.tables().await, world.state().await);
    let (ref_tables, ref_state) = (reference.tables().await, reference.state().await);
    documents_hold(&world.registry, &seeded, &tables, &state).assert_none("after the kills");
    assert!(
        state.intents.is_empty(),
        "open intents: {:#?}",
        state.intents
    );
    assert!(state.dead_letters.is_empty(), "{:#?}", state.dead_letters);

    // No duplicate, nothing lost: as many records per table, per identity and per link
    // pair as in the world that never crashed.
    assert_eq!(tables.sandbox_counts, ref_tables.sandbox_counts);
    let problems = identity_differences(
        &identities(&reference.registry, &ref_tables),
        &identities(&world.registry, &tables),
    );
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(
        links_per_pair(&state.links),
        links_per_pair(&ref_state.links)
    );
}
/// A small seeded generator (SplitMix64): the same seed, the same kill points.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
