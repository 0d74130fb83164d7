#!/usr/bin/env bash
# tests/bench/bench_recover.sh - does POST /auth/v1/recover (and /resend)
# take longer for an address that has an account than for one that has
# not? A difference tells an observer which addresses are users.
# It makes N accounts @recover-bench.example, then sends, one at a time
# through nginx, a recovery request for each of them (each once: after the
# first, an account's recovery is skipped for a minute and costs nothing)
# and for N addresses without an account, interleaved, and prints both
# latency distributions. The same for /resend with N unconfirmed accounts.
# Limits are lifted for the run (the stack is restored on exit).
# Not part of scripts/check. Usage: tests/bench/bench_recover.sh [N] (default 300)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

N=${1:-300}
"$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL")
LAT="$BUILD/tests/bench/lat"
WORK=$(mktemp -d)
TAG="rb$(date +%s)"

restore() {
    "${PSQL[@]}" -c "DELETE FROM users WHERE email LIKE '%@recover-bench.example'" >/dev/null || true
    "$ROOT/scripts/down" fcgi >/dev/null || true
    "$ROOT/scripts/up" >/dev/null || true
    rm -rf "$WORK"
}
trap restore EXIT

# No buckets in the way: ums's (environment) and nginx's (another address
# for every round is not possible with one connection, so the bench goes
# through the limited location at 5 r/s with its burst; -r keeps under it).
"$ROOT/scripts/down" fcgi >/dev/null
UMS_LIMITS_RECOVER_PER_5MIN=0 UMS_LIMITS_RESEND_PER_5MIN=0 UMS_LIMITS_EMAIL_PER_RECIPIENT_PER_5MIN=0 \
    "$ROOT/scripts/up" >/dev/null

say "making $N accounts"
"${PSQL[@]}" -c "INSERT INTO users (email, password_hash, name, email_confirmed_at)
                 SELECT '$TAG-' || i || '@recover-bench.example', 'x', 'Bench', now()
                   FROM generate_series(1, $N) i" >/dev/null
"${PSQL[@]}" -c "INSERT INTO users (email, password_hash, name)
                 SELECT '$TAG-u' || i || '@recover-bench.example', 'x', 'Bench'
                   FROM generate_series(1, $N) i" >/dev/null

for i in $(seq 1 "$N"); do
    echo "POST /auth/v1/recover {\"email\":\"$TAG-$i@recover-bench.example\"}" >>"$WORK/recover-known"
    echo "POST /auth/v1/recover {\"email\":\"$TAG-none$i@recover-bench.example\"}" >>"$WORK/recover-unknown"
    echo "POST /auth/v1/resend {\"type\":\"signup\",\"email\":\"$TAG-u$i@recover-bench.example\"}" >>"$WORK/resend-known"
    echo "POST /auth/v1/resend {\"type\":\"signup\",\"email\":\"$TAG-nu$i@recover-bench.example\"}" >>"$WORK/resend-unknown"
done
# 20 ms between requests: each is timed alone, as someone probing addresses
# one by one would time it (no earlier request's work still running).
export BENCH_TOKEN=none BENCH_RAW=1 BENCH_GAP_MS=${BENCH_GAP_MS:-20}
# Known and unknown lists alternate in rounds of 50, each request from its
# own loopback address (nginx's limit is per address).
split -l 50 -d -a 3 "$WORK/recover-known" "$WORK/rk."
for part in "$WORK"/rk.*; do
    s=${part##*.}
    sed -n "$((10#$s * 50 + 1)),$((10#$s * 50 + 50))p" "$WORK/recover-unknown" >"$WORK/ru.$s"
    sed -n "$((10#$s * 50 + 1)),$((10#$s * 50 + 50))p" "$WORK/resend-known" >"$WORK/sk.$s"
    sed -n "$((10#$s * 50 + 1)),$((10#$s * 50 + 50))p" "$WORK/resend-unknown" >"$WORK/su.$s"
    for l in rk ru sk su; do
        BENCH_SOURCES="127.$((100 + 10#$s % 50))" "$LAT" "$WORK/$l.$s" 1 | grep -v '^n=' \
            >>"$WORK/ms-$l" || true
    done
done
pct() { sort -n "$1" | awk '{v[NR] = $1} END {printf "n=%d p50=%.2f p90=%.2f p99=%.2f ms",
        NR, v[int(NR * 0.5) + 1], v[int(NR * 0.9) + 1], v[int(NR * 0.99) + 1]}'; }
echo "one request at a time through nginx (${BENCH_GAP_MS} ms apart), $N of each, known and"
echo "unknown addresses alternating in rounds of 50:"
echo "  POST /recover, an account:      $(pct "$WORK/ms-rk")"
echo "  POST /recover, no account:      $(pct "$WORK/ms-ru")"
echo "  POST /resend, an account:       $(pct "$WORK/ms-sk")"
echo "  POST /resend, no account:       $(pct "$WORK/ms-su")"
