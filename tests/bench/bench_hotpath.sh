#!/usr/bin/env bash
# tests/bench/bench_hotpath.sh [SECONDS] [PAIRS] - issue 19's measure of the
# authenticated hot path: GET /auth/v1/user and GET /api/v1/users/me
# against a bare FastCGI hello, measured the issue's way.
#   - the hello: tests/bench/hello (libfcgi), 2 processes under spawn-fcgi,
#     behind an nginx of its own with 2 workers and access_log off, on
#     127.0.0.1:(UMS_HTTP_PORT + 1041);
#   - ums exactly as scripts/up starts it: its pool, its shipped nginx
#     configuration (JSON access log, CORS, request id), one signed-in user;
#   - wrk -t1 -c32 for SECONDS (6) each, PAIRS (5) alternating pairs per
#     route (hello, then the route), the median of the pair ratios.
# Prints every pair and the medians; exits non-zero only when a run fails
# (a non-2xx answer, wrk failing), never on a figure.
# Not part of scripts/check.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

SECS=${1:-6}
PAIRS=${2:-5}
case "$SECS$PAIRS" in *[!0-9]*) die "usage: bench_hotpath.sh [SECONDS] [PAIRS]" ;; esac
UMS_EXTRA_PACKAGES="wrk spawn-fcgi" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
BARE="$STACK/bench-bare"
BARE_PORT=$((${UMS_HTTP_PORT:-8080} + 1041))
BARE_SOCK="$RUN/hello-bare.sock"
BARE_PID="$RUN/hello-bare.pid"
WORK=$(mktemp -d)

bare_stop() {
    [ -s "$BARE/nginx.pid" ] && kill "$(cat "$BARE/nginx.pid")" 2>/dev/null || true
    kill_hello "$BARE_PID" "$BARE_SOCK"
}
trap 'bare_stop; rm -rf "$WORK"' EXIT
bare_stop

# The hello: 2 processes.
spawn_hello "$BARE_SOCK" "$BARE_PID" 2
mkdir -p "$BARE/logs" "$BARE/tmp"
[ "$(id -u)" -eq 0 ] && chown "$WEB_USER" "$BARE/tmp"
cat >"$BARE/nginx.conf" <<CONF
worker_processes 2;
pid $BARE/nginx.pid;
error_log $BARE/logs/error.log warn;
$([ "$(id -u)" -eq 0 ] && echo "user $WEB_USER;")
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $BARE/tmp/body;
    fastcgi_temp_path $BARE/tmp/fastcgi;
    proxy_temp_path $BARE/tmp/proxy;
    uwsgi_temp_path $BARE/tmp/uwsgi;
    scgi_temp_path $BARE/tmp/scgi;
    server {
        listen 127.0.0.1:$BARE_PORT;
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$BARE_SOCK;
        }
    }
}
CONF
nginx -p "$BARE" -c "$BARE/nginx.conf" || die "the bare nginx did not start"
HELLO="http://127.0.0.1:$BARE_PORT/hello"
wait_for 10 curl -sf "$HELLO" || die "the bare hello does not answer"

TOKEN=$(bench_token bench-hot)

# rate URL [wrk options]: requests per second, or die on any non-2xx.
rate() {
    local url=$1
    shift
    wrk -t1 -c32 -d"${SECS}s" "$@" "$url" >"$WORK/wrk.out" 2>&1 ||
        { cat "$WORK/wrk.out"; die "wrk failed on $url"; }
    grep -q 'Non-2xx\|Socket errors' "$WORK/wrk.out" &&
        { cat "$WORK/wrk.out"; die "errors from $url"; }
    awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out"
}

WORKERS=$(sed -n 's/^workers = //p' "$STACK/ums.conf")
echo "hot path: ums with $WORKERS workers behind the stack's nginx; the hello with 2 processes"
echo "behind nginx (2 workers, access_log off); wrk -t1 -c32 ${SECS}s, $PAIRS pairs, $(nproc) cores"
for route in /auth/v1/user /api/v1/users/me; do
    # Warm both: the session cache, the profile cache, the connections.
    wrk -t1 -c8 -d2s -H "Authorization: Bearer $TOKEN" "$UMS_URL$route" >/dev/null
    wrk -t1 -c8 -d2s "$HELLO" >/dev/null
    : >"$WORK/ratios"
    for i in $(seq 1 "$PAIRS"); do
        h=$(rate "$HELLO")
        u=$(rate "$UMS_URL$route" -H "Authorization: Bearer $TOKEN")
        awk -v i="$i" -v h="$h" -v u="$u" -v r="$route" \
            'BEGIN {printf "  pair %d: hello %.0f req/s, %s %.0f req/s, ratio %.3f\n", i, h, r, u, u / h}'
        awk -v h="$h" -v u="$u" 'BEGIN {printf "%.4f\n", u / h}' >>"$WORK/ratios"
    done
    sort -n "$WORK/ratios" | awk -v r="$route" '{a[NR] = $1}
        END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
             printf "%s: median ratio %.3f (goal 0.80)\n", r, m}'
done
