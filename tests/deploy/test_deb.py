#!/usr/bin/env python3
"""tests/deploy/test_deb.py - the Debian package on this machine, as root.

Builds ums_*.deb with dpkg-buildpackage from a copy of the checkout, runs
lintian, installs the package with apt-get, points /etc/ums/ums.conf at the
stack's PostgreSQL (a database of its own, ums_pkg) and Redis (db 3), runs
`umsctl migrate`, starts the daemons, passes a smoke set through an nginx
that includes the installed /usr/share/ums/nginx files, rotates the log,
then purges the package and checks that nothing of it is left running and
no file of it is left.

The daemons start the way the installed units say. Where systemd is PID 1,
systemctl starts ums-fcgi.socket and ums-notifier.service. Where it is not
(a container, CI, this machine), the test reads the units and does what
systemd would: the [Socket]'s ListenStream through systemd-socket-activate
(the first connection execs ums-fcgi with LISTEN_FDS=1, as socket
activation does), the [Service]'s User, Group, UMask and ExecStart, the
socket's owner and mode. What it cannot do without systemd is the
sandboxing (ProtectSystem= and the others); for those, `systemd-analyze
verify` and `systemd-analyze security --offline` check the units, and the
daemons run under strace so that every system call they make is checked
against the unit's SystemCallFilter.

Needs root, the stack (scripts/up) and Debian's debhelper, lintian,
logrotate and strace (scripts/check installs them)."""
import configparser
import glob
import json
import os
import pwd
import grp
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Fail, check, env, request, run_steps, signup_signin, wait_for  # noqa: E402

ROOT = env("UMS_ROOT")
STACK = env("UMS_STACK")
PORT = int(env("UMS_HTTP_PORT")) + 1021
BASE = f"http://127.0.0.1:{PORT}"
WORK = "/tmp/ums-deb-test"
UNITS = ["ums-fcgi.socket", "ums-fcgi.service", "ums-notifier.service",
         "ums-notifier-once.service", "ums-notifier-once.timer"]
SERVICES = ["ums-fcgi.service", "ums-notifier.service", "ums-notifier-once.service"]
PG_DB = "ums_pkg"
REDIS_DB = "3"
SYSTEMD = os.path.isdir("/run/systemd/system")

# The package's programs run as an operator's would: no UMS_CONFIG or other
# UMS_* variable of the stack's environment (they would override ums.conf).
PKGENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
          "DEBIAN_FRONTEND": "noninteractive"}

state = {"deb": None, "procs": [], "nginx": False, "traces": []}


