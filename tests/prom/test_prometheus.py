#!/usr/bin/env python3
"""tests/prom/test_prometheus.py - ums's metrics as a real Prometheus sees them.

Starts Debian's prometheus on loopback (port UMS_HTTP_PORT + 1013, a state
folder under .stack/prometheus, a 1 s scrape of /metrics through the web
server), then:

    exposition  promtool check metrics on the raw /metrics text; the
                content type; every family has HELP and TYPE
    counters    signs up, signs in, fails a sign-in, locks an address out,
                reuses a refresh token, sends the sign-up's email, and sees
                every one of those counters move in Prometheus by exactly
                what the test did
    replaced    kills a worker (or a spawned process) with SIGKILL: no
                counter goes backwards (resets() is 0 over the run)
    rules       promtool check rules and promtool test rules on
                deploy/prometheus/
    dashboard   every panel expression of deploy/grafana/ums-dashboard.json
                as an instant query: no error, and data for the counters the
                test moved

Prometheus is stopped at the end, whatever happened. Every wait is bounded.
Prints "ok   prom/name" or "FAIL prom/name" and "N passed, N failed".
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Fail, check, env, request, run  # noqa: E402

ROOT = env("UMS_ROOT")
STACK = env("UMS_STACK")
URL = env("UMS_URL")
SERVER = env("UMS_SERVER")
HTTP_PORT = int(env("UMS_HTTP_PORT"))
PROM_PORT = HTTP_PORT + 1013
PROM_URL = f"http://127.0.0.1:{PROM_PORT}"
PROM_DIR = os.path.join(STACK, "prometheus")
MAILDIR = env("UMS_MAILDIR")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
LOCKOUT_THRESHOLD = 5  # [auth] lockout_threshold, the stack's default


# The test's own client address (loopback), so that the rate buckets other
# suites filled for 127.0.0.1 do not refuse it; /metrics only from 127.0.0.1.
SRC = f"127.0.{random.randrange(20, 250)}.{random.randrange(2, 250)}"


def http(method, path, body=None, headers=None, base=URL, timeout=15, src="127.0.0.1"):
    return request(base, method, path, body, headers, timeout, src)


def auth(path, body):
    return http("POST", path, body, src=SRC)


def query(expr, at=None):
    """An instant query: the result vector (list), or Fail with Prometheus's error."""
    q = {"query": expr}
    if at is not None:
        q["time"] = str(at)
    st, _, body = http("GET", "/api/v1/query?" + urllib.parse.urlencode(q), base=PROM_URL)
    o = json.loads(body)
    if st != 200 or o.get("status") != "success":
        raise Fail(f"query {expr!r}: {st} {o.get('errorType')}: {o.get('error')}")
    return o["data"]["result"]


def value(expr):
    r = query(expr)
    if not r:
        return None
    return float(r[0]["value"][1])


def scraped_since(t0, limit=20):
    """Waits until Prometheus has a scrape of ums that started after t0."""
    deadline = time.time() + limit
    while time.time() < deadline:
        r = query('timestamp(ums_build_info{job="ums"})')
        if r and float(r[0]["value"][1]) > t0 + 0.5:
            return
        time.sleep(0.5)
    raise Fail(f"no scrape of ums after {limit} s")


def mails_total():
    n = 0
    for sub in ("new", "cur"):
        d = os.path.join(MAILDIR, sub)
        n += len(os.listdir(d)) if os.path.isdir(d) else 0
    return n


def mails_to(addr):
    n = 0
    for sub in ("new", "cur"):
        d = os.path.join(MAILDIR, sub)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            try:
                with open(os.path.join(d, f), "rb") as fh:
                    if ("To: <" + addr + ">").encode() in fh.read(8192):
                        n += 1
            except OSError:
                pass
    return n


class Prometheus:
    def __init__(self):
        self.proc = None

    def start(self):
        shutil.rmtree(PROM_DIR, ignore_errors=True)
        os.makedirs(os.path.join(PROM_DIR, "data"))
        target = f"127.0.0.1:{HTTP_PORT}"
        with open(os.path.join(PROM_DIR, "prometheus.yml"), "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                "scrape_configs:\n  - job_name: ums\n    metrics_path: /metrics\n"
                f"    static_configs:\n      - targets: ['{target}']\n"
            )
        log = open(os.path.join(PROM_DIR, "prometheus.log"), "w")
        # As whoever runs the test; a new session, so that stopping it is clean.
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={PROM_DIR}/prometheus.yml",
             f"--storage.tsdb.path={PROM_DIR}/data", f"--web.listen-address=127.0.0.1:{PROM_PORT}",
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Fail(f"prometheus exited ({self.proc.returncode}); see {PROM_DIR}/prometheus.log")
            try:
                st, _, _ = http("GET", "/-/ready", base=PROM_URL, timeout=2)
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise Fail("prometheus not ready in 30 s")
        deadline = time.time() + 20
        while time.time() < deadline:
            if value('up{job="ums"}') == 1:
                return
            time.sleep(0.5)
        raise Fail("prometheus sees ums down (up == 0) after 20 s")

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


