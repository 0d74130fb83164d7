#!/usr/bin/env bash
# tests/bench/bench_notifier.sh - the email figures of issue 5:
#   - emails per second drained to the SendGrid stand-in by K notifiers
#     (recovery emails, then welcome emails with in-app rows), and the
#     stand-in alone (to show it is not the bottleneck);
#   - the time from POST /auth/v1/signup to the welcome email accepted by the
#     stand-in, with the daemon running;
#   - emails per second over SMTP to aiosmtpd (BENCH_SMTP_EMAILS, default 2000).
# The stack's notifier (file transport) is stopped for the duration and
# started again at the end. Not part of scripts/check.
# Usage: tests/bench/bench_notifier.sh [EMAILS] [NOTIFIERS]   (default 5000, 1)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

N=${1:-5000}
K=${2:-1}
PORT=${UMS_SENDGRID_MOCK_PORT:-4582}
MOCK="http://127.0.0.1:$PORT"
UMS_EXTRA_PACKAGES="wrk" "$ROOT/scripts/up" >/dev/null
# shellcheck disable=SC1091
. "$STACK/env"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL")
RCLI=(redis-cli -p "$REDIS_PORT" -a "$(cat "$STACK/secrets/redis_password")" --no-auth-warning)
WORK=$(mktemp -d)
MOCK_PID=""

cleanup() {
    for f in "$RUN"/notifier-bench-*.pid; do [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
    rm -f "$RUN"/notifier-bench-*.pid
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null || true
    rm -rf "$WORK"
    "$ROOT/scripts/up" >/dev/null || true
}
trap cleanup EXIT

"$ROOT/scripts/down" notifier >/dev/null
node "$ROOT/tests/mocks/sendgrid.mjs" "$PORT" bench-key >"$WORK/mock.log" 2>&1 &
MOCK_PID=$!
wait_for 10 grep -q ready "$WORK/mock.log" || die "the SendGrid stand-in did not start"

echo "ums notifier benchmark: $N emails, $(nproc) cores"
echo "== the stand-in alone (wrk -t1 -c8, 5 s)"
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer bench-key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"personalizations":[{"to":[{"email":"wrk@bench.example"}]}],"from":{"email":"a@b"},' ..
  '"subject":"s","content":[{"type":"text/plain","value":"t"},{"type":"text/html","value":"h"}]}'
LUA
wrk -t1 -c8 -d5s -s "$WORK/post.lua" "$MOCK/v3/mail/send" | awk '/Requests\/sec/ {print "stand-in alone: " $2 " req/s"}'

# K daemons in one consumer group, as several hosts would run them.
for i in $(seq 1 "$K"); do
    UMS_EMAIL_TRANSPORT=sendgrid UMS_EMAIL_SENDGRID_URL="$MOCK" UMS_EMAIL_SENDGRID_API_KEY=bench-key \
        UMS_NOTIFIER_CONSUMER="bench-$i" UMS_NOTIFIER_PID_FILE="$RUN/notifier-bench-$i.pid" \
        UMS_LOG_FILE="$LOGS/notifier-bench.log" UMS_LOG_LEVEL=warn \
        "$BUILD/notifier/ums-notifier" --config "$UMS_CONFIG" --daemon
    wait_for 10 test -s "$RUN/notifier-bench-$i.pid" || die "benchmark notifier $i did not start"
done

# Outbox rows (published) and their stream entries, as ums-fcgi writes them;
# then the time until the stand-in has accepted all of them.
sendgrid_count() { curl -fsS "$MOCK/_count" | sed 's/.*"accepted":\([0-9]*\).*/\1/'; }
smtp_count() { find "$WORK/smtp-out" -name '*.eml' | wc -l; }
COUNT=sendgrid_count

drain() { # LABEL SQL-SELECT-OF-(id, event); $COUNT says how many the provider accepted
    echo "== $1"
    "${PSQL[@]}" -At -c "$2" >"$WORK/events"
    before=$($COUNT)
    awk -F'|' '{gsub(/"/, "\\\""); printf "XADD ums:events * outbox_id %s event \"%s\"\n", $1, $2}' \
        "$WORK/events" >"$WORK/xadd"
    t0=$(date +%s.%N)
    "${RCLI[@]}" <"$WORK/xadd" >/dev/null
    while :; do
        now=$($COUNT)
        [ $((now - before)) -ge "$N" ] && break
        awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {exit !(a - b > 300)}' &&
            die "not drained in 300 s ($((now - before)) of $N)"
        sleep 0.1
    done
    t1=$(date +%s.%N)
    echo "$N $t0 $t1" | awk '{printf "drained %d emails in %.2f s: %.0f emails/s\n", $1, $3 - $2, $1 / ($3 - $2)}'
}

# N recovery events to addresses PREFIX-g@bench.example, as SQL for drain.
recovery_events() {
    echo "INSERT INTO outbox (event, published_at)
       SELECT jsonb_build_object('type', 'user.recovery_requested', 'email',
                                 '$1-' || g || '@bench.example', 'otp', '123456',
                                 'token_hash', md5(g::text)), now()
         FROM generate_series(1, $N) g RETURNING id, event::text"
}

drain "$N recovery emails (no user row: email only), $K notifier daemon(s)" \
    "$(recovery_events bench)"

# Welcome events of real users: recipient and preferences looked up, email
# and in-app notification, as a sign-up produces them.
"${PSQL[@]}" -c "DELETE FROM users WHERE email LIKE 'nbench-%@bench.example'"
drain "$N welcome emails + in-app notifications of existing users, $K notifier daemon(s)" \
    "WITH u AS (INSERT INTO users (email, password_hash, name)
                SELECT 'nbench-' || g || '@bench.example', 'x', 'Bench ' || g
                  FROM generate_series(1, $N) g RETURNING id, email, name)
     INSERT INTO outbox (event, published_at)
       SELECT jsonb_build_object('type', 'user.registered', 'user_id', id, 'email', email,
                                 'name', name), now() FROM u RETURNING id, event::text"