def sh(cmd, timeout=120, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if ok and r.returncode != 0:
        raise Fail(f"{cmd if isinstance(cmd, str) else ' '.join(cmd)}: exit {r.returncode}\n"
                   f"{(r.stdout + r.stderr)[-1500:]}")
    return r


def unit(name):
    p = configparser.ConfigParser(strict=False, interpolation=None,
                                  comment_prefixes=("#", ";"))
    p.optionxform = str
    with open(f"/lib/systemd/system/{name}") as f:
        p.read_file(f)
    return p


def owner(path):
    st = os.stat(path)
    return (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name,
            stat.S_IMODE(st.st_mode))


def ums_pids():
    """Every running process whose program is one of the package's."""
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            exe = os.readlink(f"{d}/exe")
        except OSError:
            continue
        if exe.startswith(("/usr/sbin/ums-", "/usr/bin/umsctl")):
            pids.append((int(d[6:]), exe))
    return pids


# ---- the package ----------------------------------------------------------

def build():
    shutil.rmtree(WORK, ignore_errors=True)
    src = f"{WORK}/ums-src"
    os.makedirs(src)
    files = sh(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard", "-z"]).stdout
    for f in filter(None, files.split("\0")):
        if not os.path.lexists(os.path.join(ROOT, f)):
            continue  # deleted in the work tree, not yet in the index
        os.makedirs(os.path.dirname(os.path.join(src, f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(src, f), follow_symlinks=False)
    t0 = time.time()
    # make check already ran in scripts/check (unit tests, distcheck).
    r = sh(["dpkg-buildpackage", "-us", "-uc", "-b"], timeout=900, ok=False, cwd=src,
           env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
    with open(f"{WORK}/build.log", "w") as f:
        f.write(r.stdout + r.stderr)
    check(r.returncode == 0, f"dpkg-buildpackage: exit {r.returncode}\n{(r.stdout + r.stderr)[-1500:]}")
    debs = glob.glob(f"{WORK}/ums_*_*.deb")
    check(len(debs) == 1, f"built: {debs}")
    state["deb"] = debs[0]
    print(f"    built {os.path.basename(debs[0])} in {time.time() - t0:.0f} s")
    listing = sh(["dpkg-deb", "-c", debs[0]]).stdout
    for path in ["./usr/sbin/ums-fcgi", "./usr/sbin/ums-notifier", "./usr/bin/umsctl",
                 "./usr/share/ums/sql/001_core.sql", "./usr/share/ums/templates/welcome.txt",
                 "./usr/share/ums/nginx/ums-locations.conf", "./usr/share/ums/apache/ums-httpd.conf",
                 "./usr/share/ums/nginx/snippets/web.conf", "./usr/share/ums/apache/snippets/web.conf",
                 "./usr/share/ums/web/account/index.html", "./usr/share/ums/web/admin/admin.js",
                 "./usr/share/ums/web/lib/api.js",
                 "./etc/ums/ums.conf", "./etc/logrotate.d/ums", "./usr/lib/tmpfiles.d/ums.conf"] + \
            [f"./lib/systemd/system/{u}" for u in UNITS]:
        check(re.search(rf" {re.escape(path)}$", listing, re.M), f"{path} is not in the package")
    # Every file of web/ (Makefile.am lists them by name).
    for d, _, files in os.walk(f"{ROOT}/web"):
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), ROOT)
            check(re.search(rf" \./usr/share/ums/{re.escape(rel)}$", listing, re.M),
                  f"{rel} is not in the package (Makefile.am)")
    m = re.search(r"^(\S+) \S+ +\d+ \S+ \S+ \./etc/ums/ums\.conf$", listing, re.M)
    check(m and m.group(1) == "-rw-r-----", f"ums.conf in the package: {m and m.group(1)}")
    info = sh(["dpkg-deb", "-I", debs[0]]).stdout
    for dep in ["adduser", "libfcgi0ldbl", "libpq5", "libhiredis0.14"]:
        check(re.search(rf"Depends:.*\b{re.escape(dep)}\b", info), f"Depends lacks {dep}:\n{info}")


def lintian():
    r = sh(["lintian", "--tag-display-limit", "0", state["deb"]], timeout=300, ok=False)
    out = [ln for ln in (r.stdout + r.stderr).splitlines() if re.match(r"^[EWIX]: ", ln)]
    errors = [ln for ln in out if ln.startswith("E: ")]
    check(not errors, "lintian errors:\n" + "\n".join(errors))
    print(f"    lintian: 0 errors, {sum(1 for ln in out if ln.startswith('W: '))} warnings")


def install():
    check(not os.path.exists("/usr/sbin/ums-fcgi"), "ums is installed already")
    sh(["apt-get", "install", "-y", "-q", "--no-install-recommends", state["deb"]], timeout=300,
       env=PKGENV)
    u = pwd.getpwnam("ums")
    check(u.pw_uid < 1000 and u.pw_shell in ("/usr/sbin/nologin", "/bin/false"),
          f"ums is not a system user: {u}")
    for d, mode in [("/var/lib/ums", 0o755), ("/var/lib/ums/avatars", 0o755),
                    ("/var/lib/ums/maildir", 0o750), ("/var/lib/ums/push", 0o750)]:
        check(owner(d) == ("ums", "ums", mode), f"{d} {owner(d)}")
    check(owner("/var/log/ums")[:1] == ("ums",) and owner("/var/log/ums")[2] == 0o750,
          f"/var/log/ums {owner('/var/log/ums')}")
    check(owner("/run/ums")[:2] == ("ums", "ums"), f"/run/ums {owner('/run/ums')}")
    conffiles = sh(["dpkg-query", "-W", "-f", "${Conffiles}", "ums"]).stdout
    for f in ["/etc/ums/ums.conf", "/etc/logrotate.d/ums", "/etc/ums/ums.conf.example"]:
        check(f in conffiles, f"{f} is not a conffile: {conffiles}")


def secrets():
    check(owner("/etc/ums/ums.conf") == ("root", "ums", 0o640),
          f"/etc/ums/ums.conf {owner('/etc/ums/ums.conf')}")
    values = []
    for f in ["/etc/ums/secrets/refresh_token_secret", "/etc/ums/secrets/service_key"]:
        check(owner(f) == ("root", "ums", 0o640), f"{f} {owner(f)}")
        v = open(f).read()
        check(re.fullmatch(r"[0-9a-f]{64}", v), f"{f} is not 32 random bytes in hex")
        values.append(v)
    check(values[0] != values[1], "the two secrets are the same")
    check(owner("/etc/ums/keys/jwt-private.pem") == ("root", "ums", 0o640),
          f"jwt-private.pem {owner('/etc/ums/keys/jwt-private.pem')}")
    check(open("/etc/ums/keys/jwt-private.pem").read().startswith("-----BEGIN PRIVATE KEY-----"),
          "jwt-private.pem is not a PEM private key")
    conf = open("/etc/ums/ums.conf").read()
    for line in ["refresh_token_secret_file = /etc/ums/secrets/refresh_token_secret",
                 "service_key_file = /etc/ums/secrets/service_key",
                 "jwt_private_key_file = /etc/ums/keys/jwt-private.pem"]:
        check(re.search(rf"^{re.escape(line)}$", conf, re.M), f"ums.conf lacks {line!r}")
    check(values[0] not in conf and values[1] not in conf, "a secret is in ums.conf itself")
    # The stack's nginx and Apache users must not read them.
    r = sh(["runuser", "-u", "www-data", "--", "cat", "/etc/ums/secrets/service_key"], ok=False)
    check(r.returncode != 0, "www-data reads the service key")


def units_verify():
    r = sh(["systemd-analyze", "verify"] + [f"/lib/systemd/system/{u}" for u in UNITS], ok=False)
    out = (r.stdout + r.stderr).strip()
    check(r.returncode == 0 and out == "", f"systemd-analyze verify: exit {r.returncode}\n{out}")


def units_security():
    scores = {}
    for s in SERVICES:
        r = sh(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                f"/lib/systemd/system/{s}"], ok=False)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
        check(m, f"no score for {s}: {r.stdout[-500:]}{r.stderr[-500:]}")
        scores[s] = (float(m.group(1)), m.group(2))
    print("    systemd-analyze security: " +
          ", ".join(f"{s} {v[0]} {v[1]}" for s, v in scores.items()))
    for s, (score, word) in scores.items():
        check(score <= 2.0, f"{s}: exposure {score} {word}, want at most 2.0")
    for s in SERVICES:
        sv = unit(s)["Service"]
        for key in ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp",
                    "RestrictAddressFamilies", "SystemCallFilter", "ReadWritePaths", "User"]:
            check(key in sv, f"{s} has no {key}=")
        check(sv["ProtectSystem"] == "strict", f"{s}: ProtectSystem={sv['ProtectSystem']}")
        check(sv["User"] == "ums", f"{s}: User={sv['User']}")
    check(unit("ums-fcgi.service")["Service"].get("Restart") == "on-failure",
          "ums-fcgi.service has no Restart=on-failure")
    # For deb/syscalls, after the purge. ConfigParser keeps only the last
    # SystemCallFilter= of a unit: read them all.
    for s in ["ums-fcgi.service", "ums-notifier.service"]:
        state.setdefault("filters", {})[s] = [
            ln.rstrip("\n").split("=", 1)[1] for ln in open(f"/lib/systemd/system/{s}")
            if ln.startswith("SystemCallFilter=")]
        check(unit(s)["Service"].get("SystemCallErrorNumber") == "EPERM",
              f"{s}: SystemCallErrorNumber is not EPERM")


def logrotate_syntax():
    r = sh(["logrotate", "-d", "/etc/logrotate.d/ums"], ok=False)
    out = r.stdout + r.stderr
    check(r.returncode == 0 and "error" not in out.lower(), f"logrotate -d: {out[-800:]}")


# ---- running it -----------------------------------------------------------

def stack_secret(name):
    with open(f"{STACK}/secrets/{name}") as f:
        return f.read().strip()


def configure():
    db = urllib.parse.urlsplit(env("DATABASE_URL"))
    rd = urllib.parse.urlsplit(env("REDIS_URL"))
    su = stack_secret("pg_superuser_password")
    sql = (f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE);"
           f"CREATE DATABASE {PG_DB} OWNER ums ENCODING 'UTF8';")
    for stmt in sql.split(";")[:-1]:
        sh(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(db.port), "-U", "postgres",
            "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", stmt],
           env=dict(os.environ, PGPASSWORD=su))
    sh(["redis-cli", "-h", "127.0.0.1", "-p", str(rd.port), "--no-auth-warning",
        "-a", rd.password or "", "-n", REDIS_DB, "FLUSHDB"])
    # The passwords as the operator keeps them: files root:ums 0640.
    for name, value in [("pg_password", db.password), ("redis_password", rd.password)]:
        path = f"/etc/ums/secrets/{name}"
        with open(path, "w") as f:
            f.write(value + "\n")
        os.chown(path, 0, grp.getgrnam("ums").gr_gid)
        os.chmod(path, 0o640)
    conf = open("/etc/ums/ums.conf").read()
    edits = [
        (r"^url = .*$", f"url = postgresql://ums@127.0.0.1:{db.port}/{PG_DB}"),
        (r"^# password_file = /etc/ums/secrets/pg_password$",
         "password_file = /etc/ums/secrets/pg_password"),
        (r"^# port = 6379$", f"port = {rd.port}"),
        (r"^# password_file = /etc/ums/secrets/redis_password$",
         "password_file = /etc/ums/secrets/redis_password"),
        (r"^# db = 0$", f"db = {REDIS_DB}"),
        (r"^# workers = 4$", "workers = 2"),
        (r"^site_url = .*$", f"site_url = {BASE}"),
        (r"^external_url = .*$", f"external_url = {BASE}/auth/v1"),
    ]
    for pat, rep in edits:
        conf, n = re.subn(pat, rep, conf, count=1, flags=re.M)
        check(n == 1, f"ums.conf has no line {pat!r}")
    with open("/etc/ums/ums.conf", "w") as f:
        f.write(conf)
    check(owner("/etc/ums/ums.conf") == ("root", "ums", 0o640), "ums.conf mode changed")
    r = sh(["umsctl", "config", "check"], env=PKGENV, ok=False)
    check(r.returncode == 0, f"umsctl config check: {r.stdout}{r.stderr}")