PROM = Prometheus()
MOVED = {}  # series -> the amount the test moved it


def test_exposition():
    st, headers, body = http("GET", "/metrics")
    check(st == 200, f"/metrics answered {st}")
    ctype = headers.get("Content-Type", "")
    check(ctype.startswith("text/plain; version=0.0.4"), f"content type {ctype!r}")
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True, timeout=30)
    check(p.returncode == 0, f"promtool check metrics: {p.stdout.decode()} {p.stderr.decode()}")
    text = body.decode()
    families = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE ")}
    helps = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# HELP ")}
    check(families == helps, f"families without HELP: {families ^ helps}")
    for want in ("ums_signins_total", "ums_http_requests_total", "ums_processes",
                 "ums_notifier_deliveries_total", "ums_postgres_up", "ums_redis_up"):
        check(want in families, f"{want} is not exported")
    # No raw path, address or email in a label value.
    for ln in text.splitlines():
        if ln.startswith("ums_http_requests_total{"):
            route = ln.split('route="', 1)[1].split('"', 1)[0]
            check(route == "unmatched" or route.startswith("/"), f"route label {route!r}")
            check("@" not in ln and "127.0.0." not in ln, f"a value that is no pattern: {ln}")


SERIES = {
    "signup": 'sum(ums_signups_total{method="password"})',
    "signin_ok": 'sum(ums_signins_total{method="password",outcome="success"})',
    "signin_bad": 'sum(ums_signins_total{method="password",outcome="invalid_credentials"})',
    "signin_locked": 'sum(ums_signins_total{method="password",outcome="locked"})',
    "lockouts": "sum(ums_lockouts_total)",
    "refresh_ok": 'sum(ums_token_refreshes_total{outcome="success"})',
    "refresh_bad": 'sum(ums_token_refreshes_total{outcome="invalid"})',
    "reuse": "sum(ums_refresh_token_reuse_total)",
    "revoked_reuse": 'sum(ums_sessions_revoked_total{cause="refresh_reuse"})',
    "mail_sent": 'sum(ums_notifier_deliveries_total{channel="email",outcome="sent"})',
    "signup_requests": 'sum(ums_http_requests_total{route="/auth/v1/signup",method="POST",status="200"})',
}


def snapshot():
    return {k: value(e) or 0.0 for k, e in SERIES.items()}


def test_counters():
    tag = f"{int(time.time())}{random.randrange(10**6)}"
    email = f"prom-{tag}@example.com"
    locked = f"prom-locked-{tag}@example.com"
    pw = "Prom-Passw0rd-" + tag
    scraped_since(time.time())
    before = snapshot()
    mails_before = mails_to(email)
    # Other mails may go out meanwhile (a --once run sends what earlier
    # tests left): the counter must move by every file the Maildir gained.
    total_before = mails_total()

    st, _, body = auth("/auth/v1/signup", {"email": email, "password": pw})
    check(st == 200, f"sign-up: {st} {body[:200]!r}")
    st, _, body = auth("/auth/v1/token?grant_type=password", {"email": email, "password": pw})
    check(st == 200, f"sign-in: {st} {body[:200]!r}")
    rt0 = json.loads(body)["refresh_token"]
    st, _, _ = auth("/auth/v1/token?grant_type=password", {"email": email, "password": "nope"})
    check(st == 400, f"a wrong password answered {st}")
    # An address without an account locks all the same (no mail: no owner).
    for i in range(LOCKOUT_THRESHOLD):
        st, _, _ = auth("/auth/v1/token?grant_type=password", {"email": locked, "password": "x"})
        check(st == 400, f"failure {i + 1} for the locked address answered {st}")
    st, _, body = auth("/auth/v1/token?grant_type=password", {"email": locked, "password": "x"})
    check(b"user_locked" in body, f"locked address: {st} {body[:200]!r}")
    # Rotate twice, then the first token again: reuse, the session is revoked.
    st, _, body = auth("/auth/v1/token?grant_type=refresh_token", {"refresh_token": rt0})
    check(st == 200, f"refresh 1: {st}")
    rt1 = json.loads(body)["refresh_token"]
    st, _, body = auth("/auth/v1/token?grant_type=refresh_token", {"refresh_token": rt1})
    check(st == 200, f"refresh 2: {st}")
    st, _, body = auth("/auth/v1/token?grant_type=refresh_token", {"refresh_token": rt0})
    check(st in (400, 403) and b"refresh_token_already_used" in body, f"reuse: {st} {body[:200]!r}")

    # The sign-up's mail, delivered by the notifier (daemon, or --once run here).
    deadline = time.time() + 30
    once = os.path.join(env("UMS_BUILD_DIR"), "notifier", "ums-notifier")
    while mails_to(email) <= mails_before and time.time() < deadline:
        if SERVER == "apache-fcgid":
            subprocess.run([once, "--config", env("UMS_CONFIG"), "--once"], capture_output=True, timeout=60)
        time.sleep(0.5)
    mails = mails_to(email) - mails_before
    check(mails >= 1, "the sign-up's mail did not arrive in 30 s")

    want = {"signup": 1, "signin_ok": 1, "signin_bad": 1 + LOCKOUT_THRESHOLD, "signin_locked": 1,
            "lockouts": 1, "refresh_ok": 2, "refresh_bad": 1, "reuse": 1, "revoked_reuse": 1,
            "mail_sent": mails, "signup_requests": 1}
    deadline = time.time() + 20
    got = {}
    while time.time() < deadline:
        want["mail_sent"] = mails_total() - total_before
        scraped_since(time.time())
        now = snapshot()
        got = {k: now[k] - before[k] for k in want}
        if got == {k: float(v) for k, v in want.items()}:
            break
        time.sleep(0.5)
    check(got == {k: float(v) for k, v in want.items()}, f"moved {got}, want {want}")
    MOVED.update(want)


