#!/usr/bin/env python3
"""tests/web/test_web.py - the web server in front of ums, whichever it is
(UMS_SERVER: nginx, apache, apache-fcgid), over raw sockets: what a real
client sends, and what a hostile one does.

    smoke     health, sign-up, sign-in, GET /user, forward auth, OAuth with both
              stand-ins, a 413, a CORS
              preflight (every server mode, and over HTTPS with --https)
    tls       (with --https) TLS 1.2 and 1.3 only, Mozilla intermediate
              ciphers, HTTP/2 by ALPN, HSTS on HTTPS and not on HTTP
    cron      (no notifier daemon) two overlapping ums-notifier --once runs,
              the crontab line of shared hosting, send each mail once
    hostile   chunked bodies without Content-Length, Content-Length with
              Transfer-Encoding, bodies longer and shorter than their
              Content-Length, encoded slashes and dots, a 16 KiB header,
              200 headers, a client sending a byte a second, a spoofed
              X-Forwarded-For, an unknown Host
    logs      every access log line is JSON, whatever the User-Agent or path

Usage: test_web.py [--https] [GROUP...]   (default: smoke hostile logs)
Run by scripts/check with .stack/env in the environment. Prints
"ok   group/name" or "FAIL group/name" and "N passed, N failed". Every
socket has a timeout; nothing waits unbounded.
"""
import json
import warnings
import os
import random
import socket
import ssl
import sys
import threading
import time
import urllib.parse

warnings.filterwarnings("ignore", category=DeprecationWarning)


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Fail, check, env, mails_to, run  # noqa: E402


SERVER = env("UMS_SERVER")
USE_HTTPS = "--https" in sys.argv
BASE = env("UMS_HTTPS_URL") if USE_HTTPS else env("UMS_URL")
_u = urllib.parse.urlsplit(BASE)
HOST, PORT = _u.hostname, _u.port
TLS = None
if USE_HTTPS:
    TLS = ssl.create_default_context(cafile=env("UMS_CA_FILE"))
    TLS.set_alpn_protocols(["http/1.1"])


def src():
    """A loopback source address of its own: no per-IP bucket is shared."""
    return f"127.{random.randint(60, 99)}.{random.randint(1, 250)}.{random.randint(1, 250)}"


def connect(source=None, timeout=10):
    s = socket.create_connection((HOST, PORT), timeout=timeout,
                                 source_address=(source or src(), 0))
    if TLS is not None:
        s = TLS.wrap_socket(s, server_hostname="localhost")
    return s


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise Fail(f"not JSON ({e}): {self.body[:200]!r}")


def read_resp(s, deadline=15):
    """One response from s (Content-Length or chunked or to the close)."""
    s.settimeout(deadline)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            if not buf:
                return None
            raise Fail(f"connection closed inside the headers: {buf[:200]!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status in (204, 304) or headers.get("content-length") == "0":
        return Resp(status, headers, b"")
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return Resp(status, headers, rest[:n])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += s.recv(65536)
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += s.recv(65536)
            body, rest = body + rest[:size], rest[size + 2:]
            if size == 0:
                return Resp(status, headers, body)
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return Resp(status, headers, rest)
        rest += chunk


def request(method, path, headers=None, body=b"", source=None, host="localhost"):
    h = {"Host": host, "Connection": "close", "User-Agent": "ums-test-web"}
    if body:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    raw = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items() if v is not None)
    s = connect(source)
    try:
        s.sendall(raw.encode("latin-1") + b"\r\n" + body)
        r = read_resp(s)
        check(r is not None, f"{method} {path}: no answer")
        return r
    finally:
        s.close()


def raw_exchange(data, source=None, half_close=False, deadline=15):
    s = connect(source)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return read_resp(s, deadline)
    finally:
        s.close()


