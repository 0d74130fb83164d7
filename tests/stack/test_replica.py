#!/usr/bin/env python3
"""tests/stack/test_replica.py - PostgreSQL read replicas (issue 17, parts 1
and 2), on the stack started with UMS_PG_REPLICA=1 (a streaming standby from
pg_basebackup -R in [database] replica_urls). What is shown comes from the
standby's own statistics (pg_stat_user_tables there), not from ums: reads
that tolerate lag are served by the standby; a caller who wrote reads its
own write at once while the standby does not have it yet; the session check
never reads from the standby; with replay paused the reads move to the
primary after max_replica_lag and come back once it resumes; the standby
stopped under load fails no request; wrong replica URLs at start-up leave
the primary serving. Restores the stack's pool and standby at the end. Run
with the stack's environment:
    (set -a; . .stack/env; set +a; python3 tests/stack/test_replica.py)
"""
import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, env, file_size, request, run_steps, sh, signup_signin, text_since, wait_for  # noqa: E402

ROOT = env("UMS_ROOT")
STACK = env("UMS_STACK")
BUILD = env("UMS_BUILD_DIR")
BASE = env("UMS_URL")
CONFIG = env("UMS_CONFIG")
PG_PORT = env("UMS_PG_PORT")
REPLICA_PORT = env("UMS_PG_REPLICA_PORT")
SERVICE = {"Authorization": f"Bearer {env('UMS_SERVICE_KEY')}"}
LOG = f"{STACK}/log/ums.log"
SU_PW = open(f"{STACK}/secrets/pg_superuser_password").read().strip()
APP_PW = urllib.parse.urlsplit(env("DATABASE_URL")).password
state = {}


def psql(port, sql, superuser=False):
    """One statement's first value, run by psql on 127.0.0.1:port."""
    user, pw = ("postgres", SU_PW) if superuser else ("ums", APP_PW)
    r = subprocess.run(["psql", "-X", "-Atq", "-h", "127.0.0.1", "-p", str(port), "-U", user,
                        "-d", "ums", "-c", sql], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, PGPASSWORD=pw))
    check(r.returncode == 0, f"psql on {port}: {sql}: {r.stderr.strip()}")
    return r.stdout.strip()


def standby_user_scans():
    """Scans of the users table the standby itself has counted."""
    return int(psql(REPLICA_PORT, "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)"
                                  " FROM pg_stat_user_tables WHERE relname = 'users'"))


def search(headers, q, limit=5):
    s, _, b = request(BASE, "GET", f"/api/v1/users?q={urllib.parse.quote(q)}&limit={limit}",
                      headers=headers)
    check(s == 200, f"search {q}: {s} {b[:200]!r}")
    return [u["email"] for u in json.loads(b)["data"]]


