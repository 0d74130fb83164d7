#!/usr/bin/env bash
# tests/bench/bench_metrics.sh - what counting costs (issue 15): GET
# /auth/v1/user through the stack's nginx, with [metrics] enabled (every
# request counted into the worker's shared file) and disabled (the counts
# go to a private array and /metrics answers 404), the pool restarted for
# each run. wrk -t1 -c32 for SECS seconds, PAIRS alternating pairs (on-off,
# then off-on), the median of the pair ratios off/on; and first the cost
# of counting one request alone, in nanoseconds (tests/bench/metrics_count.c,
# deterministic where the HTTP figures are not). Not part of scripts/check.
# Usage: tests/bench/bench_metrics.sh [SECONDS] [PAIRS]
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

SECS=${1:-6}
PAIRS=${2:-5}

UMS_EXTRA_PACKAGES="wrk" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
restore() {
    "$ROOT/scripts/down" fcgi >/dev/null 2>&1 || true
    "$ROOT/scripts/up" >/dev/null || true
}
trap restore EXIT

EMAIL="bench-metrics-$(date +%s)@example.com"
curl -sf -X POST -H 'Content-Type: application/json' "$UMS_URL/auth/v1/signup" \
    -d "{\"email\":\"$EMAIL\",\"password\":\"Bench-Metrics-1\"}" >/dev/null ||
    die "sign-up failed"

# run on|off: restarts the pool with metrics on or off, prints requests/s.
run() {
    local enabled=true token rps
    [ "$1" = off ] && enabled=false
    "$ROOT/scripts/down" fcgi >/dev/null
    UMS_METRICS_ENABLED=$enabled "$ROOT/scripts/up" >/dev/null
    token=$(curl -sf -X POST -H 'Content-Type: application/json' \
        "$UMS_URL/auth/v1/token?grant_type=password" \
        -d "{\"email\":\"$EMAIL\",\"password\":\"Bench-Metrics-1\"}" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$token" ] || die "sign-in failed"
    if [ "$1" = on ]; then
        curl -sf "$UMS_URL/metrics" >/dev/null || die "/metrics does not answer with metrics on"
    else
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$UMS_URL/metrics")" = 404 ] ||
            die "/metrics answers with metrics off"
    fi
    wrk -t1 -c4 -d1s -H "Authorization: Bearer $token" "$UMS_URL/auth/v1/user" >/dev/null
    wrk -t1 -c32 -d"${SECS}s" -H "Authorization: Bearer $token" "$UMS_URL/auth/v1/user" \
        >"$LOGS/wrk-metrics.out"
    grep -q 'Non-2xx' "$LOGS/wrk-metrics.out" && { cat "$LOGS/wrk-metrics.out"; die "non-2xx"; }
    rps=$(awk '/^Requests\/sec/ {print $2}' "$LOGS/wrk-metrics.out")
    echo "$rps"
}

echo "ums metrics cost, $(nproc) cores"
COUNT_DIR=$(mktemp -d /dev/shm/ums-metrics-bench.XXXXXX)
"$BUILD/tests/bench/metrics_count" "$COUNT_DIR" 20000000
rm -rf "$COUNT_DIR"
echo "GET /auth/v1/user through nginx, wrk -t1 -c32 ${SECS}s, $PAIRS pairs (on, off: restarted each run)"
ratios=()
for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) -eq 1 ]; then
        on=$(run on)
        off=$(run off)
    else
        off=$(run off)
        on=$(run on)
    fi
    r=$(awk -v a="$off" -v b="$on" 'BEGIN {printf "%.4f", a / b}')
    ratios+=("$r")
    printf '  pair %d: on %8.0f req/s   off %8.0f req/s   off/on %s\n' "$i" "$on" "$off" "$r"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
cost=$(awk -v m="$median" 'BEGIN {printf "%.1f", (m - 1) * 100}')
echo "median off/on: $median (counting costs ${cost} % of the throughput; within noise: |cost| <= 2)"
