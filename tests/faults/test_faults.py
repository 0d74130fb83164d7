#!/usr/bin/env python3
"""tests/faults/test_faults.py - faults under load, through the web server
the stack runs (. .stack/env first; scripts/check runs it).

A load of sign-ups, sign-ins, refreshes, GET /auth/v1/user and logouts runs
from many loopback addresses (one per account, so that no per-address limit
is what answers) while, one at a time: PostgreSQL restarts (fast, then
immediate shutdown), Redis restarts, workers get SIGKILL, the master gets
SIGKILL (its workers go with it; the next scripts/up starts a new pool),
the notifier gets SIGKILL, the log folder's file system fills up (a small
tmpfs mounted over it for the fault), and PostgreSQL refuses new
connections (every slot of max_connections held, the pool's own server
processes terminated). Each fault is a test:
  - every answer is the normal one or a 503 with Retry-After: never a 500,
    another 5xx, an unexpected 4xx, or no answer within the client's 15 s;
  - the service is back (a sign-up, a sign-in and GET /user answered 200
    after the fault was repaired) within RECOVERY_MAX seconds of the
    repair; the figure is printed.
Then, for everything the load did across all faults:
  - every sign-up answered 200 exists in PostgreSQL;
  - every session whose last refresh answered 200 refreshes again with
    that token;
  - every address whose sign-up was answered 200 got its welcome mail
    exactly once, beyond one more per notifier kill (the one in flight);
  - no session logged out (204) comes back: its access token and its
    refresh token are refused.
Each fault's window is bounded (FAULT_SECONDS of load after the repair)."""
import ctypes
import json
import os
import pwd
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import Fail, check, env, request, run, sh, wait_for  # noqa: E402

BASE = env("UMS_URL")
STACK = env("UMS_STACK")
ROOT = env("UMS_ROOT")
DB = env("DATABASE_URL")
THREADS = int(os.environ.get("UMS_FAULT_THREADS", "6"))
FAULT_SECONDS = 6      # load kept on after each repair
RECOVERY_MAX = 30      # seconds from the repair to a served sign-up, sign-in and GET /user
PASSWORD = "correct horse battery"
EXPECTED = {"signup": 200, "signin": 200, "refresh": 200, "user": 200, "logout": 204}


