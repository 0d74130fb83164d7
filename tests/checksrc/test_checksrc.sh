#!/usr/bin/env bash
# tests/checksrc/test_checksrc.sh - scripts/checksrc passes on the tree and
# fails, naming the rule and the file, on each planted violation. Works on a
# copy of the sources in a temporary folder; the checkout is not touched.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/ums-checksrc.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

ok() {
    echo "ok   $1"
    passed=$((passed + 1))
}
bad() {
    echo "FAIL $1: $2"
    failed=$((failed + 1))
}

# A copy of what checksrc reads, without .git (so it lists files itself).
{ (cd "$ROOT" && git ls-files -- '*.c' '*.h' .clang-format | tar -cf - -T -) |
    (cd "$WORK" && tar -xf -) && mkdir "$WORK/scripts" &&
    cp "$ROOT/scripts/checksrc" "$WORK/scripts/"; } || {
    echo "cannot copy the sources"
    echo "0 passed, 1 failed"
    exit 1
}
cp -a "$WORK" "$WORK.pristine" && trap 'rm -rf "$WORK" "$WORK.pristine"' EXIT

if out=$("$WORK/scripts/checksrc" "$WORK" 2>&1) && printf '%s\n' "$out" | grep -q '^6 passed, 0 failed$'; then
    ok "the tree as it is passes"
else
    bad "the tree as it is passes" "$(printf '%s\n' "$out" | tail -n 5)"
fi

# plant NAME RULE FILE TEXT: appends TEXT to FILE in the copy; checksrc must
# fail, report RULE as FAIL and name FILE. The file is restored afterwards.
plant() {
    local name=$1 rule=$2 file=$3 text=$4 out rc
    printf '%s\n' "$text" >>"$WORK/$file"
    out=$("$WORK/scripts/checksrc" "$WORK" 2>&1)
    rc=$?
    cp "$WORK.pristine/$file" "$WORK/$file"
    if [ "$rc" -eq 0 ]; then
        bad "$name" "checksrc passed"
    elif ! printf '%s\n' "$out" | grep -q "^FAIL $rule\$"; then
        bad "$name" "rule $rule did not fail: $(printf '%s\n' "$out" | grep -E '^(ok|FAIL)' |
            tr '\n' ' ')"
    elif ! printf '%s\n' "$out" | grep -q "^    $file"; then
        bad "$name" "the report does not name $file"
    elif [ "$(printf '%s\n' "$out" | grep -c '^FAIL ')" -ne 1 ]; then
        bad "$name" "more than the one rule failed: $(printf '%s\n' "$out" | grep '^FAIL ' |
            tr '\n' ' ')"
    else
        ok "$name"
    fi
}

plant "a misformatted line fails format" format core/audit.c 'static int  x_planted ;'
plant "atoi fails banned" banned core/audit.c \
    'int audit_planted(const char *s);
int audit_planted(const char *s)
{
    return atoi(s);
}'
plant "sprintf fails banned" banned fcgi/route_health.c \
    'void route_health_planted(char *s);
void route_health_planted(char *s)
{
    sprintf(s, "x");
}'
plant "a 101-column line fails columns" columns util/buf.c \
    "/* clang-format off */
static const char planted[] = \"$(printf 'x%.0s' $(seq 1 70))\";
/* clang-format on */"
plant "libpq in fcgi/ fails layers" layers fcgi/route_health.c '#include <libpq-fe.h>'
plant "hiredis in fcgi/ fails layers" layers fcgi/dispatch.c '#include <hiredis/hiredis.h>'
plant "core/db.h in fcgi/ fails layers" layers fcgi/route_user.c '#include "../core/db.h"'
plant "a private *_db.h in fcgi/ fails layers" layers fcgi/route_sessions.c \
    '#include "../core/sessions_db.h"'
plant "libpq in notifier/ fails layers" layers notifier/main.c '#include <libpq-fe.h>'
plant "hiredis in notifier/ fails layers" layers notifier/deliver.c '#include <hiredis/hiredis.h>'
plant "core/kv.h in notifier/ fails layers" layers notifier/plan.c '#include "../core/kv.h"'
plant "core/stream_parse.h in notifier/ fails layers" layers notifier/channels.c \
    '#include "../core/stream_parse.h"'
plant "core/stream_parse.h in fcgi/ fails layers" layers fcgi/route_notify.c \
    '#include "../core/stream_parse.h"'
plant "curl in util/ fails layers" layers util/b64.c '#include <curl/curl.h>'
plant "core/ in util/ fails layers" layers util/log.c '#include "../core/config.h"'
plant "fcgi/ in core/ fails layers" layers core/users.c '#include "../fcgi/http.h"'
plant "a core function without its file's prefix fails names" names core/audit.c \
    'int planted_elsewhere(void);
int planted_elsewhere(void)
{
    return 0;
}'
plant "a handler without route_<file>_ fails names" names fcgi/route_users.c \
    'void route_planted(struct req *r);
void route_planted(struct req *r)
{
    (void)r;
}'
plant "a util function without its file's prefix fails names" names util/b64.c \
    'int hex_planted(void);
int hex_planted(void)
{
    return 1;
}'
plant "a notifier function without its file's prefix fails names" names notifier/tx_http.c \
    'int planted_elsewhere(void);
int planted_elsewhere(void)
{
    return 0;
}'
plant "a DESIGN.md citation fails cites" cites core/otp.c '/* See DESIGN.md "Tokens". */'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