def json_error(r, status, code=None):
    check(r.status == status, f"status {r.status}, want {status}: {r.body[:200]!r}")
    j = r.json()
    got = j.get("error_code") or j.get("code")
    if code is not None:
        check(got == code, f"code {got!r}, want {code!r}: {j}")
    return j


TESTS = []


def test(group):
    def wrap(fn):
        TESTS.append((group, fn))
        return fn
    return wrap


def signup():
    email = f"web-{random.getrandbits(40):x}@example.com"
    body = json.dumps({"email": email, "password": "correct horse battery"}).encode()
    r = request("POST", "/auth/v1/signup", {"Content-Type": "application/json"}, body)
    check(r.status == 200, f"signup: {r.status} {r.body[:200]!r}")
    return email, r.json()["access_token"]


# ---- smoke ----------------------------------------------------------------

@test("smoke")
def health():
    r = request("GET", "/healthz")
    check(r.status == 200 and r.json() == {"status": "ok"}, f"{r.status} {r.body!r}")


@test("smoke")
def signup_signin_user():
    email, tok = signup()
    body = json.dumps({"email": email, "password": "correct horse battery"}).encode()
    r = request("POST", "/auth/v1/token?grant_type=password", {"Content-Type": "application/json"}, body)
    check(r.status == 200, f"sign-in: {r.status} {r.body[:200]!r}")
    tok = r.json()["access_token"]
    r = request("GET", "/auth/v1/user", {"Authorization": f"Bearer {tok}"})
    check(r.status == 200 and r.json().get("email") == email, f"user: {r.status} {r.body[:200]!r}")
    check(r.header("cache-control") == "no-store", f"personal answer cached: {r.headers}")


@test("smoke")
def forward_auth():
    r = request("GET", "/protected/index.json")
    json_error(r, 401, "no_authorization")
    r = request("GET", "/protected/index.json", {"Authorization": "Bearer not-a-token"})
    json_error(r, 401)
    _, tok = signup()
    r = request("GET", "/protected/index.json", {"Authorization": f"Bearer {tok}"})
    check(r.status == 200 and r.json() == {"secret": "only for signed-in users"}, f"{r.status} {r.body!r}")


@test("smoke")
def forward_auth_one_role():
    import subprocess
    email = f"web-admin-{random.getrandbits(40):x}@example.com"
    r = subprocess.run([os.path.join(env("UMS_BUILD_DIR"), "cli", "umsctl"), "user", "add", "--email",
                        email, "--password-file", "-", "--role", "admin"],
                       input=b"an admin password\n", capture_output=True, timeout=30)
    check(r.returncode == 0, f"umsctl user add: {r.stderr[-300:]!r}")
    body = json.dumps({"email": email, "password": "an admin password"}).encode()
    r = request("POST", "/auth/v1/token?grant_type=password", {"Content-Type": "application/json"}, body)
    check(r.status == 200, f"admin sign-in: {r.status} {r.body[:200]!r}")
    admin = r.json()["access_token"]
    _, user = signup()
    json_error(request("GET", "/protected-admin/index.json"), 401)
    json_error(request("GET", "/protected-admin/index.json", {"Authorization": f"Bearer {user}"}), 403)
    r = request("GET", "/protected-admin/index.json", {"Authorization": f"Bearer {admin}"})
    check(r.status == 200 and r.json() == {"secret": "only for signed-in users"}, f"{r.status} {r.body!r}")


@test("smoke")
def shared_hosting_files_are_not_served():
    # Under mod_fcgid the web root holds ums.fcgi, its ums.conf and the
    # .htaccess: none of them is ever sent (elsewhere they do not exist).
    for path in ("/ums.conf", "/ums.fcgi", "/.htaccess", "/ums.conf%00", "/UMS.CONF"):
        r = request("GET", path)
        check(r.status in (400, 403, 404), f"{path}: status {r.status}")
        check(b"[server]" not in r.body and b"ELF" not in r.body and b"Rewrite" not in r.body,
              f"{path}: {r.body[:100]!r}")
        r.json()


