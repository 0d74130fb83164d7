#!/usr/bin/env python3
"""tests/stack/test_hosts.py - several ums hosts (issue 17, part 5), on the
stack started with UMS_HOSTS=2: host B is a second pool and notifier with a
configuration, socket and logs of its own, in nginx's upstream beside host
A. Requests go to each host's socket directly (FastCGI, as the web server
sends them): a token issued by A works on B, a logout on A kills the token
on B at once, the per-address limit and the per-email lockout count across
both, the two notifiers deliver each mail once, a revocation whose fault row
commits after a newer one is still seen by every worker of both, and nginx
spreads requests over both. Run with the stack's environment:
    (set -a; . .stack/env; set +a; python3 tests/stack/test_hosts.py)
"""
import base64
import concurrent.futures
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, env, fcgi_request, mails_to, request, run_steps, wait_for  # noqa: E402

A = env("UMS_FCGI_SOCKET")
B = env("UMS_FCGI_SOCKET_B")
STACK = env("UMS_STACK")
BASE = env("UMS_URL")
PASSWORD = "correct horse battery"
state = {}


def call(host, method, path, body=None, token=None, ip="127.0.0.1"):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    s, _, b = fcgi_request(host, method, path, body, headers=h, remote_addr=ip)
    return s, (json.loads(b) if b[:1] == b"{" else b)


def new_address(prefix):
    return f"{prefix}-{random.getrandbits(40):x}@example.com"


def a_token_from_a_works_on_b():
    check(os.path.exists(B), f"host B's socket {B} is missing: start the stack with UMS_HOSTS=2")
    email = new_address("hosts")
    s, b = call(A, "POST", "/auth/v1/signup", {"email": email, "password": PASSWORD}, ip="127.0.7.1")
    check(s == 200, f"sign-up on A: {s} {b}")
    s, b = call(A, "POST", "/auth/v1/token?grant_type=password", {"email": email, "password": PASSWORD},
                ip="127.0.7.1")
    check(s == 200, f"sign-in on A: {s} {b}")
    state["tok"] = b
    s, u = call(B, "GET", "/auth/v1/user", token=b["access_token"])
    check(s == 200 and u["email"] == email, f"A's token on B: {s} {u}")
    s, u = call(B, "POST", "/auth/v1/token?grant_type=refresh_token", {"refresh_token": b["refresh_token"]},
                ip="127.0.7.1")
    check(s == 200, f"A's refresh token on B: {s} {u}")
    state["tok"] = u


def a_logout_on_a_kills_the_token_on_b():
    tok = state["tok"]["access_token"]
    s, b = call(B, "GET", "/auth/v1/user", token=tok)
    check(s == 200, f"before the logout: {s}")  # B has the session cached now
    s, _ = call(A, "POST", "/auth/v1/logout", token=tok)
    check(s == 204, f"logout on A: {s}")
    t0 = time.monotonic()
    s, b = call(B, "GET", "/auth/v1/user", token=tok)
    check(s in (401, 403), f"the token still works on B after a logout on A: {s} {b}")
    print(f"    B refused the token {1000 * (time.monotonic() - t0):.1f} ms after A's logout answered")


def limits_count_across_both_hosts():
    # The per-address bucket for /token: [limits] token_per_5min (30).
    ip = f"127.0.8.{random.randint(2, 250)}"
    ok, served = 0, {A: 0, B: 0}
    for i in range(40):
        host = A if i % 2 == 0 else B
        s, b = call(host, "POST", "/auth/v1/token?grant_type=password",
                    {"email": new_address("nobody"), "password": "wrong password"}, ip=ip)
        if s == 429:
            check(b.get("error_code") == "over_request_rate_limit", f"429 of the wrong kind: {b}")
            break
        check(s == 400, f"a wrong password: {s} {b}")
        ok += 1
        served[host] += 1
    print(f"    {ok} sign-in attempts from {ip} before the 429 (A {served[A]}, B {served[B]})")
    check(30 <= ok <= 31, f"{ok} attempts went through before the limit, not 30: each host counts alone?")
    # The per-email lockout: [auth] lockout_threshold (5) failures, on both.
    email = new_address("locked")
    s, b = call(A, "POST", "/auth/v1/signup", {"email": email, "password": PASSWORD}, ip="127.0.9.1")
    check(s == 200, f"sign-up: {s} {b}")
    for i in range(5):
        s, b = call(A if i % 2 == 0 else B, "POST", "/auth/v1/token?grant_type=password",
                    {"email": email, "password": "wrong password"}, ip=f"127.0.9.{10 + i}")
        check(s == 400, f"failure {i + 1}: {s} {b}")
    s, b = call(B, "POST", "/auth/v1/token?grant_type=password", {"email": email, "password": PASSWORD},
                ip="127.0.9.20")
    check(s == 429 and b.get("error_code") == "user_locked",
          f"the right password after 5 failures on A and B: {s} {b}")