def migrate():
    r = sh(["umsctl", "migrate", "--check"], env=PKGENV, timeout=120, ok=False)
    check(r.returncode == 1 and "pending" in r.stdout, f"migrate --check before: {r.returncode} {r.stdout}")
    r = sh(["umsctl", "migrate"], env=PKGENV, timeout=120, ok=False)
    check(r.returncode == 0, f"umsctl migrate: {r.stdout}{r.stderr}")
    r = sh(["umsctl", "migrate"], env=PKGENV, timeout=120, ok=False)
    check(r.returncode == 0 and "up to date" in r.stdout, f"a second umsctl migrate: {r.stdout}{r.stderr}")
    r = sh(["umsctl", "migrate", "--check"], env=PKGENV, timeout=120, ok=False)
    check(r.returncode == 0, f"migrate --check after: {r.returncode} {r.stdout}{r.stderr}")


def as_unit(service, extra=None):
    """The command line systemd would run for service, without systemd:
    its User, Group and UMask, then ExecStart, under strace -f."""
    sv = unit(service)["Service"]
    trace = f"{WORK}/strace-{service}"
    state["traces"].append((service, trace))
    umask = sv.get("UMask", "0022")
    cmd = ["strace", "-f", "-qq", "-o", trace, "setpriv", f"--reuid={sv['User']}",
           f"--regid={sv['Group']}", "--init-groups", "--no-new-privs", "--"]
    cmd += (extra or []) + sv["ExecStart"].split()
    return ["sh", "-c", f'umask {umask} && exec "$@"', "sh"] + cmd