def provider_hop(url):
    """GET url at a provider stand-in (Google's speaks HTTPS with the
    stack's CA): its 302's Location."""
    import http.client
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port, timeout=10,
                                        context=ssl.create_default_context(cafile=env("UMS_CA_FILE")))
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.request("GET", u.path + "?" + u.query)
        r = c.getresponse()
        r.read()
        check(r.status == 302, f"{url}: {r.status}")
        return r.getheader("Location")
    finally:
        c.close()


@test("smoke")
def oauth_sign_in_both_providers():
    """The OAuth flow end to end through the web server: /authorize, the
    stand-in's consent, /callback, grant_type=pkce."""
    import base64
    import hashlib
    for provider, hint in (("github", "login"), ("google", "login_hint")):
        who = f"web{random.getrandbits(32):x}"
        user = who if provider == "github" else f"{who}@gmail.example"
        verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        app = "http://localhost:3000/done"
        q = urllib.parse.urlencode({"provider": provider, "redirect_to": app, "code_challenge": challenge,
                                    "code_challenge_method": "s256", hint: user})
        r = request("GET", f"/auth/v1/authorize?{q}")
        check(r.status == 302, f"{provider} authorize: {r.status} {r.body[:200]!r}")
        back = urllib.parse.urlsplit(provider_hop(r.header("location")))
        check(back.path == "/auth/v1/callback", f"{provider}: the stand-in went to {back}")
        r = request("GET", f"{back.path}?{back.query}")
        check(r.status == 302, f"{provider} callback: {r.status} {r.body[:200]!r}")
        loc = r.header("location")
        check(loc.startswith(app + "?code="), f"{provider}: back to {loc}")
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["code"][0]
        body = json.dumps({"auth_code": code, "code_verifier": verifier}).encode()
        r = request("POST", "/auth/v1/token?grant_type=pkce", {"Content-Type": "application/json"}, body)
        check(r.status == 200, f"{provider} pkce: {r.status} {r.body[:200]!r}")
        j = r.json()
        check(j["user"]["app_metadata"]["provider"] == provider and j.get("provider_token"), f"{provider}: {j}")


@test("smoke")
def body_too_large():
    r = request("POST", "/auth/v1/signup", {"Content-Type": "application/json"}, b"x" * (2 << 20))
    json_error(r, 413, "request_too_large")


@test("smoke")
def cors_preflight():
    h = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    r = request("OPTIONS", "/auth/v1/token", h)
    check(r.status == 204, f"status {r.status}")
    check(r.header("access-control-allow-origin") == "http://localhost:3000", f"{r.headers}")
    check("POST" in (r.header("access-control-allow-methods") or ""), f"{r.headers}")
    check("Origin" in (r.header("vary") or ""), f"no Vary: {r.headers}")
    r = request("OPTIONS", "/auth/v1/token", {"Origin": "http://evil.example"})
    check(r.header("access-control-allow-origin") is None, f"evil origin allowed: {r.headers}")
    # Prefix tricks are not in the list either.
    r = request("GET", "/auth/v1/settings", {"Origin": "http://localhost:3000.evil.example"})
    check(r.status == 200 and r.header("access-control-allow-origin") is None, f"{r.headers}")


# ---- hostile ---------------------------------------------------------------

def chunked(body, size=7):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