def replayed_up_to_primary():
    lsn = psql(PG_PORT, "SELECT pg_current_wal_lsn()")
    return wait_for("the standby replays the primary's WAL",
                    lambda: psql(REPLICA_PORT, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'") == "t",
                    15)








def restart_pool(extra_env=None):
    sh([f"{ROOT}/scripts/down", "fcgi"])
    sh([f"{ROOT}/scripts/up"], extra_env=dict({"UMS_PG_REPLICA": "1"}, **(extra_env or {})))


def resume():
    psql(REPLICA_PORT, "SELECT pg_wal_replay_resume()", superuser=True)


def make_admin():
    """An admin user with a session of its own: a caller who never wrote."""
    email, tok = signup_signin(BASE, "replica-admin")
    uid = tok["user"]["id"]
    s, _, b = request(BASE, "PUT", f"/api/v1/users/{uid}/role", {"role": "admin"}, headers=SERVICE)
    check(s == 200, f"role: {s} {b[:200]!r}")
    s, _, b = request(BASE, "POST", "/auth/v1/token?grant_type=password",
                      {"email": email, "password": "correct horse battery"})
    check(s == 200, f"admin sign-in: {s} {b[:200]!r}")
    return {"Authorization": f"Bearer {json.loads(b)['access_token']}"}


def reads_served_by_the_standby():
    check(psql(REPLICA_PORT, "SELECT pg_is_in_recovery()") == "t", "the replica port is not a standby")
    state["admin"] = make_admin()
    replayed_up_to_primary()
    before = standby_user_scans()
    for _ in range(20):
        search(state["admin"], "replica-admin")
    # The standby's backends report their counts within a second or so.
    after = wait_for("20 searches counted by the standby",
                     lambda: (lambda n: n if n - before >= 20 else None)(standby_user_scans()), 15)
    print(f"    the standby counted {after - before} scans of users for 20 searches")
    check("postgresql replica 127.0.0.1:%s/ums in use" % REPLICA_PORT in text_since(LOG, 0),
          "no 'in use' line for the standby in ums.log")


def read_your_writes_and_the_session_check():
    # A pool that keeps using a paused standby for 30 s: what it reads there
    # is stale for sure, so anything correct came from the primary.
    restart_pool({"UMS_DATABASE_MAX_REPLICA_LAG": "30"})
    admin = make_admin()
    replayed_up_to_primary()
    psql(REPLICA_PORT, "SELECT pg_wal_replay_pause()", superuser=True)
    try:
        # The admin never wrote: its search is the standby's, which lacks the user.
        email = f"ryw-{time.time_ns():x}@example.com"
        s, _, b = request(BASE, "POST", "/api/v1/users", {"email": email, "name": "Read Your Writes", "password": "correct horse battery"},
                          headers=SERVICE)
        check(s in (200, 201), f"create: {s} {b[:200]!r}")
        check(search(SERVICE, email) == [email], "the caller that created the user does not find it")
        check(psql(REPLICA_PORT, f"SELECT count(*) FROM users WHERE email = '{email}'") == "0",
              "the standby has the user: the test shows nothing")
        check(search(admin, email) == [], "a caller who wrote nothing did not read from the standby")
        # A session the standby has never seen works, and a revoked one dies
        # at once: the check behind every Bearer reads the primary.
        _, tok = signup_signin(BASE, "replica-session")
        redis_del(f"ums:sess:{claims(tok['access_token'])['session_id']}")
        s, _, _ = request(BASE, "GET", "/auth/v1/user", headers={"Authorization": f"Bearer {tok['access_token']}"})
        check(s == 200, f"a new session with its cache entry gone: {s} (read from the standby?)")
        s, _, _ = request(BASE, "POST", "/auth/v1/logout", headers={"Authorization": f"Bearer {tok['access_token']}"})
        check(s == 204, f"logout: {s}")
        s, _, _ = request(BASE, "GET", "/auth/v1/user", headers={"Authorization": f"Bearer {tok['access_token']}"})
        check(s in (401, 403), f"a revoked session still works: {s}")
    finally:
        resume()
    restart_pool()


def claims(jwt):
    p = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def redis_del(key):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", env("UMS_REDIS_PORT"), "DEL", key],
                       capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, REDISCLI_AUTH=open(f"{STACK}/secrets/redis_password").read().strip()))
    check(r.returncode == 0, f"redis DEL: {r.stderr}")


def paused_replay_moves_reads_to_the_primary():
    replayed_up_to_primary()
    off = file_size(LOG)
    psql(REPLICA_PORT, "SELECT pg_wal_replay_pause()", superuser=True)
    try:
        signup_signin(BASE, "replica-lag")  # the primary moves on
        # max_replica_lag (2 s), then the next check (1 s), for every worker.
        wait_for("'skipped: replay lag' in ums.log",
                 lambda: (search(state["admin"], "replica-admin"), "skipped: replay lag" in text_since(LOG, off))[1], 15)
        time.sleep(1.5)
        for _ in range(8):  # every worker sees the lag by now
            search(state["admin"], "replica-admin")
        time.sleep(1.5)
        search(state["admin"], "replica-admin")  # the lag checks flush the standby's counts
        before = standby_user_scans()
        for _ in range(20):
            search(state["admin"], "replica-admin")
        time.sleep(2.5)
        search(state["admin"], "replica-admin")
        moved = standby_user_scans() - before
        check(moved == 0, f"the lagging standby served {moved} scans of users")
    finally:
        resume()
    off = file_size(LOG)
    wait_for("'in use' again in ums.log",
             lambda: (search(state["admin"], "replica-admin"), " in use " in text_since(LOG, off))[1], 15)
    before = standby_user_scans()
    for _ in range(20):
        search(state["admin"], "replica-admin")
    wait_for("the standby serves again",
             lambda: standby_user_scans() - before >= 10, 15)


