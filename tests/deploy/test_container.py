#!/usr/bin/env python3
"""tests/deploy/test_container.py - the images and compose.yaml, with podman.

No image registry is reachable here, so the Debian 12 base is made with
debootstrap (minbase, from the same mirror apt uses) and imported; every
image of deploy/container/Dockerfile is built FROM it (build-arg DEBIAN).
Then: the images' promises (non-root, no compiler, a HEALTHCHECK), the
whole compose.yaml up with podman-compose (nginx, ums-fcgi, ums-notifier,
the migration, PostgreSQL, Redis), a smoke set through the published port,
the health checks, ums-fcgi as a TCP pool, and compose down leaving no
container behind. Figures: build times and image sizes.

This machine's quirks, set through CONTAINERS_CONF for this test only:
the runtime is runc (crun refuses its hybrid cgroup hierarchy) and the
containers' ulimits are the host's (root here lacks CAP_SYS_RESOURCE, so
podman's defaults cannot be set). Needs root, podman, podman-compose,
runc and debootstrap (scripts/check --deploy installs them)."""
import glob
import json
import os
import re
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Fail, check, env, request, run_steps, signup_signin, wait_for  # noqa: E402

ROOT = env("UMS_ROOT")
PORT = int(env("UMS_HTTP_PORT")) + 1022
BASE = f"http://127.0.0.1:{PORT}"
WORK = "/tmp/ums-container-test"
CACHE = os.environ.get("UMS_CONTAINER_CACHE", "/var/cache/ums-test")
BASE_IMAGE = "localhost/debian:bookworm-ums-base"
TARGETS = ["ums", "ums-nginx", "ums-postgres", "ums-redis"]
PROJECT = "umstest"
COMPOSE = f"{ROOT}/deploy/container/compose.yaml"

os.makedirs(WORK, exist_ok=True)
with open(f"{WORK}/containers.conf", "w") as f:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 4096)
    f.write(f'[containers]\ndefault_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            '[engine]\nruntime = "runc"\n')
ENV = dict(os.environ, CONTAINERS_CONF=f"{WORK}/containers.conf", UMS_COMPOSE_PORT=str(PORT), BUILDAH_FORMAT="docker",
           UMS_DEBIAN_IMAGE=BASE_IMAGE)


def sh(cmd, timeout=300, ok=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV, **kw)
    if ok and r.returncode != 0:
        raise Fail(f"{' '.join(cmd)}: exit {r.returncode}\n{(r.stdout + r.stderr)[-1500:]}")
    return r


def mirror():
    for path in ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]:
        if os.path.exists(path):
            m = re.search(r"(?:URIs:|^deb)\s+(https?://\S+/debian)\b", open(path).read(), re.M)
            if m:
                return m.group(1)
    return "http://deb.debian.org/debian"


def base():
    """A Debian 12 minbase, made once and kept in CACHE."""
    tar = f"{CACHE}/debian-bookworm-minbase.tar"
    if not os.path.exists(tar):
        os.makedirs(CACHE, exist_ok=True)
        rootfs = f"{WORK}/rootfs"
        subprocess.run(["rm", "-rf", rootfs], check=True)
        t0 = time.time()
        sh(["debootstrap", "--variant=minbase", "bookworm", rootfs, mirror()], timeout=1200)
        # The host's sources (updates, security) for the images' apt-get.
        if os.path.exists("/etc/apt/sources.list.d/debian.sources"):
            sh(["cp", "/etc/apt/sources.list.d/debian.sources", f"{rootfs}/etc/apt/sources.list.d/"])
            sh(["rm", "-f", f"{rootfs}/etc/apt/sources.list"])
        sh(["rm", "-rf", f"{rootfs}/var/cache/apt/archives/*.deb", f"{rootfs}/var/lib/apt/lists"])
        sh(["tar", "-C", rootfs, "-cf", f"{tar}.new", "."], timeout=600)
        os.rename(f"{tar}.new", tar)
        subprocess.run(["rm", "-rf", rootfs], check=True)
        print(f"    debootstrap minbase in {time.time() - t0:.0f} s")
    if sh(["podman", "image", "exists", BASE_IMAGE], ok=False).returncode != 0:
        sh(["podman", "import", tar, BASE_IMAGE], timeout=600)


