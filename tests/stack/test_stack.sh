#!/usr/bin/env bash
# tests/stack/test_stack.sh - the local stack's scripts as a new user and a
# crashed daemon meet them:
#
#   fresh/   a clone in a private (0700) folder, started by scripts/up with a
#            service user that does not exist yet, answering /healthz, then
#            stopped by scripts/down; the user and the folders are removed.
#   privileges/  each part under its own account, reading only its own
#            secrets; root never writing through a link the service user made.
#   crash/   SIGKILL of ums-notifier or of the ums-fcgi master, then
#            scripts/up at once, 20 times each: every time a new daemon
#            answers (a fresh welcome email; /readyz from a new pool).
#
# Run by scripts/check after scripts/up, with .stack/env in the environment.
# Prints "ok   suite/name" or "FAIL suite/name" per test and the closing
# "N passed, N failed" line. Every wait is bounded.
set -uo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

LOOPS=${UMS_CRASH_LOOPS:-20}
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1"; shift; printf '    %s\n' "$@"; }

# http_code URL: the status of a GET, or 000.
http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1"; }

# ---------------------------------------------------------------------------
# fresh/: the first run on a new machine, in a folder only root can enter.

FRESH_DIR=
FRESH_USER=
fresh_cleanup() {
    local target
    if [ -n "$FRESH_DIR" ] && [ -d "$FRESH_DIR/ums" ]; then
        (cd "$FRESH_DIR/ums" && env -i PATH="$PATH" UMS_SERVICE_USER="$FRESH_USER" \
            ./scripts/down >/dev/null 2>&1)
        target="/var/lib/ums-stack/$(printf '%s' "$FRESH_DIR/ums" | sha256sum | cut -c1-12)"
        rm -rf "$target"
    fi
    [ -n "$FRESH_DIR" ] && rm -rf "$FRESH_DIR"
    if [ -n "$FRESH_USER" ] && [ "$(id -u)" -eq 0 ] && id -u "$FRESH_USER" >/dev/null 2>&1; then
        pkill -KILL -u "$FRESH_USER" 2>/dev/null
        userdel "$FRESH_USER" 2>/dev/null
        getent group "$FRESH_USER" >/dev/null && groupdel "$FRESH_USER" 2>/dev/null
    fi
    FRESH_DIR=
}
trap fresh_cleanup EXIT

# The checkout as it is now: a clone of HEAD with the uncommitted changes
# on top, so the test runs what is being tested.
clone_worktree() {
    git clone -q "$ROOT" "$1" || return 1
    (cd "$ROOT" && git ls-files -m -o --exclude-standard -z) |
        (cd "$ROOT" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
            tar --null -T - -cf -) | tar -C "$1" -xf -
}

