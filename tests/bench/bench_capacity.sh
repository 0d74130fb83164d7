#!/usr/bin/env bash
# tests/bench/bench_capacity.sh [SECONDS] - where the CPU of a request goes:
# for four kinds of request through nginx, the CPU time (utime + stime from
# /proc/PID/stat) each component spends per answered request, on this
# machine:
#   sign-in   POST /auth/v1/token?grant_type=password (64 pre-made accounts)
#   refresh   POST /auth/v1/token?grant_type=refresh_token (16 rotating chains)
#   user      GET /auth/v1/user with a Bearer access token (16 sessions)
#   search    GET /api/v1/users?q=<prefix> with the service key (an admin),
#             over 10,000 made-up accounts
# Each kind runs with wrk at a fixed concurrency (8 connections, 2 threads)
# for SECONDS (default 5, 1-30) after a 1 s warm-up. The components are
# sampled right before and right after each run: ums-fcgi (the pool's
# master and workers), nginx (master and workers), PostgreSQL (the
# postmaster named in the cluster's postmaster.pid and all its children)
# and redis-server (its pid file and any children); the load generator
# (wrk) reads its own /proc/self/stat when it is done and is shown apart.
# Only processes present in both samples (same pid and start time) are
# summed; the ones that came or went are counted and reported.
#
# The limits stay out of the way as in bench_pgbouncer.sh, without touching
# the stack's own pool: a second ums-fcgi pool (same binary and ums.conf,
# [limits] token/refresh/signup at 0 through UMS_LIMITS_*, its own socket,
# pid file, metrics folder and log) serves exact nginx locations from a
# bench.d snippet (no limit_req). Everything made for the run (pool,
# snippet, accounts) is removed on exit. Not part of scripts/check; no
# timed assertions, it prints figures.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

SECS=${1:-5}
case $SECS in '' | *[!0-9]*) die "usage: $0 [SECONDS] (1-30)" ;; esac
[ "$SECS" -ge 1 ] && [ "$SECS" -le 30 ] || die "SECONDS must be 1-30 (the whole run stays under 3 minutes)"
CONNS=8
THREADS=2
N_SIGNIN=64   # accounts the sign-in run cycles through
N_CHAIN=16    # sessions for the refresh and the GET /user runs
N_WARM=8      # sessions whose chains the refresh warm-up spends
N_SEARCH=10000

UMS_EXTRA_PACKAGES="wrk" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL")
TICK=$(getconf CLK_TCK)
WORKERS=$(sed -n 's/^workers = //p' "$STACK/ums.conf")
WORK=$(mktemp -d)
TAG="cap$(date +%s)$$"
DOMAIN=capacity-bench.example
UA="ums-bench-capacity"
BENCH_CONF="$STACK/nginx/conf/bench.d/capacity.conf"
POOL_SOCK="$RUN/bench-capacity.sock"
POOL_PID="$RUN/bench-capacity.pid"
POOL_METRICS="$RUN/bench-capacity-metrics"
POOL_LOG="$LOGS/bench-capacity-ums.log"
POOL_STARTED=0
USERS_MADE=0
LIMITS=(UMS_LIMITS_TOKEN_PER_5MIN=0 UMS_LIMITS_REFRESH_PER_5MIN=0 UMS_LIMITS_SIGNUP_PER_5MIN=0)

restore() {
    local m i
    if [ -e "$BENCH_CONF" ]; then
        rm -f "$BENCH_CONF"
        "$ROOT/scripts/up" >/dev/null || true # reloads nginx without the snippet
    fi
    if [ "$POOL_STARTED" = 1 ]; then
        m=$(pid_of "$POOL_PID")
        if [ -n "$m" ] && [ "$(cat "/proc/$m/comm" 2>/dev/null)" = ums-fcgi ]; then
            kill -TERM "$m" 2>/dev/null || true
            for i in $(seq 1 100); do
                [ -d "/proc/$m" ] || break
                [ "$i" = 100 ] && say "the benchmark pool ($m) did not stop"
                sleep 0.1
            done
        fi
        rm -rf "$POOL_SOCK" "$POOL_PID" "$POOL_METRICS"
    fi
    if [ "$USERS_MADE" = 1 ]; then
        "${PSQL[@]}" -c "DELETE FROM users WHERE email LIKE '%@$DOMAIN'" >/dev/null || true
    fi
    rm -rf "$WORK"
}
trap restore EXIT

