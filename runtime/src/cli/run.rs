//! `flowgen run`: synchronizes continuously as one or more workers (see [`crate::worker`]).
//!
//! Every `poll_interval` a worker takes its share of the work items (shards of the source
//! entities), runs the engine over each and records the pass. Several processes — on one
//! machine or several — sharing a `postgres://…` state split the items between them; with a
//! SQLite state one process runs `--workers N` of them. SIGINT or SIGTERM stops gracefully:
//! the page in flight is finished and committed, the leases are given back, exit code 0. A
//! second signal exits at once (code 130); the open create intents are reconciled by the
//! next run, so nothing is duplicated.

use std::io::Write;
use std::sync::Arc;

use clap::Args;

use super::config::seconds;
use super::sync::{Common, Output, fail, load};
use super::{EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};
use crate::engine::Stop;
use crate::flow::Registry;
use crate::state::leases::worker_id;
use crate::worker::{PassReport, Worker, WorkerConfig};

/// Exit code after a second signal: the conventional 128 + SIGINT.
const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: Common,
    /// Seconds between passes (default: `poll_interval` of the configuration, else 30).
    #[arg(long, value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// Workers in this process (default: `run.workers` of the configuration, else 1).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Shards per entity (default: `run.shards`, else 8); every worker of one state must agree.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Seconds a lease lasts without a heartbeat (default: `run.lease_ttl`, else 30).
    #[arg(long, value_name = "SECONDS")]
    pub lease_ttl: Option<f64>,
    /// Stop after this many passes of each worker (default: run until stopped).
    #[arg(long, value_name = "N")]
    pub passes: Option<u64>,
}

/// The worker settings: flags over `flowgen.yaml` over defaults.
fn worker_config(args: &RunArgs, config: &super::config::Config) -> Result<WorkerConfig, String> {
    let defaults = WorkerConfig::default();
    let poll_interval = match args.interval {
        Some(s) => seconds(s, "--interval", 0.0)?,
        None => config.poll_interval.unwrap_or(defaults.poll_interval),
    };
    let lease_ttl = match args.lease_ttl.or(config.run.lease_ttl) {
        Some(s) => seconds(s, "--lease-ttl", 1.0)?,
        None => defaults.lease_ttl,
    };
    Ok(WorkerConfig {
        shards: args.shards.or(config.run.shards).unwrap_or(defaults.shards),
        lease_ttl,
        poll_interval,
        max_passes: args.passes,
    })
}

/// `flowgen run`.
pub fn run(args: RunArgs, registry: fn() -> Registry) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };
    rt.block_on(run_async(args, registry))
}

async fn run_async(args: RunArgs, registry: fn() -> Registry) -> u8 {
    let stop = Stop::new();
    // Listening before the first pass: a signal during start-up stops gracefully too.
    let signals = match listen(Arc::clone(&stop)) {
        Ok(task) => task,
        Err(e) => return fail(format!("cannot listen for signals: {e}")),
    };
    let loaded = match load(&args.common, registry).await {
        Ok(l) => l,
        Err(code) => return code,
    };
    let config = match worker_config(&args, &loaded.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let count = args.workers.or(loaded.config.run.workers).unwrap_or(1);
    if count == 0 {
        eprintln!("error: --workers: at least 1");
        return EXIT_USAGE;
    }
    let engine = Arc::new(loaded.engine);
    let mut workers = Vec::with_capacity(count);
    for _ in 0..count {
        match Worker::new(
            Arc::clone(&engine),
            Arc::clone(&loaded.leases),
            worker_id(),
            config.clone(),
        ) {
            Ok(w) => workers.push(w),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let items = workers.first().map_or(0, |w| w.items().len());
    if args.common.output == Output::Text {
        println!(
            "flowgen run: {count} worker{} ({}), {items} work items ({} shards per entity), state {}, a pass every {:.1} s; SIGINT or SIGTERM stops",
            if count == 1 { "" } else { "s" },
            workers
                .iter()
                .map(Worker::holder)
                .collect::<Vec<_>>()
                .join(", "),
            config.shards,
            loaded.state,
            config.poll_interval.as_secs_f64()
        );
        let _ = std::io::stdout().flush();
    }
    let systems = &loaded.systems;
    let output = args.common.output;
    let runs = workers.iter().map(|worker| {
        worker.run(Arc::clone(&stop), move |pass| {
            print_pass(pass, output);
            // Memory-file systems are written back after every pass.
            if let Err(e) = systems.save() {
                tracing::warn!(error = %e, "cannot save the memory-file systems");
            }
        })
    });
    let results = futures::future::join_all(runs).await;
    signals.abort();
    let mut code = EXIT_OK;
    if let Err(e) = loaded.systems.save() {
        code = fail(e);
    }
    for (worker, result) in workers.iter().zip(results) {
        match result {
            Ok(passes) => {
                if output == Output::Text {
                    println!(
                        "worker {} stopped after {passes} passes; its leases are released",
                        worker.holder()
                    );
                }
            }
            Err(e) => {
                eprintln!("error: worker {}: {e}", worker.holder());
                code = EXIT_FINDINGS;
            }
        }
    }
    code
}

fn print_pass(pass: &PassReport, output: Output) {
    match output {
        Output::Json => match serde_json::to_string(pass) {
            Ok(line) => println!("{line}"),
            Err(e) => tracing::warn!(error = %e, "cannot print the pass"),
        },
        Output::Text => {
            let t = pass.report.total();
            println!(
                "worker {} pass {}: {} items ({} workers), read {}, created {}, updated {}, linked {}, deferred {} ({} waiting), dead letters {}, conflicts {}, writes {}{}",
                pass.worker,
                pass.pass,
                pass.items.len(),
                pass.workers,
                t.read,
                t.created,
                t.updated,
                t.linked,
                t.deferred,
                pass.report.still_deferred,
                t.dead_lettered,
                t.conflicts,
                t.writes,
                if pass.errors.is_empty() && pass.items.iter().all(|i| i.error.is_none()) {
                    String::new()
                } else {
                    format!(
                        "; errors: {}",
                        pass.errors
                            .iter()
                            .cloned()
                            .chain(pass.items.iter().filter_map(|i| {
                                i.error.as_ref().map(|e| format!("{}: {e}", i.item))
                            }))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                }
            );
        }
    }
    let _ = std::io::stdout().flush();
}

/// Requests a graceful stop on the first SIGINT or SIGTERM, exits on the second.
fn listen(stop: Arc<Stop>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = interrupt.recv() => "SIGINT",
                    _ = terminate.recv() => "SIGTERM",
                };
                on_signal(&stop, name);
            }
        }))
    }
    #[cfg(not(unix))]
    {
        Ok(tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                on_signal(&stop, "Ctrl-C");
            }
        }))
    }
}

