#!/usr/bin/env bash
# tests/bench/syscalls_hotpath.sh [ROUTE] [SECONDS] - where a request on the
# authenticated hot path goes, as counts (repeatable, unlike timings):
# system calls per request in the ums workers and in the nginx workers
# (strace -c -f attached to all of them), and Redis commands per request
# (INFO commandstats before and after), for GET ROUTE (/auth/v1/user) with a
# valid token through the stack's nginx, wrk -t1 -c8 for SECONDS (5).
# strace slows everything down; only the counts per request mean anything.
# Not part of scripts/check.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

ROUTE=${1:-/auth/v1/user}
SECS=${2:-5}
case $SECS in '' | *[!0-9]*) die "usage: syscalls_hotpath.sh [ROUTE] [SECONDS]" ;; esac
UMS_EXTRA_PACKAGES="wrk strace" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
WORK=$(mktemp -d)
trap 'kill "${ST[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ST=()

TOKEN=$(bench_token bench-sys)
wrk -t1 -c8 -d2s -H "Authorization: Bearer $TOKEN" "$UMS_URL$ROUTE" >/dev/null

rcli() { REDISCLI_AUTH=$(cat "$STACK/secrets/redis_password") redis-cli -p "$REDIS_PORT" "$@"; }
calls_total() { rcli INFO commandstats | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1 \2/p'; }

# attach NAME PID...: strace -c over those processes into $WORK/NAME.
attach() {
    local name=$1 args=() p
    shift
    for p in "$@"; do args+=(-p "$p"); done
    strace -c -f -o "$WORK/$name" "${args[@]}" 2>/dev/null &
    ST+=($!)
}
mapfile -t UMS < <(ums_workers)
mapfile -t NGX < <(pgrep -P "$(cat "$NGINX_PID")")
[ "${#UMS[@]}" -gt 0 ] && [ "${#NGX[@]}" -gt 0 ] || die "no workers to attach to"
calls_total >"$WORK/redis.before"
attach ums "${UMS[@]}"
attach nginx "${NGX[@]}"
sleep 1
wrk -t1 -c8 -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$UMS_URL$ROUTE" >"$WORK/wrk.out"
kill -INT "${ST[@]}"
wait "${ST[@]}" 2>/dev/null || true
ST=()
calls_total >"$WORK/redis.after"
grep -q 'Non-2xx' "$WORK/wrk.out" && { cat "$WORK/wrk.out"; die "non-2xx answers"; }
N=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$WORK/wrk.out")
[ -n "$N" ] && [ "$N" -gt 0 ] || die "no requests counted"

echo "GET $ROUTE: $N requests under strace (wrk -t1 -c8 ${SECS}s)"
for name in ums nginx; do
    echo "== $name workers: system calls per request"
    awk -v n="$N" '$1 ~ /^[0-9.]+$/ && NF >= 5 {
            calls = $4; sc = $NF; if (sc == "total") next
            per[sc] = calls / n; tot += calls / n }
        END { for (s in per) if (per[s] >= 0.05) printf "  %-16s %6.2f\n", s, per[s]
              printf "  %-16s %6.2f\n", "total", tot }' "$WORK/$name" | sort -k2 -nr
done
echo "== Redis commands per request"
join <(sort "$WORK/redis.before") <(sort "$WORK/redis.after") |
    awk -v n="$N" '{d = ($3 - $2) / n; tot += d; if (d >= 0.01) printf "  %-16s %6.2f\n", $1, d}
        END {printf "  %-16s %6.2f\n", "total", tot}' | sort -k2 -nr
