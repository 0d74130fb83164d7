#!/bin/bash
# run.sh - runs a storage test program against a local s3rver.
#
#   tests/storage/run.sh TEST_PROGRAM [ARGS...]
#
# Installs the pinned npm packages, starts s3rver.mjs on
# 127.0.0.1:${UMS_S3_PORT:-4569} with a temporary folder, waits for "ready",
# runs the program with UMS_TEST_S3_ENDPOINT set, stops s3rver and exits with
# the program's status. Every wait is bounded.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${UMS_S3_PORT:-4569}
ready_wait=30  # seconds for s3rver to listen
test_wait=300  # seconds for the test program

if [ $# -lt 1 ]; then
    echo "usage: $0 TEST_PROGRAM [ARGS...]" >&2
    exit 2
fi
case $port in
'' | *[!0-9]*)
    echo "run.sh: UMS_S3_PORT must be a port number" >&2
    exit 2
    ;;
esac

(cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error)

tmp=$(mktemp -d /tmp/ums-s3rver-XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$tmp/data"
node "$here/s3rver.mjs" "$tmp/data" "$port" >"$tmp/s3rver.log" 2>&1 &
pid=$!

deadline=$((SECONDS + ready_wait))
until grep -qx ready "$tmp/s3rver.log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "run.sh: s3rver exited before it was ready:" >&2
        cat "$tmp/s3rver.log" >&2
        pid=
        exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "run.sh: s3rver not ready after ${ready_wait}s:" >&2
        cat "$tmp/s3rver.log" >&2
        exit 1
    fi
    sleep 0.1
done

status=0
UMS_TEST_S3_ENDPOINT="http://127.0.0.1:$port" timeout "$test_wait" "$@" || status=$?
if [ $status -ne 0 ]; then
    echo "run.sh: $1 exited with $status; s3rver said:" >&2
    grep -vx ready "$tmp/s3rver.log" >&2 || true
fi
exit $status