def socket_refused():
    """Sockets from systemd that ums-fcgi cannot serve stop it at once."""
    for fds, fd3, want in [("2", "/dev/null", "takes exactly one socket"),
                           ("1", "/etc/ums/ums.conf.example", "not a listening stream socket")]:
        r = subprocess.run(["setpriv", "--reuid=ums", "--regid=ums", "--init-groups", "--", "sh", "-c",
                            f'LISTEN_PID=$$ LISTEN_FDS={fds} exec /usr/sbin/ums-fcgi 3<{fd3}'],
                           capture_output=True, text=True, timeout=30, env=PKGENV)
        check(r.returncode != 0, f"LISTEN_FDS={fds} with fd 3 {fd3}: exit 0")
        check(want in open("/var/log/ums/ums.log").read(), f"no {want!r} in ums.log")
    check(not os.path.exists("/run/ums/ums-fcgi.pid"), "a refused start left a pid file")


def start_daemons():
    if SYSTEMD:
        sh(["systemctl", "daemon-reload"])
        sh(["systemctl", "start", "ums-fcgi.socket", "ums-notifier.service"])
        return
    so = unit("ums-fcgi.socket")["Socket"]
    path = so["ListenStream"]
    check(not os.path.exists(path), f"{path} exists before the socket is made")
    log = open(f"{WORK}/daemons.log", "ab")
    p = subprocess.Popen(as_unit("ums-fcgi.service", ["systemd-socket-activate", "-l", path]),
                         stdout=log, stderr=log, start_new_session=True, env=PKGENV)
    state["procs"].append(p)
    wait_for("the socket", lambda: os.path.exists(path), 10)
    os.chown(path, pwd.getpwnam(so["SocketUser"]).pw_uid, grp.getgrnam(so["SocketGroup"]).gr_gid)
    os.chmod(path, int(so["SocketMode"], 8))
    p = subprocess.Popen(as_unit("ums-notifier.service"), stdout=log, stderr=log,
                         start_new_session=True, env=PKGENV)
    state["procs"].append(p)


