#!/usr/bin/env bash
# Reads the same generated corpus with docutils (python) and with `flowgen check`, and
# prints both times and the ratio.
#
#   scripts/bench-docutils.sh [DOCUMENTS=1000] [RUNS=1]   (docutils takes about a minute)
#
# Builds the corpus generator (flowgen-spec example `gen_corpus`) and the release
# `flowgen` binary, writes the corpus to a temporary folder, installs docutils with pip if
# it is missing, then runs scripts/bench_docutils.py. Honours CARGO_TARGET_DIR.
set -euo pipefail

documents="${1:-1000}"
runs="${2:-1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$(mktemp -d "${TMPDIR:-/tmp}/flowgen-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cd "$root"
cargo build --release --quiet -p flowgen-spec --example gen_corpus
cargo build --release --quiet -p dataflows --bin flowgen
"$target/release/examples/gen_corpus" "$work/corpus" "$documents"

if ! python3 -c 'import docutils' 2>/dev/null; then
    python3 -m pip install --quiet docutils
fi

python3 "$root/scripts/bench_docutils.py" "$work/corpus" "$target/release/flowgen" "$runs"
