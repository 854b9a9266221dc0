//! Writes a generated corpus of dataflow documents: `gen_corpus DIR N [SEED]`.
//! Used by `scripts/bench-docutils.sh`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1)) else {
        eprintln!("usage: gen_corpus DIR N [SEED]");
        return ExitCode::from(2);
    };
    let Ok(n) = n.parse::<usize>() else {
        eprintln!("N must be a number of documents, got `{n}`");
        return ExitCode::from(2);
    };
    let seed = match args.get(2).map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(s)) => s,
        Some(Err(_)) => {
            eprintln!("SEED must be a number");
            return ExitCode::from(2);
        }
    };
    let docs = flowgen_spec::corpus::generate(n, seed);
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    if let Err(e) = flowgen_spec::corpus::write(&PathBuf::from(dir), &docs) {
        eprintln!("cannot write {dir}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{} documents, {bytes} bytes in {dir}", docs.len());
    ExitCode::SUCCESS
}
