# scripts/lib.sh - shared by up, down and check. Sourced, not run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="${UMS_BUILD_DIR:-$ROOT/build}"
HTTP_PORT="${UMS_HTTP_PORT:-8080}"
HTTPS_PORT="${UMS_HTTPS_PORT:-$((HTTP_PORT + 363))}" # 8443 beside 8080
PG_PORT="${UMS_PG_PORT:-54329}"
REDIS_PORT="${UMS_REDIS_PORT:-63799}"
# UMS_PGBOUNCER=1: PgBouncer (transaction pooling) between ums and PostgreSQL.
PGB_PORT="${UMS_PGBOUNCER_PORT:-$((PG_PORT + 1))}"
# UMS_PG_REPLICA=1: a streaming standby that ums reads from; 62329, above
# Linux's ephemeral ports (32768-60999), so that a client's socket in
# TIME_WAIT never holds it when the standby restarts.
PGR_PORT="${UMS_PG_REPLICA_PORT:-$((PG_PORT + 8000))}"
# UMS_REDIS_SENTINEL=1: a Redis replica and three sentinels (ports above
# the ephemeral range, as Redis's own).
REDIS_REPLICA_PORT="${UMS_REDIS_REPLICA_PORT:-$((REDIS_PORT + 1))}"
SENTINEL_PORTS="$((REDIS_PORT + 11)) $((REDIS_PORT + 12)) $((REDIS_PORT + 13))"
# The FastCGI authorizer port (mod_authnz_fcgi speaks TCP only): loopback.
AUTHZ_PORT="${UMS_AUTHZ_PORT:-$((HTTP_PORT + 1))}"
# The local stand-ins for Google (HTTPS, the stack's CA) and GitHub (HTTP on
# loopback) that the stack's ums signs in with (tests/mocks/).
GOOGLE_MOCK_PORT="${UMS_GOOGLE_MOCK_PORT:-$((HTTP_PORT + 1011))}"
GITHUB_MOCK_PORT="${UMS_GITHUB_MOCK_PORT:-$((HTTP_PORT + 1012))}"
# The web server in front: nginx (default), apache (mod_proxy_fcgi to the
# pool) or apache-fcgid (Apache spawns ums-fcgi).
# Without UMS_SERVER, scripts/up keeps the one that runs (stack_paths
# reads it from .stack/server), else nginx.
SERVER="${UMS_SERVER:-}"
case $SERVER in
'' | nginx | apache | apache-fcgid) ;;
*) printf '[ums] error: UMS_SERVER must be nginx, apache or apache-fcgid\n' >&2; exit 1 ;;
esac

say() { printf '[ums] %s\n' "$*"; }
die() { printf '[ums] error: %s\n' "$*" >&2; exit 1; }

# Who runs what. As root, every part has its own account, so that each
# reads only its own secrets: the ums workers and the notifier run as the
# service user UMS_SERVICE_USER (default ums, created by stack_setup when
# missing), nginx's workers as www-data (they get only the socket, through
# its group), PostgreSQL as postgres and Redis as redis (the users Debian's
# packages create). Run as another user, everything runs as that user.
if [ "$(id -u)" -eq 0 ]; then
    SVC_USER=${UMS_SERVICE_USER:-ums}
    WEB_USER=www-data
    PG_USER=postgres
    REDIS_USER=redis
    SUDO=
else
    SVC_USER=$(id -un)
    WEB_USER=$SVC_USER
    PG_USER=$SVC_USER
    REDIS_USER=$SVC_USER
    SUDO=sudo
    [ -z "${UMS_SERVICE_USER:-}" ] || [ "$UMS_SERVICE_USER" = "$SVC_USER" ] ||
        die "UMS_SERVICE_USER=$UMS_SERVICE_USER needs root; as $SVC_USER the stack runs as $SVC_USER"
fi
case $SVC_USER in
'' | -* | *[!a-z0-9_-]*) die "UMS_SERVICE_USER must be a user name ([a-z0-9_-])" ;;
esac

# The state folder is .stack/. When the service user cannot reach the
# checkout (a parent folder without o+x, such as /root or a mktemp -d
# folder), .stack is a symlink to /var/lib/ums-stack/<hash of the path>.
# stack_paths sets STACK and the paths below it from what is there now,
# changing nothing: down and the benchmarks use it as it is. stack_setup
# (up and check) first makes sure the service user exists, then decides
# where the folder lives, once, and sets the paths again.
stack_paths() {
    STACK="$ROOT/.stack"
    [ -L "$STACK" ] && STACK=$(readlink -f "$STACK")
    RUN="$STACK/run"             # the service user's: socket, pid files
    LOGS="$STACK/log"            # root's; each daemon's log file its own
    FCGI_SOCKET="$RUN/ums-fcgi.sock"
    PG_RUN="$STACK/pgrun"        # postgres's: its unix socket
    REDIS_PID="$STACK/redis/redis.pid"
    NGINX_PID="$STACK/nginx/nginx.pid"
    APACHE_PID="$STACK/apache/run/apache.pid"
    TLS_DIR="$STACK/tls"
    if [ -z "${UMS_SERVER:-}" ]; then
        SERVER=nginx
        if [ -s "$STACK/server" ] && [ -s "$APACHE_PID" ]; then
            case $(cat "$STACK/server") in apache | apache-fcgid) SERVER=$(cat "$STACK/server") ;; esac
        fi
    fi
}
stack_paths

