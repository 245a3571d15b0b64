#!/usr/bin/env bash
# Runs every test of usher on a fresh Debian machine with Go installed:
# formatting and vet, then `go test ./...` on SQLite and on a throwaway
# PostgreSQL cluster this script starts (and removes) itself, the browser
# tests in headless Chromium (installed here if missing), and a short run of
# each fuzz target. Extra arguments go to `go test` (e.g. -run TestAccept).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# --- PostgreSQL: a throwaway cluster on a free port in a temp dir ---------
pg_bin=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
if [ -z "$pg_bin" ]; then
  say "installing PostgreSQL"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_bin="$d"; done
fi
pg_dir=$(mktemp -d /tmp/usher-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
  || echo $((20000 + RANDOM % 20000)))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
stop_pg() {
  as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_pg EXIT
say "starting PostgreSQL on 127.0.0.1:$pg_port"
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log"; exit 1; }
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null \
  || { cat "$pg_dir/log"; exit 1; }
export USHER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"

# --- Chromium for the browser tests ---------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
  say "installing Chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# --- Static checks ---------------------------------------------------------
say "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
go vet ./...

# --- Tests -------------------------------------------------------------------
say "go test (SQLite and PostgreSQL)"
go test -count=1 -timeout 30m "$@" ./...

# --- Fuzzing, briefly ----------------------------------------------------------
if [ $# -eq 0 ]; then
  say "fuzzing"
  for pkg in $(go list ./...); do
    dir=$(go list -f '{{.Dir}}' "$pkg")
    for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
      echo "fuzz $pkg $target"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "${USHER_FUZZTIME:-10s}" "$pkg" >"$pg_dir/fuzz.log" 2>&1 \
        || { cat "$pg_dir/fuzz.log"; exit 1; }
    done
  done
fi
say "all tests passed"
