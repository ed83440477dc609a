#!/usr/bin/env bash
# Runs the built server with the embedded defaults (see the README for every variable).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=$HOME/.cache/devpulse/target}"
export DEVPULSE_SITE_ROOT="${DEVPULSE_SITE_ROOT:-$PWD/target/site}"
export PORT="${PORT:-3000}"
# OTLP/gRPC exporters' default port; OTLP_GRPC_PORT= (empty) turns the second listener off.
export OTLP_GRPC_PORT="${OTLP_GRPC_PORT-4317}"
if [ -f .env ]; then set -a; . ./.env; set +a; fi
exec "$CARGO_TARGET_DIR/debug/server" serve
