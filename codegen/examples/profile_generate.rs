//! Generates the code for a corpus `RUNS` times, for CPU-time measurement under
//! `perf stat` (wall time on a shared machine is noisy):
//!
//! ```sh
//! cargo build --release -p flowgen-codegen --example profile_generate
//! perf stat -e task-clock target/release/examples/profile_generate 1000 0   # spec only
//! perf stat -e task-clock target/release/examples/profile_generate 1000 5   # + 5 generations
//! ```
//! The difference of the two task-clocks divided by the runs is the CPU time of one
//! generation (tokens, or tokens and prettyplease with a third argument `format`).

use std::time::Instant;

use flowgen_codegen::{Options, generate, generate_file};
use flowgen_spec::Sources;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let documents = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let formatted = args.get(3).is_some_and(|a| a == "format");
    let docs = flowgen_spec::corpus::generate(documents, 7);
    let sources = Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    let spec = flowgen_spec::build_spec(&sources);
    let options = Options::default();
    for _ in 0..runs {
        let start = Instant::now();
        let size = if formatted {
            generate_file(&spec, &options, None).map(|s| s.len())
        } else {
            generate(&spec, &options).map(|t| t.into_iter().count())
        };
        match size {
            Ok(size) => eprintln!(
                "{} flows: {size} in {:?} (wall)",
                spec.flows.len(),
                start.elapsed()
            ),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        }
    }
}
