#!/usr/bin/env bash
# tests/bench/bench_users.sh - the user-service figures of issue 4, through nginx:
#   - prefix search p95 and the first page of filtered lists p95 at 1,000,000 users;
#   - page 1,000 of a keyset listing against page 1;
#   - GET /api/v1/users/me (warm profile cache) against the hello program,
#     and the same route with Redis stopped.
# The first run adds 1,000,000 accounts @bench.example to the stack's database
# (about a minute); later runs reuse them. `bench_users.sh --clean` removes them.
# Not part of scripts/check. Usage: tests/bench/bench_users.sh [SECONDS] | --clean
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

UMS_EXTRA_PACKAGES="wrk spawn-fcgi" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL")
# The role's statement_timeout would cancel a batch of 100,000 inserts.
export PGOPTIONS="-c statement_timeout=0"
N=1000000

if [ "${1:-}" = "--clean" ]; then
    "${PSQL[@]}" -c "DELETE FROM users WHERE email LIKE '%@bench.example'"
    exit 0
fi
SECS=${1:-10}
WORKERS=$(sed -n 's/^workers = //p' "$STACK/ums.conf")
LAT="$BUILD/tests/bench/lat"
WORK=$(mktemp -d)

restore() {
    stop_hello
    "$ROOT/scripts/up" >/dev/null || true
    rm -rf "$WORK"
}
trap restore EXIT

have=$("${PSQL[@]}" -At -c "SELECT count(*) FROM users WHERE email LIKE '%@bench.example'")
if [ "$have" -lt "$N" ]; then
    say "generating $((N - have)) benchmark users (@bench.example)"
    "${PSQL[@]}" -At -c "SELECT coalesce(max(split_part(split_part(email, '@', 1), '.', 3)::int), 0)
                           FROM users WHERE email LIKE '%@bench.example'" >"$WORK/max"
    from=$(($(cat "$WORK/max") + 1))
    while [ "$from" -le "$N" ]; do
        to=$((from + 99999))
        [ "$to" -gt "$N" ] && to=$N
        "${PSQL[@]}" -v from="$from" -v to="$to" -f "$ROOT/tests/bench/gen_users.sql"
        from=$((to + 1))
    done
    "${PSQL[@]}" -c "ANALYZE users"
fi
total=$("${PSQL[@]}" -At -c "SELECT count(*) FROM users")
echo "ums user-service benchmark: $total users, $WORKERS workers, $(nproc) cores"

export BENCH_TOKEN="$UMS_SERVICE_KEY" # the service key: an admin for the search routes

echo "== prefix search (q=<3-5 letters of a name or email>), 300 prefixes x 3"
"${PSQL[@]}" -At -c "SELECT DISTINCT '/api/v1/users?q=' || replace(lower(left(CASE WHEN
                        random() < 0.5 THEN name ELSE email END, 3 + (random() * 2)::int)), ' ', '%20')
                      FROM users TABLESAMPLE SYSTEM (0.2) LIMIT 300" >"$WORK/prefix"
"$LAT" "$WORK/prefix" 3

echo "== first page of filtered lists"
cat >"$WORK/filtered" <<URLS
/api/v1/users
/api/v1/users?status=suspended
/api/v1/users?role=admin
/api/v1/users?role=user&status=active
/api/v1/users?sort=email
/api/v1/users?sort=-name
/api/v1/users?status=active&sort=created_at
/api/v1/users?created_after=2025-01-01T00:00:00Z&created_before=2025-06-01T00:00:00Z
/api/v1/users?role=admin&sort=-created_at&limit=100
/api/v1/users?status=suspended&created_after=2024-01-01
/api/v1/users?confirmed=false
/api/v1/users?confirmed=false&role=user&created_after=2025-01-01T00:00:00Z
URLS
"$LAT" "$WORK/filtered" 30

echo "== substring search (q=*text*, pg_trgm)"
printf '%s\n' '/api/v1/users?q=*ndqvi*' '/api/v1/users?q=*ozzi*' '/api/v1/users?q=*akamu*' \
    '/api/v1/users?q=*sen.42*' '/api/v1/users?q=*imitr*' >"$WORK/substring"
"$LAT" "$WORK/substring" 20

# walk URL: page 1 and page 1,000 of URL (the cursor of page 1,000 reached
# by walking 999 pages), 300 times each, and their ratio.
walk() {
    local url=$1 cursor="" page
    for page in $(seq 1 999); do
        cursor=$(curl -fsS -H "Authorization: Bearer $BENCH_TOKEN" "$UMS_URL$url${cursor:+&cursor=$cursor}" |
            sed -n 's/.*"next_cursor":"\([^"]*\)".*/\1/p')
        [ -n "$cursor" ] || die "no cursor after page $page of $url"
    done
    echo "$url" >"$WORK/page1"
    echo "$url&cursor=$cursor" >"$WORK/page1000"
    printf 'page 1:     '
    "$LAT" "$WORK/page1" 300 | tee "$WORK/p1.out"
    printf 'page 1000:  '
    "$LAT" "$WORK/page1000" 300 | tee "$WORK/p1000.out"
    awk -F'[ =]' 'NR==1 {a = $4} NR==2 {b = $4} END {printf "page 1,000 / page 1 (p50): %.2fx\n", b / a}' \
        "$WORK/p1.out" "$WORK/p1000.out"
}
echo "== keyset pagination: page 1 and page 1,000 (limit 20, newest first)"
walk "/api/v1/users?limit=20"
echo "== the same, filtered as the admin panel's \"not confirmed\" (3 % of the users)"
walk "/api/v1/users?confirmed=false&limit=20"

echo "== GET /api/v1/users/me (warm profile cache) vs the hello program (wrk -t2 -c32)"
start_hello "$WORKERS"
"$ROOT/scripts/up" >/dev/null
TOKEN=$(curl -s -X POST "$UMS_URL/auth/v1/signup" -H 'Content-Type: application/json' \
    -d "{\"email\":\"bench-me-$$-$RANDOM@example.com\",\"password\":\"bench passphrase 1\"}" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || die "could not sign up the benchmark user"
wrk -t1 -c4 -d2s -H "Authorization: Bearer $TOKEN" "$UMS_URL/api/v1/users/me" >/dev/null
h=$(wrk -t2 -c32 -d"${SECS}s" "$UMS_URL/bench/hello" | awk '/Requests\/sec/ {print $2}')
u=$(wrk -t2 -c32 -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$UMS_URL/api/v1/users/me" |
    tee "$WORK/wrk-me.out" | awk '/Requests\/sec/ {print $2}')
grep -q 'Non-2xx' "$WORK/wrk-me.out" && { cat "$WORK/wrk-me.out"; die "GET /users/me failed under load"; }
awk -v h="$h" -v u="$u" 'BEGIN {printf "hello %.0f req/s, GET /api/v1/users/me %.0f req/s, ratio %.1f%%\n", h, u, 100 * u / h}'

echo "== the same route with Redis stopped"
"$ROOT/scripts/down" redis >/dev/null
st=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$UMS_URL/api/v1/users/me")
r=$(wrk -t2 -c32 -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$UMS_URL/api/v1/users/me" |
    tee "$WORK/wrk-me-noredis.out" | awk '/Requests\/sec/ {print $2}')
echo "status $st; $r req/s from PostgreSQL alone$(grep -q 'Non-2xx' "$WORK/wrk-me-noredis.out" && echo ' (with errors!)')"
[ "$st" = 200 ] || die "GET /users/me without Redis answered $st"
