#!/usr/bin/env bash
# Makes sure the PostgreSQL state store conformance tests really ran against a server:
# runs them alone with FLOWGEN_TEST_POSTGRES_URL set, and fails if the variable is missing,
# if any test failed, if none ran, or if a test reports that it skipped PostgreSQL.
# (.ci/run exports FLOWGEN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test.)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${FLOWGEN_TEST_POSTGRES_URL:-}" ]; then
    echo "check-postgres-ran: FLOWGEN_TEST_POSTGRES_URL is not set" >&2
    exit 1
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# --no-capture: the skip notice goes to stderr, and nextest would swallow it for passing tests.
if ! cargo nextest run -p flowgen-runtime --test state_conformance --no-capture \
    -E 'test(/^postgres::/)' >"$log" 2>&1; then
    cat "$log"
    echo "check-postgres-ran: PostgreSQL conformance tests failed" >&2
    exit 1
fi
cat "$log"
if grep -q "FLOWGEN_TEST_POSTGRES_URL not set" "$log"; then
    echo "check-postgres-ran: PostgreSQL conformance tests were skipped" >&2
    exit 1
fi
passed="$(sed -n 's/.*Summary.* \([0-9][0-9]*\) tests\{0,1\} run: \([0-9][0-9]*\) passed.*/\2/p' "$log" | tail -n 1)"
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
    echo "check-postgres-ran: no PostgreSQL conformance test ran" >&2
    exit 1
fi
echo "check-postgres-ran: $passed PostgreSQL conformance tests passed against the server"
