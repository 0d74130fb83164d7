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


def sh(cmd, extra_env=None, timeout=300, ok=True):
    """Runs cmd with extra_env added to the environment; with ok, a non-zero
    exit is a Fail showing the end of its output."""
    import subprocess
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(extra_env or {})))
    if ok:
        check(r.returncode == 0,
              f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout[-800:]}{r.stderr[-800:]}")
    return r


def file_size(path):
    return os.path.getsize(path)


def text_since(path, offset):
    """What path holds past offset (a log written meanwhile)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def mails_to(addr):
    """How many messages in the stack's Maildir name addr."""
    d = os.path.join(env("UMS_MAILDIR"), "new")
    n = 0
    for name in os.listdir(d):
        try:
            with open(os.path.join(d, name), "rb") as f:
                n += addr.encode() in f.read()
        except OSError:
            pass
    return n


def fcgi_request(sock_path, method, path, body=None, headers=None, remote_addr="127.0.0.1",
                 timeout=15):
    """One FastCGI RESPONDER request straight to a pool's socket, as the web
    server would send it (a JSON body; headers as HTTP names): (status,
    headers dict with lower-case names, body bytes)."""
    import socket
    import struct
    data = json.dumps(body).encode() if body is not None else b""
    params = {"REQUEST_METHOD": method, "REQUEST_URI": path, "REMOTE_ADDR": remote_addr,
              "CONTENT_LENGTH": str(len(data)), "SERVER_PROTOCOL": "HTTP/1.1"}
    if body is not None:
        params["CONTENT_TYPE"] = "application/json"
    for k, v in (headers or {}).items():
        name = k.upper().replace("-", "_")
        params[name if name == "CONTENT_TYPE" else "HTTP_" + name] = v

    def record(kind, content):
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair_len(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    enc = b"".join(pair_len(len(k.encode())) + pair_len(len(v.encode())) + k.encode() + v.encode()
                   for k, v in params.items())
    msg = record(1, struct.pack(">HB5x", 1, 0)) + record(4, enc) + record(4, b"")
    for i in range(0, len(data), 65535):
        msg += record(5, data[i:i + 65535])
    msg += record(5, b"")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(msg)
        out, buf = b"", b""
        while True:
            while len(buf) < 8:
                chunk = s.recv(65536)
                if not chunk:
                    raise Fail("the pool closed the FastCGI connection mid-response")
                buf += chunk
            _, kind, _, clen, plen = struct.unpack(">BBHHB", buf[:7])
            while len(buf) < 8 + clen + plen:
                chunk = s.recv(65536)
                if not chunk:
                    raise Fail("the pool closed the FastCGI connection mid-record")
                buf += chunk
            content, buf = buf[8:8 + clen], buf[8 + clen + plen:]
            if kind == 6:
                out += content
            elif kind == 3:
                break
    finally:
        s.close()
    head, _, rbody = out.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode(errors="replace").split("\r\n"):
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    status = int(hdrs.get("status", "200").split()[0])
    return status, hdrs, rbody