# --- the benchmark pool ------------------------------------------------------
[ -e "$BENCH_CONF" ] && die "$BENCH_CONF exists: is another bench_capacity.sh running?"
pid_alive "$POOL_PID" ums-fcgi && die "a benchmark pool runs already ($POOL_PID)"
rm -rf "$POOL_SOCK" "$POOL_PID" "$POOL_METRICS"
# Its own metrics folder: a pool's master clears its folder's archive when it
# starts, and the stack's counters must not start over.
install -d -m 0700 -o "$SVC_USER" -g "$(id -gn "$SVC_USER")" "$POOL_METRICS"
POOL_STARTED=1
# A clean environment like the stack's pool, plus the limits and the places
# of its own (the authorizer port is the stack pool's, so none here).
env -i PATH="$PATH" LANG=C.UTF-8 "${LIMITS[@]}" \
    UMS_SERVER_LISTEN="$POOL_SOCK" UMS_SERVER_PID_FILE="$POOL_PID" UMS_SERVER_AUTHORIZER_LISTEN= \
    UMS_METRICS_DIR="$POOL_METRICS" UMS_LOG_FILE="$POOL_LOG" \
    "$BUILD/fcgi/ums-fcgi" --config "$STACK/ums.conf" --daemon 2>>"$LOGS/bench-capacity-ums.stderr" ||
    { tail -n 5 "$LOGS/bench-capacity-ums.stderr" >&2; die "the benchmark pool did not start (see $POOL_LOG)"; }
wait_for 10 test -S "$POOL_SOCK" || die "the benchmark pool's socket did not appear"
POOL_MASTER=$(pid_of "$POOL_PID")
[ -n "$POOL_MASTER" ] || die "the benchmark pool wrote no pid file"
for _ in $(seq 1 50); do
    [ "$(pgrep -c -P "$POOL_MASTER" ums-fcgi || true)" -ge "$WORKERS" ] && break
    sleep 0.1
done

# Exact locations win over the limited regex ones; all four routes go to the
# benchmark pool, without limit_req.
{
    for loc in /auth/v1/token /auth/v1/signup /auth/v1/user /api/v1/users; do
        cat <<CONF
location = $loc {
    include fastcgi_params;
    fastcgi_param HTTP_X_REQUEST_ID \$request_id;
    fastcgi_param HTTP_TRACEPARENT \$ums_traceparent;
    fastcgi_pass unix:$POOL_SOCK;
    fastcgi_read_timeout 30s;
    fastcgi_send_timeout 30s;
    fastcgi_connect_timeout 5s;
}
CONF
    done
} >"$BENCH_CONF"
"$ROOT/scripts/up" >/dev/null # reloads nginx with the snippet
NGINX_MASTER=$(pid_of "$NGINX_PID")
# The workers of before the reload finish first (they would leave mid-run).
for _ in $(seq 1 100); do
    pgrep -P "$NGINX_MASTER" -f 'shutting down' >/dev/null || break
    sleep 0.1
done

# --- accounts ----------------------------------------------------------------
USERS_MADE=1
first="$TAG-0@$DOMAIN"
code=$(curl -s -o "$WORK/signup" -w '%{http_code}' -A "$UA" -X POST "$UMS_URL/auth/v1/signup" \
    -H 'Content-Type: application/json' -d "{\"email\":\"$first\",\"password\":\"bench passphrase 1\"}")
[ "$code" = 200 ] || die "sign-up through the benchmark pool: $code $(cat "$WORK/signup")"
# The others share its password hash (one argon2id run instead of 88).
"${PSQL[@]}" -c "INSERT INTO users (email, password_hash, name, email_confirmed_at)
                 SELECT '$TAG-' || i || '@$DOMAIN', u.password_hash, 'Capacity Bench ' || i, now()
                   FROM generate_series(1, $((N_SIGNIN + N_CHAIN + N_WARM))) i,
                        (SELECT password_hash FROM users WHERE email = '$first') u" >/dev/null