def start_nginx():
    conf = f"{WORK}/nginx"
    check(not os.path.exists(f"{conf}/nginx.pid"), "an nginx of an earlier run is left")
    os.makedirs(f"{conf}/tmp", exist_ok=True)
    # As README says: the installed files linked as <conf>/ums, beside
    # Debian's fastcgi_params.
    for name, target in [("ums", "/usr/share/ums/nginx"), ("fastcgi_params", "/etc/nginx/fastcgi_params")]:
        if not os.path.lexists(f"{conf}/{name}"):
            os.symlink(target, f"{conf}/{name}")
    with open(f"{conf}/nginx.conf", "w") as f:
        f.write(f"""user www-data;
worker_processes 1;
pid {conf}/nginx.pid;
error_log {conf}/error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {conf}/tmp/body;
    fastcgi_temp_path {conf}/tmp/fastcgi;
    proxy_temp_path {conf}/tmp/proxy;
    uwsgi_temp_path {conf}/tmp/uwsgi;
    scgi_temp_path {conf}/tmp/scgi;
    include ums/ums-http.conf;
    include ums/ums-upstream.conf;
    server {{
        listen 127.0.0.1:{PORT};
        access_log {conf}/access.log ums_json;
        include ums/ums-locations.conf;
        location /account/ {{ include ums/snippets/web.conf; root /usr/share/ums/web; }}
        location /admin/ {{ include ums/snippets/web.conf; root /usr/share/ums/web; }}
        location /lib/ {{ include ums/snippets/web.conf; root /usr/share/ums/web; }}
        include ums/snippets/api-only.conf;
    }}
}}
""")
    sh(["nginx", "-t", "-q", "-p", conf, "-c", f"{conf}/nginx.conf"])
    sh(["nginx", "-p", conf, "-c", f"{conf}/nginx.conf"])
    state["nginx"] = True


