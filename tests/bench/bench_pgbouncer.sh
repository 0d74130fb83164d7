#!/usr/bin/env bash
# tests/bench/bench_pgbouncer.sh [SECONDS] - the statement modes of
# [database] prepared, and PgBouncer: token refreshes per second (each one
# a few statements and a transaction in PostgreSQL) through nginx, in three
# set-ups, one after another on the same stack:
#   direct, prepared = true    (the default)
#   direct, prepared = false   (unnamed statements: Parse/Bind/Execute each time)
#   PgBouncer (transaction pooling), prepared = false
# Prints one "refresh/s" line per set-up. Leaves the stack as it was (direct).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$ROOT/tests/bench/lib.sh"

SECS=${1:-10}
UMS_EXTRA_PACKAGES="wrk" "$ROOT/scripts/up" >/dev/null
. "$STACK/env"
BENCH_CONF="$STACK/nginx/conf/bench.d/pgbouncer.conf"
B="$BUILD/tests/bench/auth_bench"
LIMITS=(UMS_LIMITS_TOKEN_PER_5MIN=0 UMS_LIMITS_REFRESH_PER_5MIN=0 UMS_LIMITS_SIGNUP_PER_5MIN=0)

restore() {
    rm -f "$BENCH_CONF"
    "$ROOT/scripts/down" fcgi >/dev/null
    UMS_PGBOUNCER=0 "$ROOT/scripts/up" >/dev/null || true
    "$ROOT/scripts/down" pgbouncer >/dev/null
}
trap restore EXIT

# Past nginx's limit_req, as the other benchmarks measure ums itself.
unlimited_conf "$BENCH_CONF"

# run NAME PGBOUNCER PREPARED
run() {
    "$ROOT/scripts/down" fcgi >/dev/null
    env "${LIMITS[@]}" UMS_DATABASE_PREPARED="$3" UMS_PGBOUNCER="$2" "$ROOT/scripts/up" >/dev/null
    sleep 1
    printf '%-40s ' "$1"
    "$B" refresh "$SECS" 8 | tail -n 1
}

echo "ums statement modes: $(sed -n 's/^workers = //p' "$STACK/ums.conf") workers, $(nproc) cores, ${SECS}s per run, 8 client threads"
run "direct, prepared = true" 0 true
run "direct, prepared = false" 0 false
run "PgBouncer transaction, prepared = false" 1 false