# Accounts to search, named like gen_users.sql's; nobody can sign in as them.
"${PSQL[@]}" -c "WITH f(n, f) AS (SELECT row_number() OVER () - 1, f FROM unnest(ARRAY[
        'Ada','Alan','Amelia','Anna','Arjun','Astrid','Ben','Bianca','Carlos','Chen','Chloe',
        'Dana','David','Diego','Elena','Emil','Fatima','Felix','Grace','Hana','Hugo','Ines',
        'Ivan','Jade','Jonas','Julia','Kai','Kenji','Lara','Leo','Lina','Luca','Maya','Mateo',
        'Mia','Nadia','Noah','Olga','Omar','Paula','Pedro','Priya','Quinn','Rosa','Sami',
        'Sara','Tariq','Tom','Uma','Vera','Wei','Yara','Yusuf','Zoe']) AS f),
    l(n, l) AS (SELECT row_number() OVER () - 1, l FROM unnest(ARRAY[
        'Abbott','Becker','Castro','Dubois','Eriksen','Fischer','Garcia','Hansen','Ibrahim',
        'Jensen','Kowalski','Larsen','Moreau','Nakamura','Okafor','Petrov','Quintana','Rossi',
        'Schmidt','Tanaka','Usman','Varga','Weber','Xu','Yilmaz','Zhang','Almeida','Brennan',
        'Costa','Dimitrov','Evans','Ferrari','Gruber','Haddad','Ivanova','Jovanovic','Kim',
        'Lindqvist','Mendes','Novak','Olsen','Park','Reyes','Silva','Torres','Ueda','Vogel',
        'Walsh','Young','Zimmermann']) AS l)
    INSERT INTO users (email, password_hash, name, created_at, updated_at)
    SELECT lower(f.f || '.' || l.l || '.' || g) || '.$TAG@$DOMAIN', '\$argon2id\$v=19\$bench\$not-a-hash',
           f.f || ' ' || l.l, now() - make_interval(secs => g * 600.0), now() - make_interval(secs => g * 600.0)
      FROM generate_series(1, $N_SEARCH) g
      JOIN f ON f.n = (hashint4(g) & 2147483647) % 54
      JOIN l ON l.n = (hashint4(g + 7919) & 2147483647) % 50" >/dev/null
"${PSQL[@]}" -c "ANALYZE users" >/dev/null
ALL_USERS=$("${PSQL[@]}" -At -c "SELECT count(*) FROM users")

for i in $(seq 1 "$N_SIGNIN"); do echo "$TAG-$i@$DOMAIN"; done >"$WORK/signin"
# Sessions: refresh chains and access tokens, made before any sample.
signin() {
    curl -s -A "$UA" -X POST "$UMS_URL/auth/v1/token?grant_type=password" -H 'Content-Type: application/json' \
        -w '\n' -d "{\"email\":\"$1\",\"password\":\"bench passphrase 1\"}" >"$WORK/tok"
    sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p' "$WORK/tok" >>"$2"
    [ -z "${3:-}" ] || sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$WORK/tok" >>"$3"
}
: >"$WORK/refresh" && : >"$WORK/refresh-warm" && : >"$WORK/access"
for i in $(seq 1 "$N_CHAIN"); do signin "$TAG-$((N_SIGNIN + i))@$DOMAIN" "$WORK/refresh" "$WORK/access"; done
for i in $(seq 1 "$N_WARM"); do signin "$TAG-$((N_SIGNIN + N_CHAIN + i))@$DOMAIN" "$WORK/refresh-warm"; done
[ "$(wc -l <"$WORK/refresh")" -eq "$N_CHAIN" ] && [ "$(wc -l <"$WORK/access")" -eq "$N_CHAIN" ] &&
    [ "$(wc -l <"$WORK/refresh-warm")" -eq "$N_WARM" ] || die "could not sign in the session accounts: $(cat "$WORK/tok")"
# 3-5 letter prefixes of the made-up names and emails, spaces encoded.
"${PSQL[@]}" -At -c "SELECT DISTINCT '/api/v1/users?q=' || replace(lower(left(CASE WHEN random() < 0.5
                        THEN name ELSE email END, 3 + (random() * 2)::int)), ' ', '%20')
                      FROM users WHERE email LIKE '%.$TAG@$DOMAIN' LIMIT 200" >"$WORK/search"

