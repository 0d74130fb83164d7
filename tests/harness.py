"""tests/harness.py - what the Python suites (tests/web, tests/prom,
tests/logs) share: a failure, a check, the stack's environment, and the
run that prints "ok   group/name" or "FAIL group/name" and the closing
"N passed, N failed" that scripts/check counts."""
import http.client
import json
import os
import random
import sys
import time
import urllib.parse


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def env(name):
    v = os.environ.get(name)
    if not v:
        print(f"{name} is not set: source .stack/env first")
        print("0 passed, 1 failed")
        sys.exit(1)
    return v


def wait_for(what, fn, seconds, step=0.2):
    """fn's first true value within seconds, or Fail."""
    end = time.time() + seconds
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    raise Fail(f"{what}: not within {seconds} s")


def run(tests):
    """Runs (name, fn) pairs in order; returns the exit status."""
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            passed += 1
            print(f"ok   {name}", flush=True)
        except (Fail, OSError, ValueError, KeyError) as e:
            failed += 1
            print(f"FAIL {name}\n    {type(e).__name__}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def run_steps(steps, cleanup=()):
    """Runs (name, fn) pairs that build on each other: a step after a
    failed one fails at once (it would only fail for the same reason), and
    any exception is a failure of its step. The cleanup pairs run after
    them whatever happened. Returns the exit status."""
    failed = [False]

    def guard(fn, always=False):
        def go():
            check(always or not failed[0], "an earlier step failed")
            try:
                fn()
            except Fail:
                failed[0] = True
                raise
            except Exception as e:
                failed[0] = True
                raise Fail(f"{type(e).__name__}: {e}") from e
        return go
    return run([(name, guard(fn)) for name, fn in steps] +
               [(name, guard(fn, always=True)) for name, fn in cleanup])


def request(base, method, path, body=None, headers=None, timeout=15, src="127.0.0.1"):
    """One HTTP request to base + path from the loopback address src, body
    sent as JSON: (status, headers, body bytes)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, source_address=(src, 0))
    try:
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, u.path + path, body=data, headers=hdrs)
        r = conn.getresponse()
        return r.status, r.headers, r.read()
    finally:
        conn.close()


def signup_signin(base, prefix):
    """A new account through base: sign-up, password sign-in, GET
    /auth/v1/user. Returns (email, the sign-in's token response)."""
    email = f"{prefix}-{random.getrandbits(40):x}@example.com"
    password = "correct horse battery"
    s, _, b = request(base, "POST", "/auth/v1/signup", {"email": email, "password": password})
    check(s == 200, f"signup: {s} {b[:200]!r}")
    s, _, b = request(base, "POST", "/auth/v1/token?grant_type=password",
                      {"email": email, "password": password})
    check(s == 200, f"sign-in: {s} {b[:200]!r}")
    tok = json.loads(b)
    s, _, b = request(base, "GET", "/auth/v1/user",
                      headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s == 200 and json.loads(b)["email"] == email, f"user: {s} {b[:200]!r}")
    return email, tok