def two_notifiers_deliver_each_mail_once():
    addrs = []
    for i in range(20):
        email = new_address("hosts-mail")
        s, b = call(A if i % 2 == 0 else B, "POST", "/auth/v1/signup", {"email": email, "password": PASSWORD},
                    ip=f"127.0.10.{i + 1}")
        check(s == 200, f"sign-up {i}: {s} {b}")
        addrs.append(email)
    wait_for("20 confirmation mails", lambda: all(mails_to(a) >= 1 for a in addrs), 60, step=0.5)
    time.sleep(2)
    twice = [a for a in addrs if mails_to(a) != 1]
    check(not twice, f"mailed more than once: {twice[:3]}")
    pw = open(f"{STACK}/secrets/redis_password").read().strip()
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", env("UMS_REDIS_PORT"), "XINFO", "CONSUMERS",
                        "ums:events", "notifier"], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, REDISCLI_AUTH=pw))
    check("host-b" in r.stdout, f"host B's notifier is not in the consumer group: {r.stdout[:300]}")


def hammer(token, seconds, threads=8):
    """GET /auth/v1/user with token on both hosts from `threads` threads
    each, for `seconds`; returns the statuses by host, in order."""
    end = time.monotonic() + seconds

    def loop(host):
        out = []
        while time.monotonic() < end:
            out.append(call(host, "GET", "/auth/v1/user", token=token)[0])
        return host, out

    got = {A: [], B: []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * threads) as ex:
        for host, out in ex.map(loop, [A, B] * threads):
            got[host] += out
    return got


def a_fault_committed_out_of_id_order_is_seen_everywhere():
    # A revocation that only PostgreSQL knows of (as the session cap's
    # trigger makes one) is noted as a fault row whose id is drawn at insert;
    # here a newer fault row commits first and every worker of both hosts
    # reads it, then the older one commits. No worker may go on trusting
    # the session's cached "live".
    email = new_address("hosts-fault")
    s, b = call(A, "POST", "/auth/v1/signup", {"email": email, "password": PASSWORD}, ip="127.0.11.1")
    check(s == 200, f"sign-up: {s} {b}")
    tok = b["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(tok.split(".")[1] + "=="))
    sid = claims["session_id"]
    for host in (A, B):
        s, _ = call(host, "GET", "/auth/v1/user", token=tok)
        check(s == 200, f"before: {s}")
    url = env("DATABASE_URL")
    held = subprocess.Popen(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        held.stdin.write(f"BEGIN;\nUPDATE sessions SET revoked_at = now() WHERE id = '{sid}';\n"
                         f"INSERT INTO session_cache_faults (session_id) VALUES ('{sid}');\n"
                         "\\echo held\n")
        held.stdin.flush()
        check(held.stdout.readline().strip() == "held", "the held transaction did not start")
        r = subprocess.run(["psql", "-qAtX", url, "-c", "INSERT INTO session_cache_faults (session_id)"
                            " VALUES (gen_random_uuid()) RETURNING id"], capture_output=True, text=True,
                           timeout=30)
        check(r.returncode == 0, f"the newer fault row: {r.stderr}")
        got = hammer(tok, 2.5)
        for host in (A, B):
            check(got[host] and set(got[host]) == {200}, f"before the commit: {sorted(set(got[host]))}")
        print(f"    {len(got[A]) + len(got[B])} checks read the newer fault row first")
        held.stdin.write("COMMIT;\n\\echo done\n")
        held.stdin.flush()
        check(held.stdout.readline().strip() == "done", "the held transaction did not commit")
    finally:
        held.stdin.close()
        held.wait(timeout=30)
    t0 = time.monotonic()
    wait_for("every worker of both hosts to refuse the session",
             lambda: all(set(v) == {403} for v in hammer(tok, 0.3, threads=4).values()), 5, step=0.1)
    print(f"    refused everywhere {1000 * (time.monotonic() - t0):.0f} ms after the commit")
    got = hammer(tok, 1.5)
    for host in (A, B):
        check(set(got[host]) == {403}, f"after the commit, host {host}: {sorted(set(got[host]))}")


def the_web_server_spreads_over_both_hosts():
    log_b = f"{STACK}/log/ums-b.log"
    off = os.path.getsize(log_b)
    for _ in range(40):
        s, _, _ = request(BASE, "GET", "/auth/v1/health")
        check(s == 200, f"health through nginx: {s}")
    with open(log_b, "rb") as f:
        f.seek(off)
        seen = sum(1 for line in f.read().splitlines() if b"/auth/v1/health" in line)
    print(f"    host B served {seen} of 40 requests through the web server")
    check(0 < seen < 40, f"host B served {seen} of 40 requests")


if __name__ == "__main__":
    sys.exit(run_steps([
        ("hosts/a_token_from_a_works_on_b", a_token_from_a_works_on_b),
        ("hosts/a_logout_on_a_kills_the_token_on_b_at_once", a_logout_on_a_kills_the_token_on_b),
        ("hosts/limits_and_lockout_count_across_both_hosts", limits_count_across_both_hosts),
        ("hosts/two_notifiers_deliver_each_mail_once", two_notifiers_deliver_each_mail_once),
        ("hosts/a_fault_committed_out_of_id_order_is_seen_everywhere",
         a_fault_committed_out_of_id_order_is_seen_everywhere),
        ("hosts/the_web_server_spreads_requests_over_both_hosts", the_web_server_spreads_over_both_hosts),
        ]))
