#!/usr/bin/env bash
# Makes sure the worker tests that need PostgreSQL really ran against a server: the in-process
# workers of flowgen-runtime (tests/workers.rs, the `postgres` cases) and the `flowgen run`
# processes of flowgen-tests (tests/workers.rs, all cases). Fails if the variable is missing,
# if any test failed, if none ran, or if a test reports that it skipped PostgreSQL.
# (.ci/run exports FLOWGEN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test.)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${FLOWGEN_TEST_POSTGRES_URL:-}" ]; then
    echo "check-workers-ran: FLOWGEN_TEST_POSTGRES_URL is not set" >&2
    exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# check NAME CARGO-NEXTEST-ARGUMENTS…: runs the tests, then checks they ran and none skipped.
check() {
    local name="$1"
    shift
    # --no-capture: the skip notice goes to stderr, and nextest would swallow it for passing tests.
    if ! cargo nextest run --no-capture "$@" >"$log" 2>&1; then
        cat "$log"
        echo "check-workers-ran: $name failed" >&2
        exit 1
    fi
    if grep -q "FLOWGEN_TEST_POSTGRES_URL not set" "$log"; then
        cat "$log"
        echo "check-workers-ran: $name skipped PostgreSQL" >&2
        exit 1
    fi
    local passed
    passed="$(sed -n 's/.*Summary.* \([0-9][0-9]*\) tests\{0,1\} run: \([0-9][0-9]*\) passed.*/\2/p' "$log" | tail -n 1)"
    if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
        cat "$log"
        echo "check-workers-ran: no test of $name ran" >&2
        exit 1
    fi
    echo "check-workers-ran: $passed tests of $name passed against the server"
}

check "the in-process workers" -p flowgen-runtime --test workers -E 'test(/postgres/)'
check "the flowgen run processes" -p flowgen-tests --test workers