def build():
    sizes = []
    for t in TARGETS:
        t0 = time.time()
        # docker format: OCI images have no HEALTHCHECK.
        r = sh(["podman", "build", "--format", "docker", "-f", "deploy/container/Dockerfile", "--target", t,
                "--build-arg", f"DEBIAN={BASE_IMAGE}", "-t", f"localhost/{t}:0.1.0", "."],
               timeout=1800, ok=False, cwd=ROOT)
        with open(f"{WORK}/build-{t}.log", "w") as f:
            f.write(r.stdout + r.stderr)
        check(r.returncode == 0, f"build {t}: exit {r.returncode}\n{(r.stdout + r.stderr)[-1500:]}")
        size = int(sh(["podman", "image", "inspect", f"localhost/{t}:0.1.0", "--format", "{{.Size}}"]).stdout)
        sizes.append(f"{t} {time.time() - t0:.0f} s {size / 1e6:.0f} MB")
    print("    built: " + ", ".join(sizes))
    # The build stage's own test log: a cached build prints no make check,
    # but its layer holds the log of the run that made it.
    r = sh(["podman", "build", "--format", "docker", "-f", "deploy/container/Dockerfile", "--target", "build",
            "--build-arg", f"DEBIAN={BASE_IMAGE}", "-t", "localhost/ums-build:0.1.0", "."],
           timeout=1800, ok=False, cwd=ROOT)
    check(r.returncode == 0, f"build stage: exit {r.returncode}\n{(r.stdout + r.stderr)[-1500:]}")
    log = sh(["podman", "run", "--rm", "--entrypoint", "cat", "localhost/ums-build:0.1.0",
              "/build/test-suite.log"]).stdout
    check(re.search(r"^# FAIL: +0$", log, re.M) and re.search(r"^# PASS: +[1-9]\d*$", log, re.M),
          f"make check did not pass in the build stage:\n{log[:800]}")


def image_checks():
    for t in ["ums", "ums-nginx", "ums-postgres", "ums-redis"]:
        img = json.loads(sh(["podman", "image", "inspect", f"localhost/{t}:0.1.0"]).stdout)[0]
        user = img["Config"].get("User", "")
        check(user and not user.startswith("0") and not user.startswith("root"), f"{t} runs as {user!r}")
        # podman shows it beside Config, docker inside.
        hc = img.get("Healthcheck") or img["Config"].get("Healthcheck") or {}
        check(hc.get("Test"), f"{t} has no HEALTHCHECK")
    r = sh(["podman", "run", "--rm", "--entrypoint", "/bin/sh", "localhost/ums:0.1.0", "-c",
            "id -u; for c in cc gcc clang make ld; do command -v $c; done; true"])
    lines = r.stdout.split()
    check(lines[0] == "10001", f"ums runs as uid {lines[0]}")
    check(lines[1:] == [], f"a compiler in the runtime image: {lines[1:]}")
    r = sh(["podman", "run", "--rm", "localhost/ums:0.1.0", "umsctl", "help"])
    check("/etc/ums/ums.conf" in r.stdout, "umsctl in the image does not use /etc/ums/ums.conf")


def compose(*args, timeout=300):
    return sh(["podman-compose", "-p", PROJECT, "-f", COMPOSE] + list(args), timeout=timeout)


def names():
    r = sh(["podman", "ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}",
            "--format", "{{.Names}} {{.State}}"])
    return dict(ln.split(" ", 1) for ln in r.stdout.splitlines() if ln.strip())


def up():
    # A network made before the dnsname plugin was installed has no DNS:
    # made again here, so the services find each other by name.
    sh(["podman", "network", "rm", "-f", f"{PROJECT}_default"], ok=False)
    compose("up", "-d")

    def ready():
        try:
            s, _, _ = request(BASE, "GET", "/readyz", timeout=5)
            return s == 200
        except OSError:
            return False
    t0 = time.time()
    wait_for("/readyz through the compose nginx", ready, 180)
    print(f"    compose up: ready in {time.time() - t0:.0f} s")
    states = names()
    for svc in ["postgres", "redis", "ums-fcgi", "notifier", "nginx"]:
        check(states.get(f"{PROJECT}_{svc}_1", "").startswith(("Up", "running")), f"{svc}: {states}")
    for svc in ["secrets", "migrate"]:
        c = f"{PROJECT}_{svc}_1"
        code = sh(["podman", "inspect", c, "--format", "{{.State.ExitCode}}"]).stdout.strip()
        check(code == "0", f"{svc} exited {code}: {sh(['podman', 'logs', c], ok=False).stderr[-500:]}")


def maildir_files():
    mp = sh(["podman", "volume", "inspect", f"{PROJECT}_ums-mail", "--format", "{{.Mountpoint}}"]).stdout.strip()
    return glob.glob(f"{mp}/new/*")


