//! Times `build_spec` over the 1,000-document benchmark corpus: `time_build [RUNS]`.
//! Prints the fastest and the median run (wall), and the mean CPU time of a run over all
//! threads. A development aid beside `benches/read.rs`: on a loaded machine the fastest of
//! many runs and the CPU time move much less than criterion's mean.

use std::time::Instant;

fn main() {
    let runs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30usize)
        .max(1);
    let docs = flowgen_spec::corpus::generate(1_000, 1);
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let sources =
        flowgen_spec::Sources::from_memory(docs.iter().map(|(n, t)| (n.as_str(), t.as_bytes())));
    let mut times = Vec::with_capacity(runs);
    let mut cpu = std::time::Duration::ZERO;
    for _ in 0..runs {
        let c = process_cpu();
        let t = Instant::now();
        let spec = flowgen_spec::build_spec(std::hint::black_box(&sources));
        times.push(t.elapsed());
        if let (Some(a), Some(b)) = (c, process_cpu()) {
            cpu += b.saturating_sub(a);
        }
        // Freed outside the timed part, as in the benchmark.
        drop(spec);
    }
    times.sort();
    let mb = bytes as f64 / 1e6;
    let (min, median) = (times[0], times[runs / 2]);
    println!(
        "build_spec, {runs} runs: fastest {min:.1?} ({:.0} MB/s), median {median:.1?} ({:.0} MB/s), CPU {:.1?} per run",
        mb / min.as_secs_f64(),
        mb / median.as_secs_f64(),
        cpu / runs as u32
    );
}

/// User + system CPU time of the whole process, ended threads included (Linux, from
/// `/proc/self/stat`, in clock ticks of 10 ms: meaningful summed over many runs).
fn process_cpu() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(std::time::Duration::from_millis((utime + stime) * 10))
}