@test("hostile")
def chunked_body_without_length():
    # A wrong password for an unknown email: the body must reach ums whole
    # for it to answer invalid_credentials (not bad_json, not a hang, not 500).
    body = json.dumps({"email": "nobody-chunked@example.com", "password": "x" * 12}).encode()
    data = (b"POST /auth/v1/token?grant_type=password HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + chunked(body))
    r = raw_exchange(data)
    check(r is not None, "no answer")
    json_error(r, 400, "invalid_credentials")


@test("hostile")
def chunked_body_over_the_cap():
    data = (b"POST /auth/v1/signup HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + chunked(b"x" * (1200 * 1024), 64 * 1024))
    try:
        r = raw_exchange(data)
    except (BrokenPipeError, ConnectionResetError):
        return  # refused while the body was still being sent: fine
    check(r is not None, "no answer")
    json_error(r, 413, "request_too_large")


@test("hostile")
def content_length_with_transfer_encoding():
    # A request smuggling probe: the body, read as Content-Length 4, would
    # leave "GET /admin..." as a second request on the connection.
    smuggled = b"0\r\n\r\nGET /api/v1/users HTTP/1.1\r\nHost: localhost\r\n\r\n"
    data = (b"POST /auth/v1/logout HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + smuggled)
    s = connect()
    try:
        s.sendall(data)
        first = read_resp(s)
        check(first is not None, "no answer")
        check(first.status in (400, 401), f"status {first.status}: {first.body[:200]!r}")
        first.json()
        # Whatever the server did, a second answer must not be the
        # smuggled request's (the user list).
        try:
            second = read_resp(s, 3)
        except (socket.timeout, ConnectionResetError, Fail):
            second = None
        if second is not None:
            check(b'"users"' not in second.body, "smuggled request answered")
    finally:
        s.close()


@test("hostile")
def body_longer_than_content_length():
    body = b'{"email":"a@b.c","password":"xxxxxxxx"}'
    extra = b"GARBAGE-NOT-A-REQUEST\r\n\r\n"
    data = (b"POST /auth/v1/token?grant_type=password HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n" + body + extra)
    s = connect()
    try:
        s.sendall(data)
        r = read_resp(s)
        check(r is not None, "no answer")
        json_error(r, 400, "invalid_credentials")
    finally:
        s.close()


@test("hostile")
def body_shorter_than_content_length():
    data = (b"POST /auth/v1/token?grant_type=password HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
    t0 = time.time()
    try:
        r = raw_exchange(data, half_close=True, deadline=40)
    except (ConnectionResetError, socket.timeout):
        r = None
    check(time.time() - t0 < 40, "the server hung")
    # The client went away: no answer, or a 4xx; never a 5xx, never an
    # answer as if the body were complete. (mod_fcgid 2.3.9 reads the body
    # before it passes the request on and answers any read error with 500:
    # to a client that has hung up, and ums never sees the request.)
    if r is not None:
        fcgid_500 = SERVER == "apache-fcgid" and r.status == 500 and b"request_id" not in r.body
        check(400 <= r.status < 500 or fcgid_500, f"status {r.status}: {r.body[:200]!r}")


@test("hostile")
def encoded_slashes_and_dots():
    _, tok = signup()
    for path in ("/api/v1/users/..%2f..%2fadmin", "/api/v1/users/%2e%2e/%2e%2e/admin",
                 "/api/v1/users/me%2f..%2f..", "/auth/v1/%2e%2e/%2e%2e/api/v1/users"):
        r = request("GET", path, {"Authorization": f"Bearer {tok}"})
        check(r.status in (400, 404), f"{path}: status {r.status}: {r.body[:200]!r}")
        r.json()


@test("hostile")
def header_16k():
    r = request("GET", "/auth/v1/user", {"Authorization": "Bearer " + "a" * (16 * 1024)})
    json_error(r, 431, "request_header_too_large")


@test("hostile")
def two_hundred_headers():
    h = {f"X-Filler-{i}": "v" for i in range(200)}
    r = request("GET", "/healthz", h)
    check(r.status in (200, 400, 431), f"status {r.status}")
    if r.status != 200:
        r.json()


@test("hostile")
def slow_client_is_cut_off_others_served():
    s = connect(timeout=60)
    stop = time.time() + 45
    closed_at = None
    line = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 100
    try:
        i = 0
        while time.time() < stop:
            try:
                s.sendall(line[i % len(line):i % len(line) + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.time()
                break
            i += 1
            # Meanwhile, another client is served at once.
            if i == 3:
                t0 = time.time()
                r = request("GET", "/healthz")
                check(r.status == 200 and time.time() - t0 < 2, "another client waited")
            s.settimeout(1)
            try:
                got = s.recv(4096)
                if got == b"" or got.startswith(b"HTTP/1.1 408") or got.startswith(b"HTTP/1.1 400"):
                    closed_at = time.time()
                    break
            except socket.timeout:
                pass
    finally:
        s.close()
    check(closed_at is not None, "a client sending a byte a second was never cut off (45 s)")


@test("hostile")
def spoofed_forwarded_for_does_not_escape_the_limit():
    source = src()
    codes = []
    body = json.dumps({"email": "nobody-xff@example.com", "password": "x" * 12}).encode()
    for i in range(60):
        r = request("POST", "/auth/v1/token?grant_type=password",
                    {"Content-Type": "application/json", "X-Forwarded-For": f"10.0.{i}.1",
                     "X-Real-IP": f"10.1.{i}.1"}, body, source=source)
        codes.append(r.status)
        if r.status == 429:
            json_error(r, 429)
            break
    check(429 in codes, f"60 credential requests from one peer with 60 X-Forwarded-For: {codes}")


@test("hostile")
def unknown_host():
    r = request("GET", "/healthz", host="evil.example")
    check(r.status in (200, 404, 421), f"status {r.status}")
    r.json()
    r = request("GET", "/auth/v1/settings", host="a" * 300 + ".example")
    check(r.status in (200, 400, 404, 421), f"status {r.status}")
    r.json()


# ---- tls (with --https) -----------------------------------------------------

def handshake(ctx):
    s = socket.create_connection((HOST, PORT), timeout=10)
    try:
        t = ctx.wrap_socket(s, server_hostname="localhost")
        v, alpn = t.version(), t.selected_alpn_protocol()
        t.close()
        return v, alpn
    except (ssl.SSLError, ConnectionResetError):
        s.close()
        return None, None


def client_ctx(minv, maxv, ciphers=None):
    ctx = ssl.create_default_context(cafile=env("UMS_CA_FILE"))
    # Security level 0: this client offers what the server must refuse.
    ctx.set_ciphers(ciphers or "DEFAULT:@SECLEVEL=0")
    ctx.minimum_version, ctx.maximum_version = minv, maxv
    return ctx


@test("tls")
def tls12_and_13_only():
    check(USE_HTTPS, "run with --https")
    v, _ = handshake(client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
    check(v == "TLSv1.2", f"TLS 1.2: {v}")
    v, _ = handshake(client_ctx(ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    check(v == "TLSv1.3", f"TLS 1.3: {v}")
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        v, _ = handshake(client_ctx(old, old))
        check(v is None, f"{old.name} accepted")


@test("tls")
def weak_ciphers_refused():
    check(USE_HTTPS, "run with --https")
    for c in ("AES128-SHA:@SECLEVEL=0", "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0",
              "AES256-GCM-SHA384:@SECLEVEL=0"):
        v, _ = handshake(client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, c))
        check(v is None, f"cipher {c} accepted")
    v, _ = handshake(client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2,
                                "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"))
    check(v == "TLSv1.2", "an intermediate cipher refused")


@test("tls")
def http2_offered():
    check(USE_HTTPS, "run with --https")
    ctx = ssl.create_default_context(cafile=env("UMS_CA_FILE"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    _, alpn = handshake(ctx)
    check(alpn == "h2", f"ALPN chose {alpn}")


@test("tls")
def hsts_on_https_only():
    check(USE_HTTPS, "run with --https")
    for path in ("/healthz", "/auth/v1/settings", "/nope"):
        r = request("GET", path)
        hsts = r.header("strict-transport-security") or ""
        check(hsts.startswith("max-age=") and int(hsts[8:].split(";")[0]) >= 31536000,
              f"{path}: HSTS {hsts!r}")
    plain = urllib.parse.urlsplit(env("UMS_URL"))
    s = socket.create_connection((plain.hostname, plain.port), timeout=10)
    try:
        s.sendall(b"GET /auth/v1/settings HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        r = read_resp(s)
    finally:
        s.close()
    check(r.header("strict-transport-security") is None, "HSTS on plain HTTP")


# ---- cron (shared hosting: no notifier daemon) --------------------------------

def notifier_running():
    pidf = os.path.join(env("UMS_STACK"), "run", "ums-notifier.pid")
    try:
        pid = int(open(pidf).read().split()[0])
        return open(f"/proc/{pid}/comm").read().strip() == "ums-notifier"
    except (OSError, ValueError, IndexError):
        return False




@test("cron")
def overlapping_cron_runs_send_once():
    import subprocess
    check(not notifier_running(), "a notifier daemon runs: this is the no-daemon layout")
    cmd = [os.path.join(env("UMS_BUILD_DIR"), "notifier", "ums-notifier"), "--config",
           env("UMS_CONFIG"), "--once"]
    emails = []
    for _ in range(8):
        email, _ = signup()
        emails.append(email)
    time.sleep(0.5)
    check(all(mails_to(e) == 0 for e in emails), "mail went out with no notifier running")
    # The crontab line, twice at once, as two overlapping cron minutes.
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    rcs = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            raise Fail("a cron run did not finish in 60 s")
        rcs.append((p.returncode, err[-300:]))
    check(all(rc == 0 for rc, _ in rcs), f"exit statuses {rcs}")
    counts = [mails_to(e) for e in emails]
    check(counts == [1] * len(emails), f"mails per new user after two overlapping runs: {counts}")
    # A later run finds nothing due and sends nothing again.
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    check(r.returncode == 0, f"third run exited {r.returncode}")
    counts = [mails_to(e) for e in emails]
    check(counts == [1] * len(emails), f"after a third run: {counts}")


# ---- logs ------------------------------------------------------------------

@test("logs")
def access_log_lines_are_json():
    log = env("UMS_ACCESS_LOG")
    uas = [b'q"uote', b"back\\slash", b"tab\there", b"bad\xff\xfebytes", b"\xc3\xa9t\xc3\xa9",
           b"\xed\xa0\x80surrogate", b"\xc0\xafoverlong", b"ctl\x01\x1f\x7f"]
    paths = [b"/auth/v1/%ff%fe", b"/api/v1/users/%c3%a9", b'/auth/v1/"quoted"', b"/auth/v1/%00"]
    for ua in uas:
        try:
            raw_exchange(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nUser-Agent: " + ua
                         + b"\r\nConnection: close\r\n\r\n")
        except (ConnectionResetError, Fail):
            pass
    for p in paths:
        try:
            raw_exchange(b"GET " + p + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        except (ConnectionResetError, Fail):
            pass
    time.sleep(1.5)  # Apache's piped logger writes a moment later
    with open(log, "rb") as f:
        lines = f.read().splitlines()[-200:]
    check(len(lines) >= len(uas) + len(paths), f"only {len(lines)} lines in {log}")
    seen_ua = 0
    for line in lines:
        try:
            o = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Fail(f"not JSON ({e}): {line[:300]!r}")
        for k in ("@timestamp", "http.request.id", "client.ip", "http.request.method", "url.path",
                  "http.response.status_code", "event.duration", "user_agent.original"):
            check(k in o, f"no {k}: {line[:300]!r}")
        if o["user_agent.original"] in ('q"uote', "back\\slash"):
            seen_ua += 1
    check(seen_ua >= 2, "the User-Agents with a quote and a backslash are not in the log as sent")


def main():
    groups = [a for a in sys.argv[1:] if not a.startswith("--")] or ["smoke", "hostile", "logs"]
    if USE_HTTPS and "logs" in groups:
        groups.remove("logs")
    return run([(f"{group}/{fn.__name__}", fn) for group, fn in TESTS if group in groups])


if __name__ == "__main__":
    sys.exit(main())
