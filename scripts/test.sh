#!/usr/bin/env bash
# Runs the whole suite: SQLite always, PostgreSQL on a throwaway cluster started here,
# browser tests in Debian's Chromium. Under CI a missing PostgreSQL or Chromium fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
cleanup() { :; }
if [ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ]; then
  PGDIR=$(mktemp -d /tmp/abm-pg.XXXXXX)
  PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_pg=()
  if [ "$(id -u)" = "0" ]; then
    chown postgres "$PGDIR"          # initdb refuses to run as root
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U abm -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 \
    || { cat "$PGDIR/initdb.log"; exit 1; }
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
    -o "-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  cleanup() { "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
  export TEST_POSTGRES_URL="postgresql+psycopg://abm@127.0.0.1:$PGPORT/postgres"
  echo "PostgreSQL test cluster on 127.0.0.1:$PGPORT"
else
  echo "PostgreSQL binaries not found: PostgreSQL tests will be skipped (they fail under CI)."
fi
trap cleanup EXIT

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
WORKERS=${TEST_WORKERS:-2}
.venv/bin/python -m pytest -n "$WORKERS" "$@"
