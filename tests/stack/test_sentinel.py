#!/usr/bin/env python3
"""tests/stack/test_sentinel.py - Redis Sentinel (issue 17, part 4), on the
stack started with UMS_REDIS_SENTINEL=1 (the master, a replica, three
sentinels; ums-fcgi and the notifier given [redis] sentinels). A sentinel
that lies (a stand-in naming the replica) or is down is passed over; under a
load of sign-ups, sign-ins and GET /user the master is killed with SIGKILL,
and after the failover (its time is printed) sign-ins, session checks,
revocations, rate limits and the notifier work on the new master, no answer
was a 5xx other than 503, a refresh and its retry during the switch give
the same token, and every sign-up answered 200 gets its mail; the
old master comes back as a replica and ums never uses it. Restores the
original master at the end. Run with the stack's environment:
    (set -a; . .stack/env; set +a; python3 tests/stack/test_sentinel.py)
"""
import calendar
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, env, file_size, mails_to, request, run_steps, sh, signup_signin, text_since, wait_for  # noqa: E402

ROOT = env("UMS_ROOT")
STACK = env("UMS_STACK")
BASE = env("UMS_URL")
MASTER_PORT = int(env("UMS_REDIS_PORT"))
REPLICA_PORT = int(env("UMS_REDIS_REPLICA_PORT"))
SENTINELS = [int(p) for p in env("UMS_SENTINEL_PORTS").split()]
LOG = f"{STACK}/log/ums.log"
PW = open(f"{STACK}/secrets/redis_password").read().strip()
SPW = open(f"{STACK}/secrets/sentinel_password").read().strip()
PASSWORD = "correct horse battery"
state = {}


def redis(port, *args, sentinel=False):
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port)] + list(args),
                       capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, REDISCLI_AUTH=SPW if sentinel else PW))
    return r.stdout.strip() if r.returncode == 0 else None


def role(port):
    out = redis(port, "ROLE")
    return out.splitlines()[0] if out else None


def master_addr():
    for p in SENTINELS:
        out = redis(p, "SENTINEL", "get-master-addr-by-name", "ums", sentinel=True)
        if out:
            host, port = out.splitlines()
            return int(port)
    return None


def ums_clients(port):
    """Connections to port other than replication, sentinels and redis-cli."""
    out = redis(port, "CLIENT", "LIST", "TYPE", "normal") or ""
    return [line for line in out.splitlines() if "cmd=client" not in line and "cmd=sentinel" not in line
            and "name=sentinel" not in line]








def restart_pool(extra_env=None):
    sh([f"{ROOT}/scripts/down", "fcgi", "notifier"])
    sh([f"{ROOT}/scripts/up"], extra_env=dict({"UMS_REDIS_SENTINEL": "1"}, **(extra_env or {})))