def smoke():
    email, tok = signup_signin(BASE, "box")
    s, _, b = request(BASE, "POST", "/auth/v1/token?grant_type=refresh_token",
                      {"refresh_token": tok["refresh_token"]})
    check(s == 200, f"refresh: {s} {b[:200]!r}")
    s, _, b = request(BASE, "POST", "/auth/v1/signup", {"email": "not an address", "password": "x"})
    check(s in (400, 422) and json.loads(b).get("error_code"), f"bad sign-up: {s} {b[:200]!r}")
    s, _, b = request(BASE, "GET", "/metrics")
    check(s == 403, f"/metrics on the public port: {s}")
    wait_for("the welcome mail in the notifier's volume",
             lambda: any(email in open(f, errors="replace").read() for f in maildir_files()), 30)


def health():
    for svc in ["ums-fcgi", "notifier", "nginx", "postgres", "redis"]:
        c = f"{PROJECT}_{svc}_1"
        r = sh(["podman", "healthcheck", "run", c], ok=False)
        check(r.returncode == 0, f"healthcheck {svc}: {r.returncode} {r.stdout}{r.stderr}")
    r = sh(["podman", "exec", f"{PROJECT}_ums-fcgi_1", "umsctl", "ping", "--path", "/metrics"])
    check(r.stdout.strip().endswith("/metrics: 200"), f"/metrics over FastCGI: {r.stdout}")
    # Without its pid file the notifier is not healthy.
    sh(["podman", "exec", f"{PROJECT}_notifier_1", "rm", "-f", "/run/ums/ums-notifier.pid"],
       ok=False)
    r = sh(["podman", "healthcheck", "run", f"{PROJECT}_notifier_1"], ok=False)
    check(r.returncode != 0, "the notifier's health check passes without its pid file")
    sh(["podman", "restart", f"{PROJECT}_notifier_1"], timeout=60)


def tcp_pool():
    """ums-fcgi as a pool on TCP (another web server, another host)."""
    net = sh(["podman", "inspect", f"{PROJECT}_ums-fcgi_1", "--format",
              "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"]).stdout.split()[0]
    name = f"{PROJECT}_tcp"
    sh(["podman", "run", "-d", "--name", name, "--network", net, "--read-only", "--cap-drop", "ALL",
        "-e", "UMS_SERVER_LISTEN=0.0.0.0:9000", "-e", "UMS_SERVER_WORKERS=2",
        "-v", f"{PROJECT}_ums-secrets:/run/secrets:ro", "-v", "/run/ums", "-v", "/var/lib/ums/avatars",
        "localhost/ums:0.1.0", "ums-fcgi"])
    try:
        def pinged():
            r = sh(["podman", "exec", name, "umsctl", "ping", "--listen", "127.0.0.1:9000", "--path", "/readyz"],
                   ok=False)
            return r.returncode == 0
        wait_for("the TCP pool", pinged, 60)
        # From another container, by the address the network gave it.
        ip = sh(["podman", "inspect", name, "--format",
                 "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"]).stdout.strip()
        check(re.fullmatch(r"\d+\.\d+\.\d+\.\d+", ip), f"the TCP pool's address: {ip!r}")
        r = sh(["podman", "exec", f"{PROJECT}_ums-fcgi_1", "umsctl", "ping", "--listen", f"{ip}:9000"])
        check(r.stdout.strip().endswith(": 200"), f"from another container: {r.stdout}")
    finally:
        sh(["podman", "rm", "-f", "-v", name], ok=False)


def down():
    compose("down", "-v", timeout=300)
    for c in names():
        sh(["podman", "rm", "-f", c], ok=False)
    check(names() == {}, f"left after down: {names()}")
    r = sh(["podman", "volume", "ls", "--filter", f"label=io.podman.compose.project={PROJECT}", "-q"])
    for v in r.stdout.split():
        sh(["podman", "volume", "rm", "-f", v], ok=False)


def cleanup():
    try:
        for c in names():
            sh(["podman", "rm", "-f", c], ok=False, timeout=120)
        r = sh(["podman", "volume", "ls", "--filter", f"label=io.podman.compose.project={PROJECT}", "-q"], ok=False)
        for v in r.stdout.split():
            sh(["podman", "volume", "rm", "-f", v], ok=False)
    except Exception as e:  # noqa: BLE001 - a cleanup must not hide the result
        print(f"    cleanup: {e}")


def main():
    if os.geteuid() != 0:
        print("FAIL container/root\n    podman's bridge network and debootstrap need root")
        print("0 passed, 1 failed")
        return 1
    cleanup()
    steps = [("container/base", base), ("container/build", build), ("container/images", image_checks),
             ("container/compose-up", up), ("container/smoke", smoke), ("container/health", health),
             ("container/tcp-pool", tcp_pool), ("container/compose-down", down)]
    try:
        return run_steps(steps)
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
