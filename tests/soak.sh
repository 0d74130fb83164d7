#!/usr/bin/env bash
# tests/soak.sh MINUTES - the mixed load (sign-ups, sign-ins, refreshes,
# GET /auth/v1/user: tests/bench/auth_bench mixed) at 80 % of its measured
# peak for MINUTES (1 to 120), through nginx against the stack as
# scripts/up runs it, with the per-IP limits lifted (tests/bench/lib.sh
# unlimited_start: the load comes from one address). It prints, per
# minute, the requests, 5xx, other unexpected answers, p50 and p99
# latency, and each worker's private memory (Private_Clean + Private_Dirty
# from smaps_rollup), sampled at the end of each minute. Pass: no 5xx and
# no unexpected answer; the same workers throughout; no worker's private
# memory more than 2 % above its first minute's at the end.
#   UMS_SOAK_THREADS (16) client threads; UMS_SOAK_PEAK (unset) skips the
#   10 s peak measurement and takes that rate as the peak.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
. "$ROOT/tests/bench/lib.sh"

MIN=${1:-2}
case $MIN in '' | *[!0-9]*) die "usage: tests/soak.sh MINUTES (1 to 120)" ;; esac
[ "$MIN" -ge 1 ] && [ "$MIN" -le 120 ] || die "usage: tests/soak.sh MINUTES (1 to 120)"
THREADS=${UMS_SOAK_THREADS:-16}
"$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
B="$BUILD/tests/bench/auth_bench"
make -s -C "$BUILD" tests/bench/auth_bench >/dev/null
OUT=$(mktemp -d)
trap 'unlimited_stop; rm -rf "$OUT"' EXIT
unlimited_start

if [ -n "${UMS_SOAK_PEAK:-}" ]; then
    PEAK=$UMS_SOAK_PEAK
else
    "$B" mixed 10 "$THREADS" >"$OUT/peak" || { cat "$OUT/peak"; die "the peak run failed"; }
    PEAK=$(sed -n 's/^mixed .* = \([0-9]*\)\/s .*/\1/p' "$OUT/peak")
fi
[ -n "$PEAK" ] && [ "$PEAK" -gt 0 ] || die "no peak rate measured"
RATE=$((PEAK * 8 / 10))
echo "soak: $MIN min, $THREADS client threads, peak $PEAK req/s, load $RATE req/s (80 %)"

mapfile -t WORKERS < <(ums_workers)
[ "${#WORKERS[@]}" -gt 0 ] || die "no ums-fcgi workers"
"$B" mixed $((MIN * 60)) "$THREADS" "$RATE" >"$OUT/load" 2>"$OUT/load.err" &
LOAD=$!
T0=$(date +%s)
for m in $(seq 1 "$MIN"); do
    # The end of minute m, a second before the load's own end at the last.
    w=$((T0 + m * 60 - $([ "$m" -eq "$MIN" ] && echo 2 || echo 0) - $(date +%s)))
    [ "$w" -gt 0 ] && sleep "$w"
    line="minute $m:"
    for p in "${WORKERS[@]}"; do
        line="$line $(private_kib "$p" 2>/dev/null || echo gone)"
    done
    echo "$line" >>"$OUT/mem"
done
rc=0
wait "$LOAD" || rc=$?
[ -s "$OUT/load.err" ] && head -n 5 "$OUT/load.err"

echo "== load (per minute)"
cat "$OUT/load"
echo "== private memory per worker (KiB): ${WORKERS[*]}"
cat "$OUT/mem"

passed=0 failed=0
result() { # result NAME OK DETAIL
    if [ "$2" -eq 1 ]; then
        echo "ok   soak/$1 $3"
        passed=$((passed + 1))
    else
        echo "FAIL soak/$1 $3"
        failed=$((failed + 1))
    fi
}
final=$(grep '^mixed ' "$OUT/load" || true)
e5xx=$(sed -n 's/.*, \([0-9]*\) 5xx).*/\1/p' <<<"$final")
errs=$(sed -n 's/.*(\([0-9]*\) errors.*/\1/p' <<<"$final")
result no_5xx "$([ "$rc" -ne 2 ] && [ "${e5xx:-x}" = 0 ] && echo 1 || echo 0)" "(${e5xx:-?} 5xx)"
result every_answer_expected "$([ "${errs:-x}" = 0 ] && echo 1 || echo 0)" \
    "(${errs:-?} unexpected or missing answers)"
mapfile -t now < <(ums_workers)
result same_workers_throughout "$([ "${now[*]}" = "${WORKERS[*]}" ] && echo 1 || echo 0)" \
    "(${WORKERS[*]} then ${now[*]})"
# Growth from the first minute's sample to the last, per worker.
growth=$(awk 'NR == 1 { for (i = 3; i <= NF; i++) first[i] = $i }
    { for (i = 3; i <= NF; i++) last[i] = $i }
    END { worst = -1e9; for (i in first) { if (first[i] == "gone" || last[i] == "gone") { print "gone"; exit }
          g = 100 * (last[i] - first[i]) / first[i]; if (g > worst) worst = g }
          printf "%.2f", worst }' "$OUT/mem")
if [ "$MIN" -lt 2 ]; then
    result memory_growth_under_2pct 1 "(one minute: nothing to compare)"
else
    result memory_growth_under_2pct \
        "$(awk -v g="$growth" 'BEGIN { print (g != "gone" && g + 0 < 2) ? 1 : 0 }')" \
        "(the most a worker grew after minute 1: $growth %)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