# --- the load generator --------------------------------------------------------
# wrk ... -s capacity.lua URL -- KIND FILE THREADS: each thread takes every
# THREADS-th line of FILE. Prints "RESULT <2xx> <non-2xx> <socket errors>
# <wrk's CPU ticks> <seconds>".
cat >"$WORK/capacity.lua" <<'LUA'
local count, threads = 0, {}
function setup(thread)
    thread:set("id", count)
    count = count + 1
    threads[#threads + 1] = thread
end

ok, bad = 0, 0
local kind, items, i = nil, {}, 0
local post = {["User-Agent"] = "ums-bench-capacity", ["Content-Type"] = "application/json"}
local get = {["User-Agent"] = "ums-bench-capacity"}

function init(args)
    kind = args[1]
    local k, nt = 0, tonumber(args[3])
    for line in io.lines(args[2]) do
        if k % nt == id then items[#items + 1] = line end
        k = k + 1
    end
    if kind == "search" then get["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") end
end

function request()
    if kind == "refresh" then
        -- A chain is used again only once its last answer came back.
        local t = table.remove(items, 1) or "spent"
        return wrk.format("POST", "/auth/v1/token?grant_type=refresh_token", post,
                          '{"refresh_token":"' .. t .. '"}')
    end
    i = i % #items + 1
    if kind == "signin" then
        return wrk.format("POST", "/auth/v1/token?grant_type=password", post,
                          '{"email":"' .. items[i] .. '","password":"bench passphrase 1"}')
    elseif kind == "user" then
        get["Authorization"] = "Bearer " .. items[i]
        return wrk.format("GET", "/auth/v1/user", get)
    end
    return wrk.format("GET", items[i], get)
end

function response(status, headers, body)
    if status >= 200 and status < 300 then
        ok = ok + 1
        if kind == "refresh" then
            local t = body:match('"refresh_token":"([^"]+)"')
            if t then items[#items + 1] = t end
        end
    else
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local o, b, v = 0, 0, {}
    for _, t in ipairs(threads) do
        o = o + t:get("ok")
        b = b + t:get("bad")
    end
    local f = io.open("/proc/self/stat", "r")
    local s = f:read("*l")
    f:close()
    for w in s:match("%) (.*)$"):gmatch("%S+") do v[#v + 1] = w end
    -- v[1] is field 3 (state): utime is field 14, stime 15
    local e = summary.errors
    io.write(string.format("RESULT %d %d %d %d %.3f\n", o, b, e.connect + e.read + e.write + e.timeout,
                           tonumber(v[12]) + tonumber(v[13]), summary.duration / 1e6))
end
LUA

# --- CPU samples -----------------------------------------------------------------
PG_MASTER=$(head -n1 "$STACK/pg/postmaster.pid" | tr -dc '0-9')
REDIS_MASTER=$(pid_of "$REDIS_PID")
[ "$(cat "/proc/$PG_MASTER/comm" 2>/dev/null)" = postgres ] || die "no postmaster at pid $PG_MASTER ($STACK/pg/postmaster.pid)"
[ "$(cat "/proc/$REDIS_MASTER/comm" 2>/dev/null)" = redis-server ] || die "no redis-server at pid $REDIS_MASTER ($REDIS_PID)"

# sample FILE: a line "GROUP PID:STARTTIME TICKS" for each process.
proc_line() {
    local s f
    { read -r s <"/proc/$2/stat"; } 2>/dev/null || return 0
    read -ra f <<<"${s##*) }"
    # f[0] is field 3: utime 14, stime 15, starttime 22
    echo "$1 $2:${f[19]} $((f[11] + f[12]))"
}
sample() {
    local p
    {
        for p in "$POOL_MASTER" $(pgrep -P "$POOL_MASTER" || true); do proc_line ums "$p"; done
        for p in "$NGINX_MASTER" $(pgrep -P "$NGINX_MASTER" || true); do proc_line nginx "$p"; done
        for p in "$PG_MASTER" $(pgrep -P "$PG_MASTER" || true); do proc_line postgres "$p"; done
        for p in "$REDIS_MASTER" $(pgrep -P "$REDIS_MASTER" || true); do proc_line redis "$p"; done
    } >"$1"
}
# delta BEFORE AFTER: "ums T nginx T postgres T redis T" (ticks over the pids
# in both), then on a second line what came and went, if anything.
delta() {
    awk 'NR == FNR { b[$2] = $3; g[$2] = $1; next }
         ($2 in b) { d[$1] += $3 - b[$2]; both[$2] = 1; next }
         { new[$1]++ }
         END {
             for (k in b) if (!(k in both)) gone[g[k]]++
             printf "ums %d nginx %d postgres %d redis %d\n", d["ums"], d["nginx"], d["postgres"], d["redis"]
             split("ums nginx postgres redis", n, " ")
             for (i = 1; i <= 4; i++)
                 if (gone[n[i]] + new[n[i]] > 0)
                     note = note sprintf(" %s: %d gone, %d new;", n[i], gone[n[i]], new[n[i]])
             print note
         }' "$1" "$2"
}

# --- runs ------------------------------------------------------------------------------
export BENCH_TOKEN="$UMS_SERVICE_KEY" # the service key: an admin for the search route
load() { # load KIND FILE SECONDS
    wrk -t"$THREADS" -c"$CONNS" -d"${3}s" --timeout 10s -s "$WORK/capacity.lua" "$UMS_URL/" \
        -- "$1" "$2" "$THREADS" | sed -n 's/^RESULT //p'
}

NOTES=()
ROWS=()
run() { # run LABEL KIND FILE [WARM-UP FILE]
    local r d n
    load "$2" "${4:-$3}" 1 >/dev/null
    sample "$WORK/before"
    r=$(load "$2" "$3" "$SECS")
    sample "$WORK/after"
    [ -n "$r" ] || die "wrk gave no result for $1"
    d=$(delta "$WORK/before" "$WORK/after")
    n=$(sed -n 2p <<<"$d")
    [ -z "$n" ] || NOTES+=("$1:$n not counted")
    ROWS+=("$1 $r $(head -n1 <<<"$d")")
}

sample "$WORK/before"
sleep 2
sample "$WORK/after"
IDLE=$(delta "$WORK/before" "$WORK/after" | head -n1)

run sign-in signin "$WORK/signin"
run refresh refresh "$WORK/refresh" "$WORK/refresh-warm"
run user user "$WORK/access"
run search search "$WORK/search"

# --- the table -------------------------------------------------------------------------
echo "ums capacity: CPU time per request, through nginx ($UMS_URL)"
echo "cores: $(nproc) (online: $(getconf _NPROCESSORS_ONLN)); ums-fcgi $WORKERS workers," \
    "nginx $(pgrep -c -P "$NGINX_MASTER" || true) workers; $ALL_USERS users in the database"
echo "wrk: $CONNS connections, $THREADS threads, ${SECS}s per kind after a 1 s warm-up; clock tick 1/${TICK} s"
echo
printf '%s\n' "${ROWS[@]}" | awk -v tick="$TICK" '
    BEGIN {
        printf "%-8s %9s %8s %8s | %9s %8s %9s %8s %9s | %9s %9s\n", "kind", "req/s", "answers",
               "non-2xx", "ums", "nginx", "postgres", "redis", "total", "req/s/core", "client"
        printf "%-8s %9s %8s %8s | %47s | %9s %9s\n", "", "", "", "",
               "---------- us CPU per answered request ----------", "at 100%", "us/req"
    }
    {
        # label ok bad errors client_ticks seconds ums T nginx T postgres T redis T
        n = $2 + $3
        us = n > 0 ? 1e6 / tick / n : 0
        tot = ($8 + $10 + $12 + $14) * us
        printf "%-8s %9.1f %8d %8d | %9.1f %8.1f %9.1f %8.1f %9.1f | %9.0f %9.1f\n", $1, n / $6, n,
               $3 + $4, $8 * us, $10 * us, $12 * us, $14 * us, tot, (tot > 0 ? 1e6 / tot : 0), $5 * us
    }'
echo
awk -v tick="$TICK" '{ printf "idle, 2 s without load (ms CPU per second): ums %.1f, nginx %.1f, postgres %.1f, redis %.1f\n",
    $2 * 500 / tick, $4 * 500 / tick, $6 * 500 / tick, $8 * 500 / tick }' <<<"$IDLE"
echo "ums = the benchmark pool's master and workers; postgres = the postmaster of $STACK/pg and all its"
echo "children; nginx and redis = the pid files' processes and their children; total = the four;"
echo "req/s/core = 1e6 / total; client = wrk, not in the total; non-2xx includes socket errors."
echo "Each sum covers the processes present in both samples (same pid and start time)."
if [ "${#NOTES[@]}" -gt 0 ]; then
    printf 'note: %s\n' "${NOTES[@]}"
else
    echo "note: no process came or went during the runs."
fi
