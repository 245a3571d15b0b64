#!/usr/bin/env bash
# Runs usher's benchmarks on SQLite and on a throwaway PostgreSQL cluster
# with the server's default durability (fsync on, as in production). Each
# benchmark reports its figures beside a raw baseline measured in the same
# run. USHER_BENCH_ROWS sets the list benchmark's table size (1,000,000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg.sh
run() { echo; echo "== $*"; go test -run '^$' -timeout 120m "$@"; }
run ./internal/web  -bench 'CreateInvitation|ListInvitations' -benchtime 1x
run ./internal/job  -bench Deliver -benchtime 3x
run ./internal/mail -bench . -benchtime 200x
run ./internal/bulk -bench . -benchtime 3x
run ./internal/invite -bench Import -benchtime 1x
