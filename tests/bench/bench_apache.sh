#!/usr/bin/env bash
# tests/bench/bench_apache.sh - the figures of issue 13 behind Apache httpd:
#   1. Apache event + mod_proxy_fcgi: GET /auth/v1/user with a valid token
#      against the libfcgi hello program behind the same Apache (as many
#      processes as ums has workers, under spawn-fcgi), same run;
#   2. Apache + mod_fcgid: the same, ums.fcgi and hello.fcgi both spawned by
#      mod_fcgid, with the latency percentiles at 32 connections, and the
#      private memory of every ums.fcgi process (each one is a worker).
# Method: wrk -t1 -cCONNS for SECS s, PAIRS alternating pairs (hello, ums),
# the median of the pair ratios; one warm-up run of each first (mod_fcgid
# spawns on demand). Switches the stack's web server and puts the one that
# ran back at exit. Not part of scripts/check.
# Usage: tests/bench/bench_apache.sh [SECONDS] [CONNECTIONS] [PAIRS]
# BENCH_MODES="proxy fcgid" (the default) chooses the halves to run.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
. "$(dirname "$0")/lib.sh"

SECS=${1:-6}
CONNS=${2:-32}
PAIRS=${3:-5}
BEFORE=$SERVER
MODES=${BENCH_MODES:-proxy fcgid}

UMS_EXTRA_PACKAGES="wrk spawn-fcgi" "$ROOT/scripts/up" >/dev/null
APACHE_BENCH="$STACK/apache/conf/bench.d/hello.conf"
HTDOCS="$STACK/apache/htdocs"
restore() {
    stop_hello
    rm -f "$APACHE_BENCH" "$HTDOCS/hello.fcgi"
    UMS_SERVER=$BEFORE "$ROOT/scripts/up" >/dev/null || true
}
trap restore EXIT

# wrk_run PATH [wrk args]: requests per second; the output is kept in wrk.out.
wrk_run() {
    local path=$1
    shift
    wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$@" "$UMS_URL$path" >"$LOGS/wrk.out" 2>&1 ||
        { cat "$LOGS/wrk.out"; die "wrk failed"; }
    if grep -q 'Non-2xx\|timeout [1-9]' "$LOGS/wrk.out"; then
        cat "$LOGS/wrk.out"
        die "errors from $path"
    fi
    # A read error is a kept-alive connection Apache closed as wrk reused it.
    grep -h 'Socket errors' "$LOGS/wrk.out" | sed 's/^ */    (/; s/$/)/' >&2 || true
    awk '/Requests\/sec/ {print $2}' "$LOGS/wrk.out"
}

p99() { awk '$1 == "99%" {print $2}' "$LOGS/wrk.out"; }

token() {
    curl -s -X POST "$UMS_URL/auth/v1/signup" -H 'Content-Type: application/json' \
        -d "{\"email\":\"bench-apache-$$-$RANDOM@example.com\",\"password\":\"bench passphrase 1\"}" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

# warm COMM PATH [wrk args]: under mod_fcgid, load PATH with half as many
# connections again as the measurement until COMM's process count stops
# growing and there are at least as many as connections (mod_fcgid spawns
# on demand, up to FcgidMaxProcessesPerClass 40:
# the margin that keeps a busy moment from the spawn sleep; at most 60 s).
# Under the pool, one short run.
warm() {
    local comm=$1 path=$2 i n last=-1
    shift 2
    for ((i = 0; i < 20; i++)); do
        wrk -t1 -c$((CONNS * 3 / 2)) -d3s "$@" "$UMS_URL$path" >/dev/null
        [ "$comm" = - ] && return 0
        n=$(pgrep -c -x "$comm" || true)
        if [ "$n" -eq "$last" ] && [ "$n" -ge "$CONNS" ]; then
            echo "  $comm: $n processes after the warm-up"
            return 0
        fi
        last=$n
    done
    echo "  $comm: only $n processes after 60 s of warm-up (p99 will show the spawn sleep)"
}

# pairs HELLO_PATH HELLO_COMM UMS_COMM: PAIRS alternating runs; prints each
# pair and the median ratio.
pairs() {
    local hello=$1 tok ratios=() h u hp up i
    tok=$(token)
    [ -n "$tok" ] || die "could not sign up the benchmark user"
    warm "$2" "$hello"
    warm "$3" /auth/v1/user -H "Authorization: Bearer $tok"
    for i in $(seq 1 "$PAIRS"); do
        h=$(wrk_run "$hello")
        hp=$(p99)
        u=$(wrk_run /auth/v1/user -H "Authorization: Bearer $tok")
        up=$(p99)
        ratios+=("$(awk -v h="$h" -v u="$u" 'BEGIN {printf "%.3f", u / h}')")
        printf '  pair %d: hello %8.0f req/s (p99 %s)   GET /auth/v1/user %8.0f req/s (p99 %s)   ratio %s\n' \
            "$i" "$h" "$hp" "$u" "$up" "${ratios[-1]}"
    done
    printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR] = $1} END {printf "  median ratio: %.2f\n", a[int((NR + 1) / 2)]}'
}

WORKERS=$(sed -n 's/^workers = //p' "$STACK/ums.conf")
echo "ums behind Apache: $(nproc) cores, wrk -t1 -c$CONNS, ${SECS}s per run, $PAIRS pairs"

if [[ " $MODES " == *" proxy "* ]]; then
echo "== Apache event + mod_proxy_fcgi ($WORKERS pool workers; hello: $WORKERS processes, spawn-fcgi)"
UMS_SERVER=apache "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
start_hello "$WORKERS"
cat >"$APACHE_BENCH" <<CONF
<Location "/bench/hello">
    SetHandler "proxy:unix:$HELLO_SOCK|fcgi://hello"
</Location>
CONF
UMS_SERVER=apache "$ROOT/scripts/up" >/dev/null
wait_for 10 curl -sf "$UMS_URL/bench/hello" || die "the hello program does not answer"
pairs /bench/hello - -
stop_hello
rm -f "$APACHE_BENCH"
fi

[[ " $MODES " == *" fcgid "* ]] || exit 0
echo "== Apache + mod_fcgid (ums.fcgi and hello.fcgi spawned by Apache)"
UMS_SERVER=apache-fcgid "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
cp "$BUILD/tests/bench/hello" "$HTDOCS/hello.fcgi"
chmod 0755 "$HTDOCS/hello.fcgi"
wait_for 10 curl -sf "$UMS_URL/hello.fcgi" || die "hello.fcgi does not answer"
pairs /hello.fcgi "hello\.fcgi" "ums\.fcgi"
echo "  ums.fcgi processes after the load (private / resident KiB):"
for pid in $(pgrep -x "ums\.fcgi"); do
    printf '    %-8s %8s %8s\n' "$pid" "$(private_kib "$pid")" "$(rss_kib "$pid")"
done | sort -k2 -n | awk '{print} {s += $2; n++} END {if (n) printf "    %d processes, mean private %.0f KiB\n", n, s / n}'
