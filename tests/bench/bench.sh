#!/usr/bin/env bash
# tests/bench/bench.sh - throughput of GET /healthz through nginx against a
# minimal libfcgi "hello" program behind the same nginx, with the same number
# of processes, plus the private and resident memory of every ums worker.
# Not part of scripts/check. Usage: tests/bench/bench.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

SECS=${1:-10}
CONNS=${2:-32}
ROUNDS=${BENCH_ROUNDS:-2}

UMS_EXTRA_PACKAGES="wrk spawn-fcgi" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
WORKERS=$(sed -n 's/^workers = //p' "$STACK/ums.conf")
cleanup() {
    stop_hello
    "$ROOT/scripts/up" >/dev/null || true
}
trap cleanup EXIT

# The hello program: as many processes as ums has workers.
start_hello "$WORKERS"
"$ROOT/scripts/up" >/dev/null
wait_for 10 curl -sf "$UMS_URL/bench/hello" || die "the hello program does not answer"

show_workers() {
    local pid
    printf '  %-8s %12s %10s\n' worker private_KiB rss_KiB
    for pid in $(ums_workers); do
        printf '  %-8s %12s %10s\n' "$pid" "$(private_kib "$pid")" "$(rss_kib "$pid")"
    done
}

rate() {
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$UMS_URL$1" >"$LOGS/wrk.out" 2>&1 ||
        { cat "$LOGS/wrk.out"; die "wrk failed"; }
    grep -q 'Non-2xx' "$LOGS/wrk.out" && { cat "$LOGS/wrk.out"; die "non-2xx answers from $1"; }
    awk '/Requests\/sec/ {print $2}' "$LOGS/wrk.out"
}

echo "ums benchmark: $WORKERS FastCGI processes each, wrk -t2 -c$CONNS, ${SECS}s per run, $ROUNDS rounds"
echo "idle workers before load:"
show_workers
# Warm up both paths.
wrk -t1 -c4 -d2s "$UMS_URL/healthz" >/dev/null
wrk -t1 -c4 -d2s "$UMS_URL/bench/hello" >/dev/null
hello_total=0
ums_total=0
for r in $(seq 1 "$ROUNDS"); do
    h=$(rate /bench/hello)
    u=$(rate /healthz)
    printf 'round %d: hello %10.0f req/s   ums /healthz %10.0f req/s\n' "$r" "$h" "$u"
    hello_total=$(awk -v a="$hello_total" -v b="$h" 'BEGIN {print a + b}')
    ums_total=$(awk -v a="$ums_total" -v b="$u" 'BEGIN {print a + b}')
done
awk -v h="$hello_total" -v u="$ums_total" -v n="$ROUNDS" 'BEGIN {
    printf "mean: hello %.0f req/s, ums /healthz %.0f req/s, ratio %.1f%%\n", h / n, u / n, 100 * u / h }'
sleep 1
echo "idle workers after load:"
show_workers
