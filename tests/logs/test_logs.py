#!/usr/bin/env python3
"""tests/logs/test_logs.py - every log line of the run is JSON with the
Elastic Common Schema's names, and no line holds a secret.

    secrets   signs up, signs in, sends its Bearer token and a Cookie,
              refreshes, verifies a one-time code from the Maildir, asks for
              a recovery link and uses it; then no log line holds the
              password, the access or refresh token, the code, the link's
              token hash, the Cookie or Authorization value
    fields    every line written since the run began (UMS_LOG_OFFSETS: the
              sizes of the logs when scripts/check started) of ums-fcgi,
              ums-notifier, umsctl (its stderr) and the web server parses
              as one JSON object with @timestamp, log.level, message,
              service.name, process.pid; request lines also with
              http.request.id, http.request.method, url.path,
              http.response.status_code, event.duration (integer
              nanoseconds), client.ip; no line anywhere holds a JWT

Prints "ok   logs/name" or "FAIL logs/name" and "N passed, N failed".
"""
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Fail, check, env, request, run  # noqa: E402

STACK = env("UMS_STACK")
URL = env("UMS_URL")
SERVER = env("UMS_SERVER")
MAILDIR = env("UMS_MAILDIR")
LOGS = os.path.join(STACK, "log")
SRC = f"127.0.{random.randrange(20, 250)}.{random.randrange(2, 250)}"
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")
SECRETS = {}  # what -> bytes the test sent or got


def http(method, path, body=None, headers=None):
    st, _, data = request(URL, method, path, body, headers, src=SRC)
    return st, data


def newest_mail(to, event, after, limit=30):
    deadline = time.time() + limit
    while time.time() < deadline:
        best = None
        for sub in ("new", "cur"):
            d = os.path.join(MAILDIR, sub)
            for f in os.listdir(d) if os.path.isdir(d) else []:
                p = os.path.join(d, f)
                try:
                    if os.path.getmtime(p) < after - 1:
                        continue
                    with open(p, "rb") as fh:
                        text = fh.read()
                except OSError:
                    continue
                if f"To: <{to}>".encode() in text and f"X-Ums-Event: {event}".encode() in text:
                    best = text
        if best is not None:
            return best
        if SERVER == "apache-fcgid":
            subprocess.run([os.path.join(env("UMS_BUILD_DIR"), "notifier", "ums-notifier"),
                            "--config", env("UMS_CONFIG"), "--once"], capture_output=True, timeout=60)
        time.sleep(0.3)
    raise Fail(f"no {event} mail to {to} in {limit} s")


def test_secrets():
    tag = f"{int(time.time())}{random.randrange(10**6)}"
    email = f"logs-{tag}@example.com"
    pw = f"Log-Secret-Passw0rd-{tag}"
    cookie = f"sb-session=cookie-secret-{tag}"
    t0 = time.time()
    SECRETS["password"] = pw.encode()
    st, body = http("POST", "/auth/v1/signup", {"email": email, "password": pw})
    check(st == 200, f"sign-up {st} {body[:200]!r}")
    st, body = http("POST", "/auth/v1/token?grant_type=password", {"email": email, "password": pw},
                    {"Cookie": cookie})
    check(st == 200, f"sign-in {st}")
    o = json.loads(body)
    SECRETS["access token"] = o["access_token"].encode()
    SECRETS["refresh token"] = o["refresh_token"].encode()
    SECRETS["cookie"] = cookie.encode()
    st, _ = http("GET", "/auth/v1/user", None, {"Authorization": "Bearer " + o["access_token"],
                                                 "Cookie": cookie})
    check(st == 200, f"GET /user {st}")
    st, _ = http("GET", "/api/v1/users/me?access_token=" + o["access_token"], None,
                 {"Authorization": "Bearer " + o["access_token"]})
    st, body = http("POST", "/auth/v1/token?grant_type=refresh_token",
                    {"refresh_token": o["refresh_token"]})
    check(st == 200, f"refresh {st}")
    SECRETS["second refresh token"] = json.loads(body)["refresh_token"].encode()
    # The sign-up's confirmation code and link.
    mail = newest_mail(email, "user.registered", t0)
    code = re.search(rb"\b(\d{6})\b", mail)
    th = re.search(rb"token=([0-9a-f]{40,64})", mail)
    check(code is not None, "no code in the sign-up mail")
    SECRETS["one-time code"] = code.group(1)
    st, body = http("POST", "/auth/v1/verify", {"type": "signup", "email": email,
                                                 "token": code.group(1).decode()})
    check(st in (200, 400, 403), f"verify {st} {body[:200]!r}")
    if th is not None:
        SECRETS["link token hash"] = th.group(1)
    # A recovery link, used through the GET the mail's link is.
    t1 = time.time()
    st, _ = http("POST", "/auth/v1/recover", {"email": email})
    check(st == 200, f"recover {st}")
    mail = newest_mail(email, "user.recovery_requested", t1)
    th = re.search(rb"token=([0-9a-f]{40,64})", mail)
    check(th is not None, "no token in the recovery mail")
    SECRETS["recovery token hash"] = th.group(1)
    st, _ = http("GET", "/auth/v1/verify?type=recovery&token=" + th.group(1).decode() +
                 "&redirect_to=http://localhost:3000/")
    check(st in (200, 302, 303), f"recovery link {st}")
    time.sleep(1.5)  # Apache's piped logger writes a moment later
    found = []
    for name in sorted(os.listdir(LOGS)):
        # The daemons' and web servers' logs and standard errors, not the
        # test suites' own output (check-*.log) or scripts/up's.
        if not name.endswith((".log", ".stderr")) or name.startswith(("check-", "up-")):
            continue
        with open(os.path.join(LOGS, name), "rb") as f:
            data = f.read()
        for what, secret in SECRETS.items():
            if what == "one-time code":
                # Six digits: as a word of its own, not inside a number or
                # an id, and not a JSON number (a pid, a duration).
                pat = rb"(?<![0-9A-Za-z:])" + secret + rb"(?![0-9A-Za-z])"
                if re.search(pat, data):
                    found.append(f"{what} in {name}")
            elif secret in data:
                found.append(f"{what} in {name}")
    check(not found, "; ".join(found))