def started():
    start_daemons()
    start_nginx()
    # The first request starts ums-fcgi (socket activation) and waits in
    # the backlog meanwhile: it must not fail.
    s, _, b = request(BASE, "GET", "/readyz", timeout=30)
    check(s == 200, f"/readyz: {s} {b[:200]!r}")
    pid = int(wait_for("ums-fcgi.pid", lambda: open("/run/ums/ums-fcgi.pid").read().strip()
                       if os.path.exists("/run/ums/ums-fcgi.pid") else None, 10))
    check(os.readlink(f"/proc/{pid}/exe") == "/usr/sbin/ums-fcgi", "the pid file names another program")
    uids = {ln.split()[1] for ln in open(f"/proc/{pid}/status") if ln.startswith("Uid:")}
    check(uids == {str(pwd.getpwnam("ums").pw_uid)}, f"the master runs as uid {uids}")
    check(owner("/run/ums/ums-fcgi.sock") == ("ums", "www-data", 0o660),
          f"the socket {owner('/run/ums/ums-fcgi.sock')}")
    wait_for("ums-notifier.pid", lambda: os.path.exists("/run/ums/ums-notifier.pid"), 15)
    # The health check with no web server in between (containers use it).
    r = sh(["umsctl", "ping"], env=PKGENV, ok=False)
    check(r.returncode == 0 and r.stdout.strip() == "/run/ums/ums-fcgi.sock /healthz: 200",
          f"umsctl ping: {r.returncode} {r.stdout}{r.stderr}")
    r = sh(["umsctl", "ping", "--path", "/no/such/route"], env=PKGENV, ok=False)
    check(r.returncode == 1 and r.stdout.strip().endswith(": 404"), f"umsctl ping a 404: {r.stdout}")


def maildir_count():
    return len(glob.glob("/var/lib/ums/maildir/new/*"))


