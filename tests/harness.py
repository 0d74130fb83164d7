"""tests/harness.py - what the Python suites (tests/web, tests/prom,
tests/logs) share: a failure, a check, the stack's environment, and the
run that prints "ok   group/name" or "FAIL group/name" and the closing
"N passed, N failed" that scripts/check counts."""
import http.client
import json
import os
import sys
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