test_fresh_private_clone() {
    local name=fresh/private_clone_new_user_up_healthz_down up_log port=$((HTTP_PORT + 100))
    local env_user=() errs=() link target owner
    FRESH_DIR=$(mktemp -d /tmp/ums-fresh-XXXXXX) # mode 0700, like /root
    if [ "$(id -u)" -eq 0 ]; then
        FRESH_USER="umsfresh$$"
        id -u "$FRESH_USER" >/dev/null 2>&1 && { fail "$name" "user $FRESH_USER exists"; return; }
        env_user=("UMS_SERVICE_USER=$FRESH_USER")
    else
        FRESH_USER=$(id -un) # not root: the stack runs as the caller
        echo "    (not root: the service user is $FRESH_USER, no user is created)"
    fi
    clone_worktree "$FRESH_DIR/ums" || { fail "$name" "git clone failed"; return; }
    # What check did before it was fixed: a plain .stack made before the
    # user existed. It must be moved out, not be fatal.
    mkdir -p "$FRESH_DIR/ums/.stack/log" && echo kept >"$FRESH_DIR/ums/.stack/log/earlier.log"
    up_log="$FRESH_DIR/up.log"
    # A clean environment, as a new shell has: nothing of this stack's env.
    if ! (cd "$FRESH_DIR/ums" && env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 \
        "${env_user[@]}" UMS_HTTP_PORT=$port \
        UMS_PG_PORT=$((PG_PORT + 100)) UMS_REDIS_PORT=$((REDIS_PORT + 100)) \
        timeout 900 ./scripts/up) >"$up_log" 2>&1 </dev/null; then
        fail "$name" "scripts/up failed:" "$(tail -n 15 "$up_log")"
        return
    fi
    link="$FRESH_DIR/ums/.stack"
    if [ "$(id -u)" -eq 0 ]; then
        id -u "$FRESH_USER" >/dev/null 2>&1 || errs+=("scripts/up did not create $FRESH_USER")
        [ -L "$link" ] || errs+=(".stack is not a symlink out of the private folder")
        target=$(readlink -f "$link")
        [ "$(cat "$target/log/earlier.log" 2>/dev/null)" = kept ] ||
            errs+=("the earlier .stack was not moved to $target")
        owner=$(ps -o user= -p "$(pid_of "$target/run/ums-fcgi.pid")" 2>/dev/null | tr -d ' ')
        [ "$owner" = "$FRESH_USER" ] || errs+=("ums-fcgi runs as '$owner', not $FRESH_USER")
    fi
    [ "$(http_code "http://127.0.0.1:$port/healthz")" = 200 ] || errs+=("/healthz is not 200")
    [ "$(http_code "http://127.0.0.1:$port/readyz")" = 200 ] || errs+=("/readyz is not 200")
    target=$(readlink -f "$link")
    if ! (cd "$FRESH_DIR/ums" && env -i PATH="$PATH" "${env_user[@]}" timeout 120 ./scripts/down) \
        >>"$up_log" 2>&1 </dev/null; then
        errs+=("scripts/down failed")
    fi
    for f in nginx ums-fcgi ums-notifier redis; do
        pid_alive "$target/run/$f.pid" && errs+=("$f still runs after scripts/down")
    done
    [ "$(http_code "http://127.0.0.1:$port/healthz")" = 000 ] ||
        errs+=("port $port still answers after scripts/down")
    if [ "${#errs[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${errs[@]}"; fi
}

test_fresh_cleanup() {
    local name=fresh/user_and_folders_removed user=$FRESH_USER dir=$FRESH_DIR target
    target="/var/lib/ums-stack/$(printf '%s' "$dir/ums" | sha256sum | cut -c1-12)"
    fresh_cleanup
    if [ -e "$dir" ] || [ -e "$target" ]; then
        fail "$name" "$dir or $target is still there"
    elif [ "$(id -u)" -eq 0 ] && id -u "$user" >/dev/null 2>&1; then
        fail "$name" "user $user is still there"
    else
        pass "$name"
    fi
}

# ---------------------------------------------------------------------------
# crash/: a daemon killed with SIGKILL is started again by the next up.

# signup EMAIL: 200 from POST /auth/v1/signup.
signup() {
    [ "$(curl -s -o /dev/null -m 10 -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"correct horse 1\",\"data\":{\"name\":\"Crash\"}}" \
        "$UMS_URL/auth/v1/signup")" = 200 ]
}

# welcome_for EMAIL: a welcome message to EMAIL is in the Maildir.
welcome_for() {
    grep -lsF "<$1>" "$UMS_MAILDIR"/new/* | xargs -r grep -ls '^X-Ums-Event: user\.registered.\?$' |
        grep -q .
}

test_crash_notifier() {
    local name=crash/notifier_sigkill_then_up_x$LOOPS i old new email errs=()
    for ((i = 1; i <= LOOPS && ${#errs[@]} == 0; i++)); do
        old=$(pid_of "$RUN/ums-notifier.pid")
        [ -n "$old" ] && pid_alive "$RUN/ums-notifier.pid" || {
            errs+=("round $i: no notifier running before the kill"); break; }
        kill -KILL "$old"
        "$ROOT/scripts/up" >"$LOGS/crash-up.log" 2>&1 </dev/null ||
            { errs+=("round $i: scripts/up failed: $(tail -n 3 "$LOGS/crash-up.log")"); break; }
        new=$(pid_of "$RUN/ums-notifier.pid")
        if [ "$new" = "$old" ] || ! pid_alive "$RUN/ums-notifier.pid"; then
            errs+=("round $i: scripts/up started no new notifier (pid file: $new, killed: $old)")
            break
        fi
        email="crash-$$-$i@example.com"
        signup "$email" || { errs+=("round $i: sign-up failed"); break; }
        wait_for 15 welcome_for "$email" ||
            errs+=("round $i: no welcome email for $email within 15 s (notifier $new)")
    done
    if [ "${#errs[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${errs[@]}"; fi
}

# stray_workers MASTER: ums-fcgi processes (not zombies) that are neither
# MASTER nor its children, other than spawned-mode ones (tests).
stray_workers() {
    ps -o pid=,ppid=,stat=,args= -C ums-fcgi | awk -v m="$1" \
        '$3 !~ /^Z/ && $1 != m && $2 != m && $0 ~ /--config/ {print $1}'
}

test_crash_fcgi_master() {
    local name=crash/fcgi_master_sigkill_then_up_x$LOOPS i old new stray errs=()
    for ((i = 1; i <= LOOPS && ${#errs[@]} == 0; i++)); do
        old=$(pid_of "$RUN/ums-fcgi.pid")
        [ -n "$old" ] && pid_alive "$RUN/ums-fcgi.pid" || {
            errs+=("round $i: no ums-fcgi master running before the kill"); break; }
        kill -KILL "$old"
        "$ROOT/scripts/up" >"$LOGS/crash-up.log" 2>&1 </dev/null ||
            { errs+=("round $i: scripts/up failed: $(tail -n 3 "$LOGS/crash-up.log")"); break; }
        new=$(pid_of "$RUN/ums-fcgi.pid")
        if [ "$new" = "$old" ] || ! pid_alive "$RUN/ums-fcgi.pid"; then
            errs+=("round $i: scripts/up started no new master (pid file: $new, killed: $old)")
            break
        fi
        [ "$(http_code "$UMS_URL/readyz")" = 200 ] || errs+=("round $i: /readyz is not 200")
        # The killed master's workers left (parent-death signal); only the
        # new pool serves the socket.
        wait_for 10 test -z "$(stray_workers "$new")" ||
            errs+=("round $i: workers of the killed master still run: $(stray_workers "$new")")
    done
    if [ "${#errs[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${errs[@]}"; fi
}

test_crash_zombie_is_not_running() {
    # pid_alive's rule on its own: a live process, the same pid asked for
    # under another program's name, and a zombie (its parent, sleep 60,
    # never reaps it: like a daemon whose parent is an init that does not).
    local name=crash/pid_alive_rule f="$LOGS/rule.pid" parent z errs=()
    bash -c "sleep 30 & echo \$! >'$f'; exec sleep 60" &
    parent=$!
    wait_for 5 test -s "$f"
    z=$(pid_of "$f")
    pid_alive "$f" sleep || errs+=("a running process was not alive")
    pid_alive "$f" ums-notifier && errs+=("a process of another name (sleep) counted as ums-notifier")
    kill -KILL "$z"
    wait_for 5 grep -q '^State:.*Z' "/proc/$z/status" || errs+=("no zombie to test with")
    pid_alive "$f" sleep && errs+=("a zombie counted as running")
    kill "$parent" 2>/dev/null
    wait "$parent" 2>/dev/null
    rm -f "$f"
    if [ "${#errs[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${errs[@]}"; fi
}

# ---------------------------------------------------------------------------
# privileges/: who runs what, who reads what, and root never writing through a
# link in a folder another account can write.

# can USER CMD...: CMD succeeds as USER.
can() { local u=$1; shift; (cd / && runuser -u "$u" -- "$@") >/dev/null 2>&1; }

test_privileges_accounts_and_secrets() {
    local name=privileges/each_part_runs_as_its_own_user_and_reads_only_its_own errs=() u f
    if [ "$(id -u)" -ne 0 ]; then
        fail "$name" "needs root (the stack runs as its caller otherwise)"
        return
    fi
    for f in "nginx:www-data" "redis-server:redis" "postgres:postgres"; do
        u=$(ps -o user= -C "${f%%:*}" | sort -u | tr '\n' ' ')
        case " $u " in *" ${f#*:} "*) ;; *) errs+=("${f%%:*} runs as '$u', not ${f#*:}") ;; esac
    done
    ps -o user=,args= -C nginx | grep 'worker process' | grep -qv '^www-data' &&
        errs+=("an nginx worker runs as another user than www-data")
    # The web server reaches the socket and nothing else of ums's.
    can www-data test -w "$FCGI_SOCKET" || errs+=("www-data cannot use the socket")
    for f in secrets/pg_password secrets/redis_password secrets/refresh_token_secret \
        secrets/service_key secrets/pg_superuser_password keys/jwt-private.pem ums.conf \
        redis.conf env; do
        can www-data cat "$STACK/$f" && errs+=("www-data can read $f")
    done
    can www-data ls "$STACK/pg" && errs+=("www-data can read the PostgreSQL data")
    # The service user reads what the workers need, not the superuser's password,
    # Redis's files or PostgreSQL's.
    for f in secrets/pg_password secrets/redis_password secrets/refresh_token_secret \
        secrets/service_key keys/jwt-private.pem ums.conf; do
        can "$SVC_USER" cat "$STACK/$f" || errs+=("$SVC_USER cannot read $f")
    done
    can "$SVC_USER" cat "$STACK/secrets/pg_superuser_password" &&
        errs+=("$SVC_USER can read the PostgreSQL superuser's password")
    can "$SVC_USER" ls "$STACK/redis" && errs+=("$SVC_USER can read Redis's files (the AOF)")
    can "$SVC_USER" ls "$STACK/pg" && errs+=("$SVC_USER can read the PostgreSQL data")
    can redis cat "$STACK/secrets/service_key" && errs+=("redis can read the service key")
    can postgres cat "$STACK/keys/jwt-private.pem" && errs+=("postgres can read the JWT key")
    # No other local user reads live codes from the Maildir or Redis.
    can nobody ls "$STACK/maildir/new" && errs+=("any user can read the Maildir")
    can nobody ls "$STACK/redis" && errs+=("any user can read Redis's files")
    if [ "${#errs[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${errs[@]}"; fi
}

test_privileges_no_root_write_through_links() {
    # The service user puts links where root will write at start-up (pid
    # files, the log file) pointing at a file it must not touch; the daemons
    # started as root must leave that file as it was.
    local name=privileges/root_never_writes_through_a_link_in_the_run_folder errs=() victim st vpid
    victim=$(mktemp /tmp/ums-victim-XXXXXX)
    echo precious >"$victim"
    chmod 0644 "$victim"
    rm -f "$RUN/victim-fcgi.pid" "$RUN/victim-fcgi.sock" "$RUN/victim-notifier.pid" \
        "$RUN/victim.log"
    as_svc ln -s "$victim" "$RUN/victim-fcgi.pid"
    as_svc ln -s "$victim" "$RUN/victim-notifier.pid"
    as_svc ln -s "$victim" "$RUN/victim.log"
    # ums-fcgi with the linked pid file: it must not write through it (and
    # without the stack's authorizer port, which the pool holds).
    UMS_SERVER_LISTEN="$RUN/victim-fcgi.sock" UMS_SERVER_PID_FILE="$RUN/victim-fcgi.pid" \
        UMS_SERVER_AUTHORIZER_LISTEN='' \
        UMS_SERVER_WORKERS=1 UMS_LOG_FILE="$LOGS/victim-fcgi.log" \
        "$BUILD/fcgi/ums-fcgi" --config "$UMS_CONFIG" --daemon 2>/dev/null
    wait_for 10 test -S "$RUN/victim-fcgi.sock" || errs+=("ums-fcgi did not start")
    wait_for 10 pid_alive "$RUN/victim-fcgi.pid" ums-fcgi || errs+=("no pid file of its own")
    [ -L "$RUN/victim-fcgi.pid" ] && errs+=("the pid file is still the link")
    kill "$(pid_of "$RUN/victim-fcgi.pid")" 2>/dev/null
    wait_for 10 test ! -S "$RUN/victim-fcgi.sock"
    # ums-notifier likewise; and a log file that is a link is refused.
    UMS_NOTIFIER_PID_FILE="$RUN/victim-notifier.pid" UMS_NOTIFIER_CONSUMER=victim \
        UMS_LOG_FILE="$LOGS/victim-notifier.log" \
        "$BUILD/notifier/ums-notifier" --config "$UMS_CONFIG" --daemon 2>/dev/null
    wait_for 10 pid_alive "$RUN/victim-notifier.pid" ums-notifier || errs+=("ums-notifier did not start")
    vpid=$(pid_of "$RUN/victim-notifier.pid")
    kill "$vpid" 2>/dev/null
    # Gone before the next test signs anyone up: a notifier of this consumer
    # still reading would take the next event and leave it pending to a
    # consumer that never comes back (claimed by others only after
    # claim_idle_ms).
    wait_for 15 proc_gone "$vpid" ums-notifier || errs+=("ums-notifier $vpid did not stop")
    if UMS_LOG_FILE="$RUN/victim.log" timeout 10 "$BUILD/notifier/ums-notifier" \
        --config "$UMS_CONFIG" --once >/dev/null 2>&1; then
        errs+=("a notifier logging through a link started")
    fi
    st=$(stat -c '%U %a' "$victim")
    [ "$(cat "$victim")" = precious ] || errs+=("the file behind the link was written")
    [ "$st" = "root 644" ] || errs+=("the file behind the link was handed over: $st")
    rm -f "$victim" "$RUN/victim-fcgi.pid" "$RUN/victim-fcgi.sock" "$RUN/victim-notifier.pid" \
        "$RUN/victim.log" "$LOGS/victim-fcgi.log" "$LOGS/victim-notifier.log"
    if [ "${#errs[@]}" -eq 0 ]; then pass "$name"; else fail "$name" "${errs[@]}"; fi
}

test_fresh_private_clone
test_fresh_cleanup
test_crash_zombie_is_not_running
test_privileges_accounts_and_secrets
test_privileges_no_root_write_through_links
test_crash_notifier
test_crash_fcgi_master

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
