#!/usr/bin/env bash
# Regenerates .sqlx/ (the offline query data the sqlx macros check against) from a scratch
# database with every migration applied: registry tables in `public`, tenant tables in a
# schema that comes first on the search_path, as inside a TenantTx.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.data/sqlx-prepare-pg"
sock="$dir/run"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

mkdir -p .data && chmod 755 .data
if [ ! -f "$dir/PG_VERSION" ]; then
  rm -rf "$dir" && mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  run "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
fi
mkdir -p "$sock"; [ "$(id -u)" -eq 0 ] && chown postgres: "$sock"
run "$bin/pg_ctl" status -D "$dir" >/dev/null 2>&1 || \
  run "$bin/pg_ctl" start -D "$dir" -w -s -l "$dir/server.log" \
    -o "-c listen_addresses='' -k $sock -c fsync=off"
trap 'run "$bin/pg_ctl" stop -D "$dir" -m fast -w -s' EXIT

psql_() { psql -q -v ON_ERROR_STOP=1 -h "$sock" -U postgres "$@"; }
psql_ -d postgres -c "DROP DATABASE IF EXISTS devpulse_prepare" -c "CREATE DATABASE devpulse_prepare"
psql_ -d devpulse_prepare <<'SQL'
CREATE TABLE _sqlx_migrations (
    version BIGINT PRIMARY KEY, description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);
SQL
for f in migrations/registry/*.sql; do psql_ -d devpulse_prepare -f "$f"; done
for f in migrations/tenant/*.sql; do
  PGOPTIONS="-c search_path=tenant_prepare -c devpulse.tenant_role=postgres" psql_ -d devpulse_prepare \
    -c "CREATE SCHEMA IF NOT EXISTS tenant_prepare" -f "$f"
done

rm -rf .sqlx && mkdir .sqlx
grep -rlE 'query(_as|_scalar)?!' store server app --include=*.rs | xargs touch
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$PWD/.sqlx" \
DATABASE_URL="postgres://postgres@localhost/devpulse_prepare?host=$sock&options=-c%20search_path%3Dtenant_prepare%2Cpublic" \
  cargo test --no-run -q -p store -p app -p server
echo "wrote $(ls .sqlx | wc -l) query files to .sqlx/"
