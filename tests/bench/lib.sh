# tests/bench/lib.sh - shared by the benchmarks. Sourced after scripts/lib.sh.
# shellcheck shell=bash

HELLO_SOCK="$RUN/hello.sock"
HELLO_PID="$RUN/hello.pid"

# start_hello N: the libfcgi hello program, N processes under spawn-fcgi,
# served by nginx at /bench/hello (bench.d/hello.conf).
start_hello() {
    local owner=()
    rm -f "$HELLO_SOCK"
    [ "$(id -u)" -eq 0 ] && owner=(-u "$SVC_USER" -g "$SVC_USER" -U "$SVC_USER" -G "$(id -gn "$WEB_USER")")
    spawn-fcgi -s "$HELLO_SOCK" -M 0660 -F "$1" -P "$HELLO_PID" "${owner[@]}" \
        -- "$BUILD/tests/bench/hello" >/dev/null
    mkdir -p "$STACK/nginx/conf/bench.d"
    cat >"$STACK/nginx/conf/bench.d/hello.conf" <<CONF
location = /bench/hello {
    include fastcgi_params;
    fastcgi_pass unix:$HELLO_SOCK;
}
CONF
}

stop_hello() {
    if [ -s "$HELLO_PID" ]; then
        while read -r p; do kill "$p" 2>/dev/null || true; done <"$HELLO_PID"
        rm -f "$HELLO_PID"
    fi
    # spawn-fcgi -F N does not always list every child it forked.
    pkill -f -- "^$BUILD/tests/bench/hello\$" 2>/dev/null || true
    rm -f "$STACK/nginx/conf/bench.d/hello.conf" "$HELLO_SOCK"
}

# private_kib PID: Private_Clean + Private_Dirty; rss_kib PID: Rss.
private_kib() { awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup"; }
rss_kib() { awk '/^Rss:/ {print $2}' "/proc/$1/smaps_rollup"; }

# The PIDs of the ums workers.
ums_workers() { pgrep -P "$(pid_of "$RUN/ums-fcgi.pid")" ums-fcgi; }
