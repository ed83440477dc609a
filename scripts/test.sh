#!/usr/bin/env bash
# Every test, for real: unit tests, integration tests against a private PostgreSQL cluster
# (a fresh database per test, cloned from a migrated template), the WASM build, and
# Playwright in Debian's Chromium against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/devpulse/target}"
export CARGO_TARGET_DIR
export DEVPULSE_TEST_PG_DIR="$PWD/.data/test-postgres"
export RUST_BACKTRACE=1
# Incremental caches only help edit-compile loops; in the shared target directory they grew
# by gigabytes per run.
export CARGO_INCREMENTAL=0
step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

cleanup() {
  scripts/pg.sh stop "$DEVPULSE_TEST_PG_DIR"
  # Each Playwright spec runs its own embedded server under .data/e2e-<spec>.
  for d in "$PWD"/.data/e2e*/postgres "$PWD/.data/bench/postgres" "$PWD/.data/schemathesis/postgres"; do
    [ -d "$d" ] && scripts/pg.sh stop "$d"
  done
  return 0
}
trap cleanup EXIT
# Each run starts from an empty cluster: no state leaks from one run into the next.
cleanup
rm -rf "$DEVPULSE_TEST_PG_DIR" .data/e2e* .data/bench .data/schemathesis
mkdir -p .data && chmod 755 .data
# Old builds of our own crates pile up in the shared target directory until the disk fills.
scripts/prune-target.py

step "rustfmt"
cargo fmt --all -- --check

step "unit and integration tests (types, pricing, store, mcp, collector, app with ssr, server)"
cargo test -p types -p pricing -p store -p mcp -p collector -p app -p server --no-fail-fast 2>&1 | tee .data/cargo-test.log
grep -E '^test result:' .data/cargo-test.log | awk '{p+=$4; f+=$6} END {printf "cargo test: %d passed, %d failed\n", p, f}'

step "the server's tests again, through PgBouncer in transaction mode (DATABASE_URL the pooler)"
# The modules about the registry, sign-in, jobs, LISTEN and the session-keeping paths (~1.5 min;
# the whole suite passes this way too, in ~9). `store::testing::pooler` starts the PgBouncer.
DEVPULSE_TEST_POOLER=1 cargo test -q -p server --test it -- \
  system:: identity:: live_metrics:: gdpr:: retention:: alerts:: exports:: http:: \
  ingest::imports:: people:: reports:: --skip identity::access::every_route \
  2>&1 | tee .data/cargo-test-pooled.log
grep -E '^test result:' .data/cargo-test-pooled.log

step "ingestion benchmark, quick mode (prints figures; asserts nothing about speed)"
DEVPULSE_BENCH_DATA_DIR="$PWD/.data/bench" cargo run -q -p server --example ingest-bench -- --quick 2>&1 \
  | grep -v ' INFO '

step "hook benchmark, quick mode (devpulse hook against a Node.js hook; prints figures)"
cargo bench -q -p collector --bench hook -- --quick

step "clippy (server side and WASM side)"
cargo clippy -p types -p pricing -p store -p mcp -p collector -p app -p server --all-targets -- -D warnings
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

step "site build: server + WASM bundle (cargo leptos build)"
cargo leptos build

step "deployment: Kubernetes manifests against the Kubernetes schemas and a real server's probes"
DEVPULSE_SERVER_BIN="$CARGO_TARGET_DIR/debug/server" .data/venv-py/bin/python scripts/check-deploy.py

step "API contract: schemathesis against /api/v1/openapi.json (real server, real PostgreSQL)"
DEVPULSE_SERVER_BIN="$CARGO_TARGET_DIR/debug/server" scripts/schemathesis.sh

step "end-to-end tests (Playwright, Debian Chromium)"
DEVPULSE_SERVER_BIN="$CARGO_TARGET_DIR/debug/server" npx playwright test -c end2end/playwright.config.ts