def smoke():
    s, _, b = request(BASE, "GET", "/auth/v1/health")
    check(s == 200, f"health: {s} {b[:200]!r}")
    before = maildir_count()
    email, tok = signup_signin(BASE, "deb")
    s, _, b = request(BASE, "GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s == 200, f"users/me: {s} {b[:200]!r}")
    s, _, b = request(BASE, "POST", "/auth/v1/token?grant_type=password", {"email": email, "password": "wrong"})
    check(s == 400 and json.loads(b).get("error_code") == "invalid_credentials", f"bad password: {s} {b[:200]!r}")
    s, _, b = request(BASE, "POST", "/auth/v1/logout", headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s == 204, f"logout: {s} {b[:200]!r}")
    s, _, b = request(BASE, "GET", "/auth/v1/user", headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s == 403 and json.loads(b).get("error_code") == "session_not_found",
          f"user after logout: {s} {b[:200]!r}")
    # The welcome mail, sent by the notifier into the package's Maildir.
    wait_for("the sign-up mail", lambda: maildir_count() > before, 20)
    mails = sorted(glob.glob("/var/lib/ums/maildir/new/*"), key=os.path.getmtime)
    check(email in open(mails[-1], errors="replace").read(), "the newest mail is not for the new user")
    # The account pages and the admin panel, from the package's web/.
    for path, want in [("/account/", b"/account/account.js"), ("/admin/", b"/admin/admin.js"),
                       ("/lib/api.js", b"export")]:
        s, h, b = request(BASE, "GET", path)
        check(s == 200 and want in b, f"{path}: {s} {b[:200]!r}")
        check("script-src 'self'" in (h.get("Content-Security-Policy") or ""), f"{path}: no CSP")
    s, _, b = request(BASE, "GET", "/metrics")
    check(s == 200 and b"ums_http_requests_total" in b, f"/metrics: {s} {b[:200]!r}")
    check(re.search(rb'^ums_processes\{kind="notifier"\} 1$', b, re.M),
          "/metrics does not see the notifier")
    s, _, b = request(BASE, "GET", "/nothing/here")
    check(s == 404 and json.loads(b).get("code") == "not_found", f"outside ums: {s} {b[:200]!r}")
    log = open("/var/log/ums/ums.log").read().splitlines()
    check(log and all(json.loads(ln)["service.name"] in ("ums-fcgi", "ums-notifier", "umsctl")
                      for ln in log[-50:]), "ums.log is not ECS JSON")
    check(tok["access_token"] not in "\n".join(log), "a token is in ums.log")


def status():
    r = sh(["umsctl", "status", "--json"], env=PKGENV, ok=False)
    check(r.returncode == 0, f"umsctl status: exit {r.returncode}: {r.stdout[-600:]}{r.stderr[-300:]}")
    j = json.loads(r.stdout)
    check(j["pool"]["master_pid"] > 0 and j["pool"]["workers"] == 2 and j["notifier"]["pid"] > 0 and
          j["postgres"] is True and j["redis"] is True, f"status: {r.stdout[:600]}")


def logrotate_reopen():
    st = os.stat("/var/log/ums/ums.log")
    sh(["logrotate", "-f", "/etc/logrotate.d/ums"], env=PKGENV)
    check(os.path.exists("/var/log/ums/ums.log.1"), "no ums.log.1 after logrotate -f")
    check(os.stat("/var/log/ums/ums.log.1").st_ino == st.st_ino, "ums.log.1 is not the old log")

    def reopened():
        request(BASE, "GET", "/auth/v1/health")
        try:
            text = open("/var/log/ums/ums.log").read()
        except OSError:
            return False
        return "log file reopened" in text and '"service.name":"ums-fcgi"' in text
    wait_for("both daemons writing the new ums.log", reopened, 15)
    check(owner("/var/log/ums/ums.log")[:1] == ("ums",), f"new ums.log {owner('/var/log/ums/ums.log')}")


def syscalls():
    """Every system call the daemons made is allowed by the unit's filter."""
    r = sh(["systemd-analyze", "syscall-filter", "--no-pager"])
    groups, cur = {}, None
    for ln in r.stdout.splitlines():
        if ln.startswith("@"):
            cur = ln.split()[0]
            groups[cur] = set()
        elif cur and ln.strip() and not ln.strip().startswith("#"):
            groups[cur].add(ln.strip())

    def expand(name, seen=()):
        if not name.startswith("@"):
            return {name}
        out = set()
        for x in groups.get(name, ()):
            if x not in seen:
                out |= expand(x, seen + (name,))
        return out
    if SYSTEMD:
        # systemd enforced the filter itself: the services lived through the smoke set.
        check(state.get("active") == ["active", "active"], f"under systemd: {state.get('active')}")
        return
    check(len(state["traces"]) == 2, f"traced: {state['traces']}")
    for service, trace in state["traces"]:
        allowed, denied = set(), set()
        for ln in state["filters"][service]:
            if ln.startswith("~"):
                for g in ln[1:].split():
                    denied |= expand(g)
            else:
                for g in ln.split():
                    allowed |= expand(g)
        allowed -= denied
        check(len(allowed) > 100, f"{service}: the filter allows only {len(allowed)} calls")
        used, ums = set(), set()
        for ln in open(trace, errors="replace"):
            m = re.match(r"^(\d+) +(?:<\.\.\. )?([a-z0-9_]+)[( ]", ln)
            if not m:
                continue
            pid, name = int(m.group(1)), m.group(2)
            if name == "execve" and re.search(r'execve\("/usr/sbin/ums-', ln) and "= 0" in ln:
                ums.add(pid)
                continue
            if pid in ums:
                used.add(name)
                if name in ("clone", "clone3", "fork", "vfork"):
                    c = re.search(r"= (\d+)$", ln.strip())
                    if c:
                        ums.add(int(c.group(1)))
        # strace also shows resumed calls and signals; keep the calls.
        used -= {"exit", "resumed", "killed", "exited"}
        check(len(used) > 20, f"{trace}: only {sorted(used)} traced")
        bad = sorted(used - allowed)
        check(not bad, f"{os.path.basename(trace)}: calls outside SystemCallFilter: {bad}")
        print(f"    {service}: {len(used)} distinct system calls, all allowed")


# ---- purge ----------------------------------------------------------------

def keep_log():
    """ums.log goes with the purge: a copy stays in WORK for a look."""
    if os.path.exists("/var/log/ums/ums.log"):
        shutil.copy("/var/log/ums/ums.log", f"{WORK}/ums.log")


def purge():
    keep_log()
    if SYSTEMD:
        r = sh(["systemctl", "is-active", "ums-fcgi.service", "ums-notifier.service"], ok=False)
        state["active"] = r.stdout.split()
    sh(["apt-get", "purge", "-y", "-q", "ums"], timeout=300,
       env=PKGENV)
    for p in state["procs"]:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    left = ums_pids()
    check(not left, f"still running after purge: {left}")
    for p in state["procs"]:
        check(p.poll() is not None, f"the wrapper {p.args[:4]} still runs")
    for path in ["/usr/sbin/ums-fcgi", "/etc/ums", "/var/lib/ums", "/var/log/ums", "/run/ums",
                 "/etc/logrotate.d/ums", "/lib/systemd/system/ums-fcgi.service",
                 "/usr/share/ums", "/etc/systemd/system/sockets.target.wants/ums-fcgi.socket"]:
        check(not os.path.lexists(path), f"{path} is left after purge")
    r = sh(["dpkg-statoverride", "--list", "/etc/ums/ums.conf"], ok=False)
    check(r.returncode != 0, "the statoverride of ums.conf is left")
    r = sh(["dpkg-query", "-W", "-f", "${Status}", "ums"], ok=False)
    check("installed" not in r.stdout or "not-installed" in r.stdout, f"dpkg: {r.stdout}")


def cleanup():
    """Whatever a failed run left: nginx, the daemons, the package, the database."""
    if state["nginx"]:
        # By its pid: after the purge its configuration no longer parses.
        try:
            pid = int(open(f"{WORK}/nginx/nginx.pid").read())
            os.kill(pid, signal.SIGTERM)
            wait_for("nginx to stop", lambda: not os.path.exists(f"/proc/{pid}"), 10)
        except (OSError, ValueError, Fail) as e:
            print(f"    cannot stop the test's nginx: {e}")
    for p in state["procs"]:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
    if os.path.exists("/usr/sbin/ums-fcgi"):
        keep_log()
        subprocess.run(["apt-get", "purge", "-y", "-q", "ums"], capture_output=True, timeout=300,
                       env=PKGENV)
    for pid, _ in ums_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    db = urllib.parse.urlsplit(os.environ.get("DATABASE_URL", ""))
    subprocess.run(["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(db.port or 5432), "-U", "postgres",
                    "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"],
                   capture_output=True, timeout=60,
                   env=dict(os.environ, PGPASSWORD=stack_secret("pg_superuser_password")))


def main():
    if os.geteuid() != 0:
        print("FAIL deb/root\n    the package test installs a package: run it as root")
        print("0 passed, 1 failed")
        return 1
    steps = [("deb/build", build), ("deb/lintian", lintian), ("deb/install", install),
             ("deb/secrets", secrets), ("deb/units-verify", units_verify),
             ("deb/units-security", units_security), ("deb/logrotate-syntax", logrotate_syntax),
             ("deb/configure", configure), ("deb/migrate", migrate),
             ("deb/socket-refused", socket_refused), ("deb/start", started),
             ("deb/smoke", smoke), ("deb/status", status), ("deb/logrotate-reopen", logrotate_reopen),
             ("deb/purge", purge), ("deb/syscalls", syscalls)]
    try:
        rc = run_steps(steps)
    finally:
        cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())
