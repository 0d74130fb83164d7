# scripts/lib.sh - shared by up, down and check. Sourced, not run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="${UMS_BUILD_DIR:-$ROOT/build}"
HTTP_PORT="${UMS_HTTP_PORT:-8080}"
PG_PORT="${UMS_PG_PORT:-54329}"
REDIS_PORT="${UMS_REDIS_PORT:-63799}"

say() { printf '[ums] %s\n' "$*"; }
die() { printf '[ums] error: %s\n' "$*" >&2; exit 1; }

# The account that runs PostgreSQL, Redis, the ums workers and nginx's
# workers. PostgreSQL refuses to run as root, so root gets a system user.
if [ "$(id -u)" -eq 0 ]; then
    SVC_USER=ums
    SUDO=
else
    SVC_USER=$(id -un)
    SUDO=sudo
fi

# The state folder is .stack/. When the service user cannot reach the checkout
# (a parent folder without o+x, such as /root), .stack is a symlink to a folder
# under /var/lib/ums-stack/ and every path below uses the resolved folder.
stack_dir() {
    local link="$ROOT/.stack" target
    if [ "$(id -u)" -eq 0 ] && [ ! -e "$link" ] && id -u "$SVC_USER" >/dev/null 2>&1 &&
        ! runuser -u "$SVC_USER" -- test -x "$ROOT" 2>/dev/null; then
        target="/var/lib/ums-stack/$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
        mkdir -p "$target" && chmod 0755 /var/lib/ums-stack "$target"
        ln -sfn "$target" "$link"
    fi
    if [ -L "$link" ]; then
        readlink -f "$link"
    else
        printf '%s\n' "$link"
    fi
}
STACK=$(stack_dir)
RUN="$STACK/run"
LOGS="$STACK/log"
FCGI_SOCKET="$RUN/ums-fcgi.sock"

as_svc() {
    if [ "$(id -u)" -eq 0 ]; then
        # From /, as the service user may not be able to enter the current folder.
        (cd / && runuser -u "$SVC_USER" -- "$@")
    else
        "$@"
    fi
}

# pid_alive FILE: the pid in FILE names a running process.
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(head -n1 "$1" 2>/dev/null | tr -dc '0-9')
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

pid_of() { head -n1 "$1" 2>/dev/null | tr -dc '0-9'; }

pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
    printf '%s\n' "$d"
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
