#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document (/api/v1/openapi.json) with schemathesis:
# a real server on its embedded PostgreSQL with the demo workspace, a tenant admin's session
# and an API key with both scopes. Every operation gets schema-valid and schema-invalid data;
# the run fails on a server error, an answer that does not match its schema, status or media
# type, or invalid data that is accepted.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/devpulse/target}"
bin=${DEVPULSE_SERVER_BIN:-$CARGO_TARGET_DIR/debug/server}
st=.data/venv-py/bin/schemathesis
data=$PWD/.data/schemathesis
examples=${SCHEMATHESIS_EXAMPLES:-25}
# A fixed seed: `make test` sends the same requests every run, so CI fails only when the code
# changes. Another seed explores further (SCHEMATHESIS_SEED=random for a new one each run);
# what it finds is mended, then tested in Rust.
seed=${SCHEMATHESIS_SEED:-20261206}
seed_args=()
[ "$seed" = random ] || seed_args=(--seed "$seed")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
rm -rf "$data" && mkdir -p "$data"
DATABASE_URL= PORT=$port DEVPULSE_DATA_DIR="$data" DEVPULSE_SITE_ROOT="$PWD/target/site" \
  DEVPULSE_DEMO_SUPERADMIN_PASSWORD=demo-superadmin-pass DEVPULSE_DEMO_LIVE=0 \
  DEVPULSE_PUBLIC_URL="$url" DEVPULSE_INGEST_KEY_RPS=100000 RUST_LOG=${RUST_LOG:-warn} \
  "$bin" serve > "$data/server.log" 2>&1 &
server=$!
stop() {
  { kill "$server" && wait "$server"; } 2>/dev/null || true
  scripts/pg.sh stop "$data/postgres" || true
}
trap stop EXIT
for _ in $(seq 180); do
  curl -fs "$url/readyz" > /dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$data/server.log"; exit 1; }
  sleep 0.5
done
curl -fs "$url/readyz" > /dev/null || { echo "the server never became ready"; cat "$data/server.log"; exit 1; }

# The document itself first: valid OpenAPI 3.1 by an independent validator.
curl -fs "$url/api/v1/openapi.json" | .data/venv-py/bin/python -c '
import json, sys
from openapi_spec_validator import validate
doc = json.load(sys.stdin)
validate(doc)
count = sum(len(item) for item in doc["paths"].values())
print("openapi.json: valid OpenAPI", doc["openapi"] + ",", count, "operations")'

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
# login <workspace> <email> <password>: a session's access token. A failed sign-in stops the
# run: without credentials every operation would answer 401, which passes every check.
login() {
  local token
  token=$(curl -fs -X POST "$url/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"$1\",\"email\":\"$2\",\"password\":\"$3\"}" | json '["access_token"]') || true
  [ -n "$token" ] || { echo "signing in as $2 failed" >&2; exit 1; }
  echo "$token"
}
admin() { login demo admin@demo.test demo-admin-pass; }
token=$(admin)
# A fresh key for each use: the session's pass revokes the keys it finds.
key() {
  local admin key
  admin=$(admin)
  key=$(curl -fs -X POST "$url/api/v1/api-keys" -H "authorization: Bearer $admin" \
    -H 'content-type: application/json' -d '{"name":"schemathesis","scopes":["ingest","read"]}' | json '["key"]') || true
  [ -n "$key" ] || { echo "making an API key failed" >&2; exit 1; }
  echo "$key"
}
export SCHEMATHESIS_HOOKS=$PWD/scripts/schemathesis_hooks.py

# Not fuzzed here, each for a reason:
# - the OTLP/gRPC services speak HTTP/2 gRPC framing, which schemathesis cannot (the real
#   OpenTelemetry SDK drives them in server/tests/otel_sdk.rs);
# - /ws and /ws/metrics are WebSocket upgrades (server/tests/it/live.rs).
never='^/opentelemetry\.|^/ws'
# What only an API key with the ingest scope may call.
ingest='^/api/v1/(hooks|ingest|imports)|^/v1/|^/api/v1/metrics/(sessions|tools)$|^/api/v1/metrics/sessions/\{id\}$'
# What ends or locks the fuzzer's own session once it finds its own id (schemathesis reuses
# ids from earlier answers): signing out, a password link (it signs the person out), turning
# MFA on for everyone, deactivating, erasing or demoting oneself. These run last, on their own.
self='^/api/v1/auth/logout|^/auth/logout|^/api/v1/users/\{id\}/(password-link|deactivate|erase|role)$|^/api/v1/users/bulk$|^/api/v1/admin/users/\{id\}$|^/api/v1/settings/mfa$|^/api/v1/profile/password$'

run() {
  local exclude=$1
  shift
  "$st" --config-file scripts/schemathesis.toml run "$url/api/v1/openapi.json" --no-color --generation-database none \
    --generation-with-security-parameters false --workers 1 --max-examples "$examples" \
    "${seed_args[@]}" \
    --phases examples,coverage,fuzzing \
    --exclude-path-regex "$exclude" "$@"
}
# Which checks run, and the few exceptions with their reasons: scripts/schemathesis.toml.
# One worker: Hypothesis describes strategies by parsing lambdas' source, and CPython's ast
# module fails now and then when two threads do that at once ("AST constructor recursion
# depth mismatch"), which the run reports as an error.
echo "--- with a tenant admin's session"
run "$never|$ingest|$self" -H "Authorization: Bearer $token"
echo "--- with an API key (ingest and read scopes)"
key=$(key)
run "$never" -H "Authorization: Bearer $key" --include-path-regex "$ingest"
echo "--- with a tenant admin's session: what acts on the caller's own account"
token=$(admin)
run "$never" -H "Authorization: Bearer $token" --include-path-regex "$self"
# A tenant admin may not edit a profile (the TRD gives profile.edit to developers) nor reach
# the installation's console.
echo "--- with a developer's session: their profile"
token=$(login demo dev@demo.test demo-developer-pass)
run "$never" -H "Authorization: Bearer $token" --include-path-regex '^/api/v1/(auth/)?profile$'
echo "--- with the super admin's session: the installation's console (suspends and deletes workspaces last)"
token=$(login '' root@devpulse.test demo-superadmin-pass)
run "$never" -H "Authorization: Bearer $token" --include-path-regex '^/api/v1/admin/(health|jobs|support|tenants)'

