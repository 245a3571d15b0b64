#!/usr/bin/env bash
# Runs every test of usher on a fresh Debian machine with Go installed:
# formatting and vet, then `go test ./...` on SQLite and on a throwaway
# PostgreSQL cluster this script starts (and removes) itself, the browser
# tests in headless Chromium (installed here if missing), and a short run of
# each fuzz target. Extra arguments go to `go test` (e.g. -run TestAccept).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# --- PostgreSQL: a throwaway cluster (durability off: tests only) ----------
PG_OPTIONS="-c fsync=off" source scripts/pg.sh

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
      # Minimizing a new input may take a minute by default: the whole
      # run would go to the first one (a few executions, no fuzzing), and
      # a run that ends while minimizing can fail with "context deadline
      # exceeded".
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "${USHER_FUZZTIME:-10s}" -fuzzminimizetime 1s "$pkg" >"$pg_dir/fuzz.log" 2>&1 \
        || { cat "$pg_dir/fuzz.log"; exit 1; }
    done
  done
fi
say "all tests passed"
