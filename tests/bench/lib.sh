# tests/bench/lib.sh - shared by the benchmarks. Sourced after scripts/lib.sh.
# shellcheck shell=bash

HELLO_SOCK="$RUN/hello.sock"
HELLO_PID="$RUN/hello.pid"

# spawn_hello SOCK PIDFILE N: the libfcgi hello program, N processes under
# spawn-fcgi on SOCK, which the web server's group may connect to.
spawn_hello() {
    local owner=()
    rm -f "$1"
    [ "$(id -u)" -eq 0 ] && owner=(-u "$SVC_USER" -g "$SVC_USER" -U "$SVC_USER" -G "$(id -gn "$WEB_USER")")
    spawn-fcgi -s "$1" -M 0660 -F "$3" -P "$2" "${owner[@]}" \
        -- "$BUILD/tests/bench/hello" >/dev/null
}

# kill_hello PIDFILE SOCK: every hello process, its pid file and socket.
kill_hello() {
    if [ -s "$1" ]; then
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$1"
    fi
    # spawn-fcgi -F N does not always list every child it forked.
    pkill -f -- "^$BUILD/tests/bench/hello\$" 2>/dev/null || true
    rm -f "$1" "$2"
}

# start_hello N: spawn_hello on HELLO_SOCK, served by the stack's nginx at
# /bench/hello (bench.d/hello.conf); stop_hello undoes it.
start_hello() {
    spawn_hello "$HELLO_SOCK" "$HELLO_PID" "$1"
    mkdir -p "$STACK/nginx/conf/bench.d"
    cat >"$STACK/nginx/conf/bench.d/hello.conf" <<CONF
location = /bench/hello {
    include fastcgi_params;
    fastcgi_pass unix:$HELLO_SOCK;
}
CONF
}

stop_hello() {
    kill_hello "$HELLO_PID" "$HELLO_SOCK"
    rm -f "$STACK/nginx/conf/bench.d/hello.conf"
}

# bench_token PREFIX: the access token of a new account PREFIX-...@example.com.
bench_token() {
    local tok
    tok=$(curl -s -X POST "$UMS_URL/auth/v1/signup" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1-$$-$RANDOM@example.com\",\"password\":\"bench passphrase 1\"}" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [ -n "$tok" ] || die "could not sign up the benchmark user"
    echo "$tok"
}

# private_kib PID: Private_Clean + Private_Dirty; rss_kib PID: Rss.
private_kib() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
rss_kib() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup"; }

# The PIDs of the ums workers.
ums_workers() { pgrep -P "$(pid_of "$RUN/ums-fcgi.pid")" ums-fcgi; }

# unlimited_start: the per-IP limits (nginx's limit_req, ums's buckets)
# would cap a load from one address, so ums-fcgi restarts with [limits] at
# 0 behind exact locations without limit_req (bench.d/unlimited.conf);
# unlimited_stop puts the shipped limits back.
UNLIMITED_CONF="$STACK/nginx/conf/bench.d/unlimited.conf"
# unlimited_conf FILE: nginx's token and signup routes without limit_req.
unlimited_conf() {
    mkdir -p "$(dirname "$1")"
    cat >"$1" <<CONF
# The same routes as in ums-locations.conf, without limit_req (exact match wins).
location = /auth/v1/token {
    include ums/snippets/fastcgi.conf;
}
location = /auth/v1/signup {
    include ums/snippets/fastcgi.conf;
}
CONF
}
unlimited_start() {
    unlimited_conf "$UNLIMITED_CONF"
    "$ROOT/scripts/down" fcgi >/dev/null
    UMS_LIMITS_TOKEN_PER_5MIN=0 UMS_LIMITS_REFRESH_PER_5MIN=0 UMS_LIMITS_SIGNUP_PER_5MIN=0 \
        "$ROOT/scripts/up" >/dev/null
    sleep 1
}

unlimited_stop() {
    rm -f "$UNLIMITED_CONF"
    "$ROOT/scripts/down" fcgi >/dev/null
    "$ROOT/scripts/up" >/dev/null || true
}
