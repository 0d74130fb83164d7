#!/usr/bin/env bash
# tests/bench/bench_auth.sh - the auth figures of issue 3, through nginx:
#   - login throughput against the raw argon2id rate on the same cores;
#   - GET /auth/v1/user with a valid token against the libfcgi hello program;
#   - token refreshes per second;
#   - private memory of each worker before and after 1,000 logins.
# The per-IP limits (nginx's limit_req, ums's buckets) would cap a load from
# one address, so ums-fcgi runs with [limits] at 0 and a bench-only exact
# location without limit_req for the duration, then is restored.
# Not part of scripts/check. Usage: tests/bench/bench_auth.sh [SECONDS]
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

SECS=${1:-10}
UMS_EXTRA_PACKAGES="wrk spawn-fcgi" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
WORKERS=$(sed -n 's/^workers = //p' "$STACK/ums.conf")
B="$BUILD/tests/bench/auth_bench"

restore() {
    stop_hello
    unlimited_stop
}
trap restore EXIT

start_hello "$WORKERS"
unlimited_start

echo "ums auth benchmark: $WORKERS workers, $(nproc) cores, ${SECS}s per run"
# The raw rate drifts on a shared machine: it is measured right before and
# right after the sign-ins, and the ratio uses the mean of the two.
echo "== argon2id (m=19456 KiB, t=2, p=1) alone, $(nproc) processes, before the sign-ins"
"$B" argon2 "$SECS" "$(nproc)" | tee "$LOGS/bench-argon2.out"

echo "== private memory per worker before logins (KiB)"
for p in $(ums_workers); do printf '  %s %s\n' "$p" "$(private_kib "$p")"; done >"$LOGS/bench-mem-before"
cat "$LOGS/bench-mem-before"

echo "== logins through nginx ($((WORKERS * 2)) client threads)"
"$B" login "$SECS" $((WORKERS * 2)) | tee "$LOGS/bench-login.out"
echo "== argon2id alone again, after the sign-ins"
"$B" argon2 "$SECS" "$(nproc)" | tee -a "$LOGS/bench-argon2.out"
awk 'NR==FNR {a += $6; n++; next} {printf "sign-in rate / mean raw argon2id rate: %.1f%%\n", 100 * $6 / (a / n)}' \
    FS='[ =/]+' "$LOGS/bench-argon2.out" "$LOGS/bench-login.out" || true

sleep 2 # an idle worker gives argon2's area back after one second
echo "== private memory per worker after the logins, idle (KiB; the target: at most 4096 above before)"
for p in $(ums_workers); do printf '  %s %s\n' "$p" "$(private_kib "$p")"; done

echo "== refreshes through nginx (8 client threads, each rotating its own chain)"
"$B" refresh "$SECS" 8

echo "== GET /auth/v1/user with a valid token vs the hello program (wrk -t2 -c32)"
TOKEN=$(bench_token bench-user)
wrk -t1 -c4 -d2s -H "Authorization: Bearer $TOKEN" "$UMS_URL/auth/v1/user" >/dev/null
h=$(wrk -t2 -c32 -d"${SECS}s" "$UMS_URL/bench/hello" | awk '/Requests\/sec/ {print $2}')
u=$(wrk -t2 -c32 -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$UMS_URL/auth/v1/user" |
    tee "$LOGS/wrk-user.out" | awk '/Requests\/sec/ {print $2}')
grep -q 'Non-2xx' "$LOGS/wrk-user.out" && { cat "$LOGS/wrk-user.out"; die "GET /user failed under load"; }
awk -v h="$h" -v u="$u" 'BEGIN {printf "hello %.0f req/s, GET /auth/v1/user %.0f req/s, ratio %.1f%%\n", h, u, 100 * u / h}'