fn on_signal(stop: &Stop, name: &str) {
    if stop.is_requested() {
        eprintln!("{name} again: exiting now (open create intents are reconciled by the next run)");
        std::process::exit(EXIT_INTERRUPTED);
    }
    eprintln!(
        "{name}: stopping: finishing the page in flight, committing it and releasing the leases ({name} again exits at once)"
    );
    stop.request();
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use clap::Parser;

    use super::*;
    use crate::cli::config::Config;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> RunArgs {
        let mut all = vec!["flowgen", "run"];
        all.extend_from_slice(argv);
        match Cli::try_parse_from(all).expect("arguments").command {
            Command::Run(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_override_the_configuration_which_overrides_defaults() {
        let config = Config::parse(
            "poll_interval: 5\nrun: { shards: 4, lease_ttl: 12 }\n",
            Path::new("."),
        )
        .expect("config");
        let from_config = worker_config(&args(&[]), &config).expect("config values");
        assert_eq!(
            from_config,
            WorkerConfig {
                shards: 4,
                lease_ttl: Duration::from_secs(12),
                poll_interval: Duration::from_secs(5),
                max_passes: None,
            }
        );
        let flags = args(&[
            "--interval",
            "0.5",
            "--shards",
            "16",
            "--lease-ttl",
            "3",
            "--passes",
            "2",
        ]);
        assert_eq!(
            worker_config(&flags, &config).expect("flags"),
            WorkerConfig {
                shards: 16,
                lease_ttl: Duration::from_secs(3),
                poll_interval: Duration::from_millis(500),
                max_passes: Some(2),
            }
        );
        let defaults = Config::parse("{}", Path::new(".")).expect("empty");
        assert_eq!(
            worker_config(&args(&[]), &defaults).expect("defaults"),
            WorkerConfig::default()
        );
    }

    #[test]
    fn a_state_url_is_never_shown_with_its_password() {
        let run = args(&["--state", "postgres://flow:s3cret@db/flowgen"]);
        assert!(!format!("{run:?}").contains("s3cret"));
        assert_eq!(
            run.common.state.map(|s| s.to_string()).as_deref(),
            Some("postgres://flow:***@db/flowgen")
        );
        assert!(Cli::try_parse_from(["flowgen", "run", "--state", " "]).is_err());
    }

    #[test]
    fn bad_durations_name_the_flag() {
        let config = Config::parse("{}", Path::new(".")).expect("empty");
        let e = worker_config(&args(&["--interval=-1"]), &config).expect_err("negative");
        assert!(e.contains("--interval"), "{e}");
        let e = worker_config(&args(&["--lease-ttl", "0.2"]), &config).expect_err("short");
        assert!(e.contains("--lease-ttl"), "{e}");
        assert!(Cli::try_parse_from(["flowgen", "run", "--shards", "x"]).is_err());
    }
}