def standby_stopped_under_load():
    bad, count, stop = [], [0], threading.Event()
    _, tok = signup_signin(BASE, "replica-load")
    me = {"Authorization": f"Bearer {tok['access_token']}"}

    def load():
        while not stop.is_set():
            for path, h in ((f"/api/v1/users?q=replica&limit=5", state["admin"]),
                            ("/api/v1/users/me", me)):
                try:
                    s, _, b = request(BASE, "GET", path, headers=h, timeout=10)
                except OSError as e:
                    s, b = 0, str(e).encode()
                count[0] += 1
                if s != 200:
                    bad.append(f"{path}: {s} {b[:120]!r}")
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        bin_dir = subprocess.run(["bash", "-c", f". {ROOT}/scripts/lib.sh; pg_bin"], capture_output=True,
                                 text=True).stdout.strip()
        sh(["runuser", "-u", "postgres", "--", f"{bin_dir}/pg_ctl", "-D", f"{STACK}/pg-replica",
            "-m", "immediate", "-w", "stop"] if os.getuid() == 0 else
           [f"{bin_dir}/pg_ctl", "-D", f"{STACK}/pg-replica", "-m", "immediate", "-w", "stop"])
        time.sleep(4)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    print(f"    {count[0]} requests, {len(bad)} failed, the standby stopped (immediate) after 2 s")
    check(not bad, f"{len(bad)} requests failed: {bad[:3]}")
    check("skipped: the connection was lost" in text_since(LOG, 0) or "skipped: " in text_since(LOG, 0),
          "no 'skipped' line for the stopped standby")
    sh([f"{ROOT}/scripts/up"], extra_env={"UMS_PG_REPLICA": "1"})
    off = file_size(LOG)
    wait_for("the standby back in use",
             lambda: (search(state["admin"], "replica"), " in use " in text_since(LOG, off))[1], 20)


def wrong_replica_urls_at_start_up():
    off = file_size(LOG)
    urls = (f"postgresql://ums@127.0.0.1:1/ums, postgresql://ums@127.0.0.1:{PG_PORT}/nosuchdb,"
            f" postgresql://ums@127.0.0.1:{PG_PORT}/ums")
    restart_pool({"UMS_DATABASE_REPLICA_URLS": urls})
    for _ in range(12):
        check(search(state["admin"], "replica-admin") != [], "no search result with wrong replicas")
    text = text_since(LOG, off)
    check("127.0.0.1:1/ums skipped" in text, "no line for the refused replica")
    check(f"127.0.0.1:{PG_PORT}/nosuchdb skipped" in text, "no line for the wrong database")
    check(f"127.0.0.1:{PG_PORT}/ums skipped: it is not a standby" in text, "no line for the primary given as a replica")
    check(APP_PW not in text, "the database password in the log")
    # A URL that is not one at all is a configuration error, named by its
    # position (the URL may carry a password), before anything starts.
    bad = dict(os.environ, UMS_DATABASE_REPLICA_URLS="postgresql://ums:s3cret@[::1/ums",
               UMS_SERVER_LISTEN=f"{STACK}/run/replica-test.sock",
               UMS_SERVER_PID_FILE=f"{STACK}/run/replica-test.pid")
    r = subprocess.run([f"{BUILD}/fcgi/ums-fcgi", "--config", CONFIG], capture_output=True, text=True,
                       timeout=30, env=bad)
    check(r.returncode == 2 and "[database] replica_urls: entry 1" in r.stderr and "s3cret" not in r.stderr,
          f"ums-fcgi with a malformed replica URL: exit {r.returncode} {r.stderr[-300:]}")
    restart_pool()


def restore():
    resume()
    sh([f"{ROOT}/scripts/down", "fcgi"])
    sh([f"{ROOT}/scripts/up"], extra_env={"UMS_PG_REPLICA": "1"})


if __name__ == "__main__":
    sys.exit(run_steps([
        ("replica/reads_are_served_by_the_standby", reads_served_by_the_standby),
        ("replica/read_your_writes_and_the_session_check_on_the_primary", read_your_writes_and_the_session_check),
        ("replica/paused_replay_moves_reads_to_the_primary_and_back", paused_replay_moves_reads_to_the_primary),
        ("replica/the_standby_stopped_under_load_fails_no_request", standby_stopped_under_load),
        ("replica/wrong_replica_urls_at_start_up_leave_the_primary_serving", wrong_replica_urls_at_start_up),
        ], cleanup=[("replica/the_pool_and_standby_are_back", restore)]))