class RawIds:
    """The request ids the web server never logged: requests sent to the
    FastCGI socket directly."""

    def __init__(self, web_ids):
        self.web_ids = web_ids

    def __contains__(self, rid):
        return rid not in self.web_ids


REQUIRED = ("@timestamp", "log.level", "message", "service.name")
REQUEST = ("http.request.id", "http.request.method", "url.path", "http.response.status_code",
           "event.duration", "client.ip")


def offsets():
    """The size each log had when the run began (scripts/check), else 0."""
    out = {}
    path = os.environ.get("UMS_LOG_OFFSETS")
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out[parts[1]] = int(parts[0])
    return out


def check_line(name, line, errors, raw_ids=None):
    try:
        o = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        errors.append(f"{name}: not JSON ({e}): {line[:200]!r}")
        return
    if not isinstance(o, dict):
        errors.append(f"{name}: not an object: {line[:200]!r}")
        return
    for k in REQUIRED:
        if k not in o:
            errors.append(f"{name}: no {k}: {line[:200]!r}")
    web = o.get("service.name") in ("nginx", "apache")
    if not web and not isinstance(o.get("process.pid"), int):
        errors.append(f"{name}: no integer process.pid: {line[:200]!r}")
    if web or str(o.get("event.dataset", "")).endswith(".access"):
        for k in REQUEST:
            # A request straight on the FastCGI socket (a test's, without
            # REMOTE_ADDR) has no client address; one through the web
            # server always has.
            if k == "client.ip" and raw_ids is not None and o.get("http.request.id") in raw_ids:
                continue
            if k not in o:
                errors.append(f"{name}: request line without {k}: {line[:200]!r}")
        d = o.get("event.duration")
        if not isinstance(d, int) or d < 0:
            errors.append(f"{name}: event.duration {d!r} is not integer nanoseconds")
        s = o.get("http.response.status_code")
        if not isinstance(s, int):
            errors.append(f"{name}: http.response.status_code {s!r} is not an integer")
    if JWT.search(line):
        errors.append(f"{name}: a JWT: {line[:120]!r}")


def test_fields():
    offs = offsets()
    files = ["ums.log", "notifier.log"]
    files.append("nginx-access.log" if SERVER == "nginx" else "apache-access.log")
    errors, total = [], 0
    web_ids = set()
    web = files[-1]
    with open(os.path.join(LOGS, web), "rb") as f:
        f.seek(min(offs.get(os.path.join(LOGS, web), 0), os.path.getsize(os.path.join(LOGS, web))))
        for line in f:
            try:
                web_ids.add(json.loads(line).get("http.request.id"))
            except ValueError:
                pass
    raw_ids = RawIds(web_ids)
    for name in files:
        path = os.path.join(LOGS, name)
        check(os.path.exists(path), f"{path} is missing")
        with open(path, "rb") as f:
            start = offs.get(path, 0)
            if os.path.getsize(path) >= start:
                f.seek(start)
            lines = f.read().splitlines()
        # A line cut by the seek is the only one that may be partial.
        if start > 0 and lines:
            lines = lines[1:]
        for line in lines:
            if line.strip():
                total += 1
                check_line(name, line, errors, raw_ids)
    # umsctl logs to its standard error.
    p = subprocess.run([os.path.join(env("UMS_BUILD_DIR"), "cli", "umsctl"), "events", "status"],
                       env=dict(os.environ, UMS_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"),
                       capture_output=True, timeout=60)
    ctl = [ln for ln in p.stderr.splitlines() if ln.startswith(b"{")]
    check(ctl, f"umsctl wrote no JSON line: {p.stderr[:300]!r}")
    for line in ctl:
        total += 1
        check_line("umsctl", line, errors)
        o = json.loads(line)
        check(o.get("service.name") == "umsctl", f"umsctl's service.name: {o.get('service.name')}")
    check(total >= 10, f"only {total} lines")
    check(not errors, f"{len(errors)} bad lines of {total}, first: " + "; ".join(errors[:5]))


def main():
    return run([("logs/secrets", test_secrets), ("logs/fields", test_fields)])


if __name__ == "__main__":
    sys.exit(main())