inapp=$("${PSQL[@]}" -At -c "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id
                               WHERE u.email LIKE 'nbench-%@bench.example'")
echo "in-app notifications written: $inapp"
"${PSQL[@]}" -c "DELETE FROM users WHERE email LIKE 'nbench-%@bench.example'"

echo "== sign-up to welcome email accepted by the stand-in (50 sign-ups, one at a time)"
: >"$WORK/lat"
for i in $(seq 1 50); do
    email="lat-$$-$i-$RANDOM@bench.example"
    start=$(date +%s%3N)
    curl -fsS -o /dev/null -X POST "$UMS_URL/auth/v1/signup" -H 'Content-Type: application/json' \
        --interface "127.0.9.$((i % 250 + 1))" \
        -d "{\"email\":\"$email\",\"password\":\"bench passphrase 1\"}"
    for _ in $(seq 1 100); do
        at=$(curl -fsS "$MOCK/_requests?to=$email" | sed -n 's/.*"at":\([0-9]*\).*/\1/p')
        [ -n "$at" ] && break
        sleep 0.02
    done
    [ -n "$at" ] || die "the welcome email of $email never arrived"
    echo $((at - start)) >>"$WORK/lat"
done
sort -n "$WORK/lat" | awk '{a[NR] = $1} END {printf "median %d ms, p90 %d ms, max %d ms\n", a[int((NR + 1) / 2)], a[int(NR * 0.9)], a[NR]}'

# The smtp transport against Debian's aiosmtpd (STARTTLS and AUTH, as in
# tests/http/test_smtp.c); aiosmtpd is one Python process, so this measures
# it as much as the notifier.
for f in "$RUN"/notifier-bench-*.pid; do
    pid=$(cat "$f" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null || continue
    wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || die "benchmark notifier $pid did not stop"
done
N=${BENCH_SMTP_EMAILS:-2000}
SMTP_PORT=$((PORT + 2))
mkdir -p "$WORK/smtp-out" "$WORK/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" \
    >/dev/null 2>&1
chmod 0755 "$WORK" "$WORK/tls" && chmod 0644 "$WORK/tls/cert.pem"
/usr/bin/python3 "$ROOT/tests/mocks/smtp_server.py" "$SMTP_PORT" "$WORK/smtp-out" \
    "$WORK/tls/cert.pem" "$WORK/tls/key.pem" bench 'bench secret' >"$WORK/smtp.log" 2>&1 &
SMTP_PID=$!
wait_for 10 grep -q ready "$WORK/smtp.log" || die "the SMTP server did not start"
for i in $(seq 1 "$K"); do
    UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT" \
        UMS_EMAIL_SMTP_USERNAME=bench UMS_EMAIL_SMTP_PASSWORD='bench secret' \
        UMS_EMAIL_SMTP_CA_FILE="$WORK/tls/cert.pem" \
        UMS_NOTIFIER_CONSUMER="bench-smtp-$i" UMS_NOTIFIER_PID_FILE="$RUN/notifier-bench-smtp-$i.pid" \
        UMS_LOG_FILE="$LOGS/notifier-bench.log" UMS_LOG_LEVEL=warn \
        "$BUILD/notifier/ums-notifier" --config "$UMS_CONFIG" --daemon
    wait_for 10 test -s "$RUN/notifier-bench-smtp-$i.pid" || die "benchmark notifier $i did not start"
done
COUNT=smtp_count
drain "$N recovery emails over SMTP (STARTTLS, AUTH), $K notifier daemon(s)" \
    "$(recovery_events smtp)"
kill "$SMTP_PID" 2>/dev/null || true