def test_replaced():
    """A replaced worker does not make a counter go backwards."""
    run = os.path.join(STACK, "run")
    pids = []
    if SERVER == "apache-fcgid":
        out = subprocess.run(["pgrep", "-f", "htdocs/ums.fcgi"], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
    else:
        with open(os.path.join(run, "ums-fcgi.pid")) as f:
            master = f.read().strip()
        out = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True).stdout
        pids = [int(p) for p in out.split()]
    check(pids, "no worker process found")
    t0 = time.time()
    scraped_since(t0)
    before = snapshot()
    for p in pids[: max(1, len(pids) // 2)]:
        os.kill(p, signal.SIGKILL)
    # Requests go on (the pool replaces its workers, mod_fcgid spawns again).
    deadline = time.time() + 20
    ok = 0
    while ok < 5 and time.time() < deadline:
        try:
            st, _, _ = http("GET", "/healthz", timeout=5)
            ok += st == 200
        except OSError:
            pass
        time.sleep(0.2)
    check(ok >= 5, "ums did not answer after its workers were killed")
    scraped_since(time.time())
    after = snapshot()
    for k in before:
        check(after[k] >= before[k], f"{k} went backwards: {before[k]} -> {after[k]}")
    span = max(5, int(time.time() - t0) + 2)
    for name in ("ums_signups_total", "ums_signins_total", "ums_http_requests_total",
                 "ums_refresh_token_reuse_total"):
        r = query(f"sum(resets({name}[{span}s]))")
        check(r and float(r[0]["value"][1]) == 0, f"{name} was reset: {r}")


def test_rules():
    d = os.path.join(ROOT, "deploy", "prometheus")
    p = subprocess.run([PROMTOOL, "check", "rules", "ums-alerts.yml"], cwd=d, capture_output=True,
                       timeout=60)
    check(p.returncode == 0, f"promtool check rules: {p.stdout.decode()} {p.stderr.decode()}")
    p = subprocess.run([PROMTOOL, "test", "rules", "ums-alerts.test.yml"], cwd=d, capture_output=True,
                       timeout=120)
    check(p.returncode == 0, f"promtool test rules: {p.stdout.decode()} {p.stderr.decode()}")
    p = subprocess.run([PROMTOOL, "check", "config", "prometheus.yml"], cwd=d, capture_output=True,
                       timeout=60)
    check(p.returncode == 0, f"promtool check config: {p.stdout.decode()} {p.stderr.decode()}")


def test_dashboard():
    dash = os.path.join(ROOT, "deploy", "grafana", "ums-dashboard.json")
    sample = os.path.join(PROM_DIR, "metrics.txt")
    _, _, body = http("GET", "/metrics")
    with open(sample, "wb") as f:
        f.write(body)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "deploy", "grafana", "check-dashboard.py"),
                        dash, sample, "--print-exprs"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"check-dashboard.py: {p.stdout} {p.stderr}")
    exprs = [e for e in p.stdout.splitlines() if e.strip()]
    check(len(exprs) >= 20, f"only {len(exprs)} panel expressions")
    moved = ("ums_signups_total", "ums_signins_total", "ums_lockouts_total",
             "ums_refresh_token_reuse_total", "ums_token_refreshes_total",
             "ums_notifier_deliveries_total")
    empty = []
    for e in exprs:
        r = query(e)
        if any(m in e for m in moved) and not r:
            empty.append(e)
    check(not empty, f"no data for: {empty}")


def main():
    try:
        PROM.start()
    except (Fail, OSError) as e:
        print(f"FAIL prom/start\n    {e}")
        PROM.stop()
        print("0 passed, 1 failed")
        return 1
    try:
        return run([("prom/exposition", test_exposition), ("prom/counters", test_counters),
                    ("prom/replaced", test_replaced), ("prom/rules", test_rules),
                    ("prom/dashboard", test_dashboard)])
    finally:
        PROM.stop()


if __name__ == "__main__":
    sys.exit(main())