class LyingSentinel(threading.Thread):
    """Speaks enough RESP to answer AUTH and SENTINEL
    get-master-addr-by-name, naming the replica as the master."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.asked = 0

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        f = c.makefile("rb")
        try:
            while True:
                head = f.readline()
                if not head.startswith(b"*"):
                    return
                args = []
                for _ in range(int(head[1:])):
                    n = int(f.readline()[1:])
                    args.append(f.read(n + 2)[:-2].decode())
                if args[0].upper() == "SENTINEL":
                    self.asked += 1
                    p = str(REPLICA_PORT)
                    c.sendall(f"*2\r\n$9\r\n127.0.0.1\r\n${len(p)}\r\n{p}\r\n".encode())
                else:
                    c.sendall(b"+OK\r\n")
        except (OSError, ValueError, IndexError):
            pass
        finally:
            c.close()


def a_lying_and_a_down_sentinel_are_passed_over():
    master_home()
    check(role(MASTER_PORT) == "master" and role(REPLICA_PORT) == "slave", "the stack's roles are not as set up")
    liar = LyingSentinel()
    liar.start()
    # The liar first, then a port nothing listens on, then the real ones.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    sentinels = ",".join([f"127.0.0.1:{liar.port}", f"127.0.0.1:{dead_port}"] +
                         [f"127.0.0.1:{p}" for p in SENTINELS])
    off = file_size(LOG)
    restart_pool({"UMS_REDIS_SENTINELS": sentinels})
    _, tok = signup_signin(BASE, "sentinel-liar")
    s, _, _ = request(BASE, "POST", "/auth/v1/logout", headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s == 204, f"logout: {s}")
    s, _, _ = request(BASE, "GET", "/auth/v1/user", headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s in (401, 403), f"a revoked token works: {s}")
    check(liar.asked > 0, "the lying sentinel was never asked")
    check(f"names 127.0.0.1:{REPLICA_PORT}, which is not a master" in text_since(LOG, off),
          "no log line for the lying sentinel")
    check(ums_clients(REPLICA_PORT) == [], f"ums is connected to the replica: {ums_clients(REPLICA_PORT)[:2]}")
    restart_pool()


def failover_under_load():
    # The notifier redelivers what a lost stream entry left undone after 5 s.
    sh([f"{ROOT}/scripts/down", "notifier"])
    sh([f"{ROOT}/scripts/up"], extra_env={"UMS_REDIS_SENTINEL": "1", "UMS_NOTIFIER_REDELIVER_AFTER": "5",
                                          "UMS_NOTIFIER_REPUBLISH_AFTER": "5"})
    users = [signup_signin(BASE, "sentinel-load") for _ in range(4)]
    statuses, signups, lock, stop = {}, [], threading.Lock(), threading.Event()

    def note(kind, s):
        with lock:
            statuses.setdefault(kind, {}).setdefault(s, 0)
            statuses[kind][s] += 1

    def load(i):
        email, tok = users[i]
        n = 0
        while not stop.is_set():
            # Another loopback address each round: the per-IP limits stay out of the way.
            n += 1
            src = f"127.0.{10 + i}.{n % 250 + 1}"
            try:
                s, _, _ = request(BASE, "POST", "/auth/v1/token?grant_type=password",
                                  {"email": email, "password": PASSWORD}, src=src, timeout=10)
                note("sign-in", s)
                s, _, _ = request(BASE, "GET", "/auth/v1/user", src=src, timeout=10,
                                  headers={"Authorization": f"Bearer {tok['access_token']}"})
                note("user", s)
                addr = f"sentinel-up-{random.getrandbits(40):x}@example.com"
                s, _, _ = request(BASE, "POST", "/auth/v1/signup", {"email": addr, "password": PASSWORD},
                                  src=src, timeout=10)
                note("sign-up", s)
                if s == 200:
                    with lock:
                        signups.append(addr)
            except OSError as e:
                note(f"error {type(e).__name__}", 0)
            time.sleep(0.05)

    threads = [threading.Thread(target=load, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        pid = int(open(f"{STACK}/redis/redis.pid").read().split()[0])
        off = file_size(LOG)
        _, rot = signup_signin(BASE, "sentinel-refresh")
        os.kill(pid, signal.SIGKILL)
        state["killed_at"] = t0 = time.time()
        # A refresh rotation during the switch, and the client's retry of the
        # same parent within refresh_reuse_interval: the same live child.
        body = {"refresh_token": rot["refresh_token"]}
        s1, _, b1 = request(BASE, "POST", "/auth/v1/token?grant_type=refresh_token", body, src="127.0.3.1")
        s2, _, b2 = request(BASE, "POST", "/auth/v1/token?grant_type=refresh_token", body, src="127.0.3.2")
        check(s1 in (200, 503) and s2 == 200, f"refresh during the failover: {s1} {b1[:120]!r}, retry {s2} {b2[:120]!r}")
        if s1 == 200:
            check(json.loads(b1)["refresh_token"] == json.loads(b2)["refresh_token"],
                  "the retry within the reuse interval got another token than the first answer")
        state["rotated"] = json.loads(b2)
        new = wait_for("a new master from the sentinels", lambda: (lambda p: p if p == REPLICA_PORT else None)(master_addr()), 30)
        state["failover_s"] = time.time() - t0
        wait_for("the new master answers as one", lambda: role(new) == "master", 15)
        # When the first ums process wrote to the new master (its log line).
        line = wait_for("'redis master changed' in ums.log",
                        lambda: next((ln for ln in text_since(LOG, off).splitlines() if "redis master changed" in ln), None), 30)
        at = json.loads(line)["@timestamp"]
        state["recovered_s"] = calendar.timegm(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) \
            + float("0" + at[19:-1]) - t0
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    print(f"    failover: sentinels named the new master {state['failover_s']:.1f} s after SIGKILL;"
          f" ums on the new master after {state['recovered_s']:.1f} s")
    print(f"    answers: {json.dumps(statuses, sort_keys=True)}")
    bad = {k: {s: n for s, n in v.items() if s >= 500 and s != 503 or s == 0} for k, v in statuses.items()}
    check(not any(bad.values()), f"answers other than the normal ones or 503: {bad}")
    check(statuses.get("sign-in", {}).get(200, 0) > 0 and statuses.get("user", {}).get(200, 0) > 0, "no load went through")
    s, _, b = request(BASE, "GET", "/auth/v1/user",
                      headers={"Authorization": f"Bearer {state['rotated']['access_token']}"})
    check(s == 200, f"the session refreshed during the failover: {s} {b[:120]!r}")
    # Everything works on the new master.
    _, tok = signup_signin(BASE, "sentinel-after")
    h = {"Authorization": f"Bearer {tok['access_token']}"}
    s, _, _ = request(BASE, "POST", "/auth/v1/logout", headers=h)
    check(s == 204, f"logout after the failover: {s}")
    s, _, _ = request(BASE, "GET", "/auth/v1/user", headers=h)
    check(s in (401, 403), f"a revoked session works after the failover: {s}")
    check(int(redis(REPLICA_PORT, "EVAL", "return #redis.call('keys', 'ums:tb:*')", "0") or 0) > 0,
          "no rate-limit bucket on the new master")
    check(ums_clients(REPLICA_PORT) != [], "ums has no connection to the new master")
    # No mail lost: each sign-up answered 200 is delivered, at most once more.
    with lock:
        addrs = list(signups)
    check(len(addrs) > 0, "no sign-up went through")
    wait_for(f"the mail of {len(addrs)} sign-ups", lambda: all(mails_to(a) >= 1 for a in addrs), 60, step=1)
    extra = sum(mails_to(a) - 1 for a in addrs)
    print(f"    {len(addrs)} sign-ups answered 200, every one mailed; {extra} mailed twice")
    check(all(mails_to(a) <= 2 for a in addrs), "a sign-up mailed three times or more")


def the_old_master_comes_back_as_a_replica():
    bin_user = ["runuser", "-u", "redis", "--"] if os.getuid() == 0 else []
    sh(bin_user + ["redis-server", f"{STACK}/redis.conf"])
    wait_for("the old master turned into a replica by the sentinels", lambda: role(MASTER_PORT) == "slave", 30)
    check(master_addr() == REPLICA_PORT, "the sentinels moved the master back")
    _, tok = signup_signin(BASE, "sentinel-back")
    s, _, _ = request(BASE, "POST", "/auth/v1/logout", headers={"Authorization": f"Bearer {tok['access_token']}"})
    check(s == 204, f"logout: {s}")
    check(ums_clients(MASTER_PORT) == [], f"ums uses the old master: {ums_clients(MASTER_PORT)[:2]}")


def master_home():
    """The master on the stack's Redis port (a suite that restarted Redis
    may have made the sentinels fail over): failed back if need be."""
    if role(MASTER_PORT) is None:
        bin_user = ["runuser", "-u", "redis", "--"] if os.getuid() == 0 else []
        subprocess.run(bin_user + ["redis-server", f"{STACK}/redis.conf"], timeout=30)
        wait_for("the old master answers", lambda: role(MASTER_PORT) is not None, 15)
    if master_addr() != MASTER_PORT:
        wait_for("the old master in sync", lambda: "master_link_status:up" in (redis(MASTER_PORT, "INFO", "replication") or ""), 30)
        redis(SENTINELS[0], "SENTINEL", "FAILOVER", "ums", sentinel=True)
        wait_for("the master back on its port", lambda: master_addr() == MASTER_PORT and role(MASTER_PORT) == "master", 30)
    wait_for("the replica back in sync", lambda: "master_link_status:up" in (redis(REPLICA_PORT, "INFO", "replication") or ""), 30)


def restore():
    """The stack's master back on its port, and the pool and notifier on it."""
    master_home()
    sh([f"{ROOT}/scripts/down", "fcgi", "notifier"])
    sh([f"{ROOT}/scripts/up"], extra_env={"UMS_REDIS_SENTINEL": "1"})
    signup_signin(BASE, "sentinel-restored")


if __name__ == "__main__":
    sys.exit(run_steps([
        ("sentinel/a_lying_and_a_down_sentinel_are_passed_over", a_lying_and_a_down_sentinel_are_passed_over),
        ("sentinel/failover_under_load_loses_nothing", failover_under_load),
        ("sentinel/the_old_master_comes_back_as_a_replica", the_old_master_comes_back_as_a_replica),
        ], cleanup=[("sentinel/the_master_is_back_on_its_port", restore)]))