class Load:
    """The client threads and what they saw."""

    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.answers = []        # (t, op, status, retry_after, ms)
        self.signed_up = []      # emails answered 200
        self.sessions = {}       # key -> (email, src, access, refresh) after a 200
        self.revoked = []        # (src, access, refresh) whose logout answered 204
        self.seq = 0
        self.threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                        for i in range(THREADS)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def next_src(self, i):
        with self.lock:
            self.seq += 1
            n = self.seq
        return f"127.{20 + i}.{(n // 250) % 250}.{n % 250 + 1}"

    def call(self, op, src, method, path, body=None, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        t0 = time.monotonic()
        try:
            s, h, b = request(BASE, method, path, body, headers=headers, timeout=15, src=src)
            ra = h.get("Retry-After")
        except OSError as e:
            s, ra, b = 0, None, str(e).encode()
        ms = 1000 * (time.monotonic() - t0)
        with self.lock:
            self.answers.append((time.monotonic(), op, s, ra, ms, b[:160]))
        return s, b

    def worker(self, i):
        n = 0
        while not self.stop.is_set():
            n += 1
            src = self.next_src(i)
            email = f"fault-{os.getpid()}-{i}-{n}-{random.getrandbits(24):x}@example.com"
            s, _ = self.call("signup", src, "POST", "/auth/v1/signup",
                             {"email": email, "password": PASSWORD})
            if s != 200:
                continue
            with self.lock:
                self.signed_up.append(email)
            s, b = self.call("signin", src, "POST", "/auth/v1/token?grant_type=password",
                             {"email": email, "password": PASSWORD})
            if s != 200:
                continue
            tok = json.loads(b)
            access, refresh = tok["access_token"], tok["refresh_token"]
            key = (i, n)
            with self.lock:
                self.sessions[key] = (email, src, access, refresh)
            for _ in range(3):
                if self.stop.is_set():
                    break
                self.call("user", src, "GET", "/auth/v1/user", token=access)
                time.sleep(0.05)
                s, b = self.call("refresh", src, "POST", "/auth/v1/token?grant_type=refresh_token",
                                 {"refresh_token": refresh})
                if s != 200:
                    # Unanswered: it may or may not have rotated; the chain is
                    # left, and so is the promise about it.
                    with self.lock:
                        self.sessions.pop(key, None)
                    break
                tok = json.loads(b)
                access, refresh = tok["access_token"], tok["refresh_token"]
                with self.lock:
                    self.sessions[key] = (email, src, access, refresh)
            if n % 4 == 0 and key in self.sessions:
                s, _ = self.call("logout", src, "POST", "/auth/v1/logout", token=access)
                with self.lock:
                    self.sessions.pop(key, None)
                    if s == 204:
                        self.revoked.append((src, access, refresh))

    def since(self, t):
        with self.lock:
            return [a for a in self.answers if a[0] >= t]


LOAD = Load()
NOTIFIER_KILLS = [0]


def lib(script):
    """Runs bash with scripts/lib.sh sourced (as_user, pg_bin, paths)."""
    sh(["bash", "-c", f'. "{ROOT}/scripts/lib.sh"; {script}'])


def up():
    sh([os.path.join(ROOT, "scripts/up")])


def pid(path):
    with open(path) as f:
        return int(f.read().split()[0])


MASTER_PID = os.path.join(STACK, "run/ums-fcgi.pid")
NOTIFIER_PID = os.path.join(STACK, "run/ums-notifier.pid")


def workers():
    master = pid(MASTER_PID)
    out = subprocess.run(["pgrep", "-P", str(master), "ums-fcgi"], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def served_again(t_repaired):
    """A sign-up, a sign-in and GET /user answered 200 after t_repaired."""
    ops = {a[1] for a in LOAD.since(t_repaired) if a[2] == EXPECTED[a[1]]}
    return {"signup", "signin", "user"} <= ops


def fault(name, inject):
    """A test: inject() (the fault and its repair), then the load's answers
    from the fault on."""
    def go():
        time.sleep(1)
        t0 = time.monotonic()
        inject()
        t_repaired = time.monotonic()
        wait_for(f"{name}: service back", lambda: served_again(t_repaired), RECOVERY_MAX)
        back = time.monotonic() - t_repaired
        time.sleep(FAULT_SECONDS)
        seen = LOAD.since(t0)
        bad = [a for a in seen if a[2] != EXPECTED[a[1]] and not (a[2] == 503 and a[3])]
        n503 = sum(1 for a in seen if a[2] == 503)
        worst = max((a[4] for a in seen), default=0)
        print(f"    {name}: {len(seen)} answers, {n503} 503 with Retry-After, fault and repair "
              f"{t_repaired - t0:.1f} s, back {back:.1f} s after, slowest {worst:.0f} ms",
              flush=True)
        check(not bad, f"{len(bad)} answers neither normal nor 503 with Retry-After, e.g. "
                       + "; ".join(f"{a[1]} {a[2]} {a[5]!r}" for a in bad[:4]))
    return go


def pg_restart(mode):
    def inject():
        lib(f'as_user "$PG_USER" "$(pg_bin)/pg_ctl" -D "$STACK/pg" -m {mode} -w -t 60 restart '
            f'-l "$LOGS/postgresql.log" >/dev/null')
    return inject


def redis_restart():
    sh([os.path.join(ROOT, "scripts/down"), "redis"])
    up()


def kill_workers():
    for _ in range(3):
        ws = workers()
        check(ws, "no workers to kill")
        os.kill(random.choice(ws), signal.SIGKILL)
        time.sleep(0.5)


def kill_notifier():
    os.kill(pid(NOTIFIER_PID), signal.SIGKILL)
    NOTIFIER_KILLS[0] += 1
    time.sleep(0.5)
    up()


def kill_master():
    """SIGKILL to the master: every worker follows it (PR_SET_PDEATHSIG), none
    is left serving the old configuration on the socket; scripts/up then
    starts a new pool on the same socket."""
    master = pid(MASTER_PID)
    old = workers()
    check(old, "no workers")
    os.kill(master, signal.SIGKILL)
    wait_for("the old workers gone", lambda: not any(alive(p) for p in old + [master]), 10)
    up()
    new = workers()
    check(new and not set(new) & set(old), f"the new pool's workers {new} (old {old})")


def alive(p):
    try:
        with open(f"/proc/{p}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


LOGS = os.path.join(STACK, "log")
# The log files the daemons reopen on a signal, and their owners.
LOG_FILES = [("ums.log", "ums"), ("notifier.log", "ums"), ("nginx-access.log", "root"),
             ("nginx-error.log", "root")]


def reopen_logs():
    """The logrotate way: SIGHUP to the pool's master (a reload: new
    workers with the reopened file) and to the notifier, SIGUSR1 to nginx."""
    os.kill(pid(MASTER_PID), signal.SIGHUP)
    os.kill(pid(NOTIFIER_PID), signal.SIGHUP)
    os.kill(pid(os.path.join(STACK, "nginx/nginx.pid")), signal.SIGUSR1)
    time.sleep(1.5)


def logs_full():
    """A 4 MiB tmpfs mounted over the log folder, the daemons that write
    there made to reopen their files on it, then filled up: the service goes
    on while no log line can be written. The repair: the filler removed, the
    tmpfs lazily unmounted and the files reopened in the real folder."""
    st = os.stat(LOGS)
    sh(["mount", "-t", "tmpfs", "-o", f"size=4m,mode={st.st_mode & 0o7777:o},"
        f"uid={st.st_uid},gid={st.st_gid}", "ums-fault-logs", LOGS])
    try:
        for name, user in LOG_FILES:
            path = os.path.join(LOGS, name)
            open(path, "a").close()
            os.chmod(path, 0o640)
            u = pwd.getpwnam(user)
            os.chown(path, u.pw_uid, u.pw_gid)
        reopen_logs()
        check(os.path.getsize(os.path.join(LOGS, "ums.log")) > 0,
              "the pool did not reopen its log on the tmpfs")
        filler = os.path.join(LOGS, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        free = os.statvfs(LOGS)
        check(free.f_bavail == 0, f"the tmpfs is not full ({free.f_bavail} blocks left)")
        t_full = time.monotonic()
        wait_for("served with the log folder full", lambda: served_again(t_full), RECOVERY_MAX)
        time.sleep(FAULT_SECONDS)
        check(alive(pid(MASTER_PID)), "the pool's master died")
        check(alive(pid(NOTIFIER_PID)), "the notifier died")
        print(f"    logs full: served for {time.monotonic() - t_full:.1f} s with 0 bytes free",
              flush=True)
        os.unlink(filler)
    finally:
        subprocess.run(["umount", "-l", LOGS], check=False)
        reopen_logs()


class PGconnections:
    """Connections to PostgreSQL held through libpq (ctypes): all the
    server gives to the application role."""

    def __init__(self):
        pq = self.pq = ctypes.CDLL("libpq.so.5")
        pq.PQconnectdb.restype = ctypes.c_void_p
        pq.PQconnectdb.argtypes = [ctypes.c_char_p]
        pq.PQstatus.argtypes = [ctypes.c_void_p]
        pq.PQerrorMessage.restype = ctypes.c_char_p
        pq.PQerrorMessage.argtypes = [ctypes.c_void_p]
        pq.PQfinish.argtypes = [ctypes.c_void_p]
        pq.PQexec.restype = ctypes.c_void_p
        pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        pq.PQresultStatus.argtypes = [ctypes.c_void_p]
        pq.PQclear.argtypes = [ctypes.c_void_p]
        sep = "&" if "?" in DB else "?"
        self.url = f"{DB}{sep}application_name=ums-fault".encode()
        self.held = []
        self.refusal = b""

    def fill(self, most=400):
        """Connects until refused; returns how many it got."""
        for n in range(most):
            c = self.pq.PQconnectdb(self.url)
            if self.pq.PQstatus(c) != 0:
                self.refusal = self.pq.PQerrorMessage(c) or b""
                self.pq.PQfinish(c)
                return n
            self.held.append(c)
        raise Fail(f"PostgreSQL took {most} connections and more")

    def exec(self, sql):
        r = self.pq.PQexec(self.held[0], sql.encode())
        st = self.pq.PQresultStatus(r)
        self.pq.PQclear(r)
        check(st in (1, 2), f"{sql}: status {st}")   # PGRES_COMMAND_OK, PGRES_TUPLES_OK

    def release(self):
        for c in self.held:
            self.pq.PQfinish(c)
        self.held = []


def refused(conns):
    return b"too many clients" in conns.refusal or b"slots are reserved" in conns.refusal


def pg_max_connections():
    """Every connection slot taken; the workers stopped (SIGSTOP) while
    their server processes are terminated and their slots taken too, then
    let go (SIGCONT): every worker finds its connection gone and cannot
    make a new one until the slots are given back."""
    conns = PGconnections()
    ws = workers()
    try:
        conns.fill()
        check(conns.held and refused(conns), f"refused for another reason: {conns.refusal!r}")
        for w in ws:
            os.kill(w, signal.SIGSTOP)
        try:
            conns.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE usename = current_user AND application_name = 'ums'")
            # The terminated processes' slots, as they free up (done once
            # none has for 0.3 s; at most 5 s with the workers stopped).
            end = time.monotonic() + 5
            got, last = 0, time.monotonic()
            while time.monotonic() < end and (got == 0 or time.monotonic() - last < 0.3):
                if conns.fill():
                    got, last = got + 1, time.monotonic()
                time.sleep(0.02)
        finally:
            for w in ws:
                os.kill(w, signal.SIGCONT)
        t = time.monotonic()
        time.sleep(FAULT_SECONDS)
        n503 = sum(1 for a in LOAD.since(t) if a[2] == 503)
        print(f"    max_connections: {len(conns.held)} held, {n503} 503 while held; refusal "
              f"{conns.refusal.decode(errors='replace').strip()!r}", flush=True)
        check(refused(conns), f"the last refusal was not for slots: {conns.refusal!r}")
        check(n503 > 0, "no request was refused while PostgreSQL had no slot")
    finally:
        conns.release()


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-At", DB, "-c", sql], capture_output=True,
                          text=True, timeout=60).stdout


def signups_exist():
    emails = LOAD.signed_up
    check(emails, "the load signed nobody up")
    found = set()
    for i in range(0, len(emails), 500):
        part = emails[i:i + 500]
        lst = ",".join("'" + e.replace("'", "''") + "'" for e in part)
        found |= set(psql(f"SELECT email FROM users WHERE email IN ({lst})").split())
    missing = [e for e in emails if e not in found]
    print(f"    {len(emails)} sign-ups answered 200, {len(missing)} missing")
    check(not missing, f"answered 200 but not in the database: {missing[:5]}")


def refreshed_sessions_refresh():
    sessions = list(LOAD.sessions.values())
    check(sessions, "no session left to refresh")
    bad = []
    for email, src, _, refresh in sessions:
        s, _, b = request(BASE, "POST", "/auth/v1/token?grant_type=refresh_token",
                          {"refresh_token": refresh}, src=src)
        if s != 200:
            bad.append(f"{email}: {s} {b[:120]!r}")
    print(f"    {len(sessions)} sessions refreshed with their last token")
    check(not bad, f"{len(bad)} refused: {bad[:3]}")


MAIL_RE = re.compile(rb"fault-[0-9]+-[0-9]+-[0-9]+-[0-9a-f]+@example[.]com")


def mail_counts():
    """Messages in the stack's Maildir per fault-load address (each
    message counted once per address it names)."""
    d = os.path.join(env("UMS_MAILDIR"), "new")
    counts = {}
    for name in os.listdir(d):
        try:
            with open(os.path.join(d, name), "rb") as f:
                text = f.read()
        except OSError:
            continue
        if b"fault-" not in text:
            continue
        for a in set(MAIL_RE.findall(text)):
            counts[a.decode()] = counts.get(a.decode(), 0) + 1
    return counts


def mails_once():
    emails = LOAD.signed_up
    counts = wait_for("every welcome mail",
                      lambda: (lambda c: c if all(c.get(e, 0) >= 1 for e in emails) else None)(
                          mail_counts()), 120, step=2)
    extra = sum(counts.get(e, 0) - 1 for e in emails)
    print(f"    {len(emails)} welcome mails, {extra} sent twice ({NOTIFIER_KILLS[0]} notifier kills)")
    check(extra <= NOTIFIER_KILLS[0], "sent twice: " + ", ".join(
        e for e in emails if counts.get(e, 0) > 1)[:300])


def revoked_stay_revoked():
    check(LOAD.revoked, "no logout was answered 204")
    back = []
    for src, access, refresh in LOAD.revoked:
        s, _, _ = request(BASE, "GET", "/auth/v1/user",
                          headers={"Authorization": f"Bearer {access}"}, src=src)
        s2, _, _ = request(BASE, "POST", "/auth/v1/token?grant_type=refresh_token",
                           {"refresh_token": refresh}, src=src)
        if s not in (401, 403) or s2 not in (400, 401):
            back.append((s, s2))
    print(f"    {len(LOAD.revoked)} logged-out sessions checked")
    check(not back, f"{len(back)} came back (GET /user, refresh): {back[:5]}")


def main():
    LOAD.start()
    try:
        wait_for("the load under way", lambda: served_again(0), 30)
    except Fail:
        LOAD.finish()
        raise
    rc = run([
        ("faults/postgresql_fast_restart", fault("pg fast", pg_restart("fast"))),
        ("faults/postgresql_immediate_restart", fault("pg immediate", pg_restart("immediate"))),
        ("faults/redis_restart", fault("redis", redis_restart)),
        ("faults/workers_sigkill", fault("workers", kill_workers)),
        ("faults/master_sigkill", fault("master", kill_master)),
        ("faults/notifier_sigkill", fault("notifier", kill_notifier)),
        ("faults/log_folder_full", fault("logs full", logs_full)),
        ("faults/postgresql_max_connections", fault("max_connections", pg_max_connections)),
        # The promises over all the load did, once it has stopped.
        ("faults/the_load_stops", LOAD.finish),
        ("faults/every_answered_signup_exists", signups_exist),
        ("faults/every_refreshed_session_still_refreshes", refreshed_sessions_refresh),
        ("faults/every_welcome_mail_exactly_once", mails_once),
        ("faults/no_logged_out_session_comes_back", revoked_stay_revoked),
    ])
    LOAD.finish()
    return rc


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print(f"FAIL faults/setup\n    {e}\n0 passed, 1 failed")
        sys.exit(1)
