#!/usr/bin/env bash
# tests/bench/callgrind_user.sh - instructions per GET /auth/v1/user in a ums
# worker, counted by callgrind (repeatable whatever else the machine does):
# one spawned ums-fcgi under valgrind behind the stack's nginx
# (/bench/cg -> REQUEST_URI /auth/v1/user), run twice: 50 warm-up requests
# then N, and 50 then 11 N; the difference over 10 N is the cost of one
# request without start-up. Run with UMS_METRICS_ENABLED=false to see the
# figure without counting. Not part of scripts/check.
# Usage: tests/bench/callgrind_user.sh [REQUESTS]
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

N=${1:-2000}
"$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
SOCK="$RUN/cg.sock"
OUT=$(mktemp -d /tmp/ums-callgrind.XXXXXX)
chmod 0777 "$OUT"
PIDF="$RUN/cg.pid"
cleanup() {
    [ -s "$PIDF" ] && kill "$(cat "$PIDF")" 2>/dev/null || true
    rm -rf "$OUT"
    rm -f "$STACK/nginx/conf/bench.d/cg.conf" "$SOCK" "$PIDF"
    "$ROOT/scripts/up" >/dev/null || true
}
trap cleanup EXIT

owner=()
[ "$(id -u)" -eq 0 ] && owner=(-u "$SVC_USER" -g "$SVC_USER" -U "$SVC_USER" -G "$(id -gn "$WEB_USER")")
cat >"$STACK/nginx/conf/bench.d/cg.conf" <<CONF
location = /bench/cg {
    # fastcgi_params would send its own REQUEST_URI first.
    fastcgi_param REQUEST_METHOD \$request_method;
    fastcgi_param REQUEST_URI /auth/v1/user;
    fastcgi_param QUERY_STRING "";
    fastcgi_param CONTENT_LENGTH "";
    fastcgi_param REMOTE_ADDR \$remote_addr;
    fastcgi_param HTTP_X_REQUEST_ID \$request_id;
    fastcgi_param HTTP_TRACEPARENT \$ums_traceparent;
    fastcgi_read_timeout 60s;
    fastcgi_pass unix:$SOCK;
}
CONF
"$ROOT/scripts/up" >/dev/null
EMAIL="bench-cg-$(date +%s)@example.com"
TOKEN=$(curl -sf -X POST -H 'Content-Type: application/json' "$UMS_URL/auth/v1/signup" \
    -d "{\"email\":\"$EMAIL\",\"password\":\"Bench-Callgrind-1\"}" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[ -n "$TOKEN" ] || die "sign-up failed"

# instructions REQUESTS: one valgrind worker's whole life serving them.
instructions() {
    local code=000 pid f
    rm -f "$SOCK" "$OUT"/cg.out*
    spawn-fcgi -s "$SOCK" -M 0660 -P "$PIDF" "${owner[@]}" -- /usr/bin/valgrind --tool=callgrind \
        --callgrind-out-file="$OUT/cg.out" "$BUILD/fcgi/ums-fcgi" --config "$STACK/ums.conf" \
        >/dev/null
    # valgrind takes a few seconds to start ums: up to 60 s for a first 200.
    for _ in $(seq 1 120); do
        code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
            "$UMS_URL/bench/cg")
        [ "$code" = 200 ] && break
        sleep 0.5
    done
    [ "$code" = 200 ] || die "GET /auth/v1/user through the valgrind worker answered $code"
    seq 1 $((49 + $1)) | xargs -P 4 -I{} curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" \
        "$UMS_URL/bench/cg"
    pid=$(cat "$PIDF")
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    f=$(ls -t "$OUT"/cg.out* | head -n 1)
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}

small=$(instructions "$N")
large=$(instructions $((11 * N)))
echo "metrics ${UMS_METRICS_ENABLED:-true}: $(((large - small) / (10 * N))) instructions per GET /auth/v1/user" \
    "(callgrind, ${N} and $((11 * N)) requests)"