svc_can_enter() { (cd / && runuser -u "$SVC_USER" -- test -x "$1") 2>/dev/null; }

ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    id -u "$SVC_USER" >/dev/null 2>&1 && return 0
    say "creating the system user $SVC_USER"
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin "$SVC_USER" || die "cannot create the user $SVC_USER"
}

# stack_place: as root, with the service user in place, makes .stack a
# folder that user can enter. A plain .stack it cannot enter (made before the
# user existed, or by an earlier run as another user) is moved to the
# outside folder, unless a process named in its pid files still runs.
stack_place() {
    local link="$ROOT/.stack" target f
    [ "$(id -u)" -eq 0 ] || return 0
    [ -L "$link" ] && return 0
    svc_can_enter "$ROOT" && return 0
    target="/var/lib/ums-stack/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
    if ! mkdir -p "$target" || ! chmod 0755 /var/lib/ums-stack "$target"; then
        die "cannot create $target"
    fi
    if [ -d "$link" ]; then
        for f in "$link"/run/*.pid; do
            [ -e "$f" ] || continue
            pid_alive "$f" "$(pid_comm "$f")" &&
                die "$link is not reachable by user $SVC_USER and $f names a running process; run scripts/down first"
        done
        say "moving $link to $target (user $SVC_USER cannot enter $ROOT)"
        (shopt -s dotglob nullglob; for f in "$link"/*; do
            [ -e "$target/${f##*/}" ] && rm -rf "${target:?}/${f##*/}"
            mv "$f" "$target/"
        done) || die "cannot move $link to $target"
        rmdir "$link" || die "cannot remove $link"
    elif [ -e "$link" ]; then
        die "$link exists and is not a folder"
    fi
    ln -sfn "$target" "$link" || die "cannot link $link to $target"
}

stack_setup() {
    ensure_user
    stack_place
    stack_paths
    mkdir -p "$STACK" "$LOGS"
    if [ "$(id -u)" -eq 0 ]; then
        svc_can_enter "$STACK" ||
            die "$STACK is not reachable by user $SVC_USER (every parent folder needs o+x)"
    fi
}

# as_user USER CMD...: runs CMD as USER (when root), from /, as USER may not
# be able to enter the current folder.
as_user() {
    local u=$1
    shift
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u "$u" -- "$@")
    else
        "$@"
    fi
}

as_svc() { as_user "$SVC_USER" "$@"; }

pid_of() { head -n1 "$1" 2>/dev/null | tr -dc '0-9'; }

# The program a stack pid file belongs to (its command name in /proc).
pid_comm() {
    case ${1##*/} in
    ums-fcgi.pid | ums-fcgi-b.pid) echo ums-fcgi ;;
    ums-notifier.pid | ums-notifier-b.pid) echo ums-notifier ;;
    sentinel.pid) echo redis-sentinel ;;
    redis.pid) echo redis-server ;;
    nginx.pid) echo nginx ;;
    apache.pid) echo apache2 ;;
    mock-*.pid) echo node ;;
    pgbouncer.pid) echo pgbouncer ;;
    *) echo "${1##*/}" | sed 's/\.pid$//' ;;
    esac
}

# proc_dying PID: PID has a SIGKILL pending or has begun to exit.
proc_dying() {
    local stat flags pnd
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    # After the command name: state ppid pgrp session tty tpgid flags ...
    flags=$(printf '%s\n' "$stat" | cut -d' ' -f7)
    [ -n "$flags" ] && [ $((flags & 0x4)) -ne 0 ] && return 0 # PF_EXITING
    while read -r _ pnd; do
        [ $((0x$pnd & 0x100)) -ne 0 ] && return 0 # signal 9 pending
    done < <(grep -E '^(SigPnd|ShdPnd):' "/proc/$1/status" 2>/dev/null)
    return 1
}

# proc_running PID COMM: the rule of core/pidfile.c. PID is a process whose
# command name is COMM (a pid reused by another program does not count) and
# that is not a zombie (killed, not yet reaped: no parent may reap it). A
# process that is dying is waited for, at most 5 s.
proc_running() {
    local pid=$1 comm=$2 stat i
    for ((i = 0; i < 50; i++)); do
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
        stat=${stat##*) }
        case ${stat%% *} in Z | X | x) return 1 ;; esac
        proc_dying "$pid" || return 0
        sleep 0.1
    done
    return 0
}

proc_gone() { ! proc_running "$@"; }

# pid_alive FILE [COMM]: the pid in FILE is running as COMM (default: the
# program the file's name says).
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(pid_of "$1")
    [ -n "$pid" ] && proc_running "$pid" "${2:-$(pid_comm "$1")}"
}

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    printf '%s\n' "$d"
}

# ports_free PORT...: nothing accepts on 127.0.0.1:PORT (a web server that
# stopped may leave children, mod_fcgid's among them, holding its sockets a
# moment longer than its parent).
ports_free() {
    local p
    for p in "$@"; do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && return 1
    done
    return 0
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s.
wait_for() {
    local limit=$(( $1 * 10 )) i=0
    shift
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -ge "$limit" ] && return 1
        sleep 0.1
    done
}
