#!/usr/bin/env bash
# pg.sh stop DIR: stops a private cluster the way the server would (as `postgres` when root).
set -euo pipefail
action=$1 dir=$2
[ -f "$dir/PG_VERSION" ] || exit 0
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || bin=$(dirname "$(command -v pg_ctl)")
run() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $action in
  stop) run "$bin/pg_ctl" status -D "$dir" >/dev/null 2>&1 && run "$bin/pg_ctl" stop -D "$dir" -m fast -w -s || true ;;
  *) echo "usage: pg.sh stop DIR" >&2; exit 2 ;;
esac
