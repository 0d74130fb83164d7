#!/usr/bin/env python3
"""tests/stack/test_keys.py - signing-key rotation on the running stack
(issue 17, part 6): the pool moves from [auth] jwt_private_key_file to a
key folder (umsctl keys import) without logging anyone out, `umsctl keys
rotate` and a SIGHUP make new tokens carry the new kid while old ones keep
working, a retired key's tokens are refused, a bad folder is refused at
start-up naming the file and on reload keeps the old set, and an
@supabase/auth-js session lives through a rotation. Restores the stack's
single-key pool at the end. Run with the stack's environment:
    (set -a; . .stack/env; set +a; python3 tests/stack/test_keys.py)
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import check, env, file_size, request, run_steps, sh, signup_signin, text_since, wait_for  # noqa: E402

ROOT = env("UMS_ROOT")
STACK = env("UMS_STACK")
BUILD = env("UMS_BUILD_DIR")
BASE = env("UMS_URL")
CONFIG = env("UMS_CONFIG")
KEYS = f"{STACK}/jwt-keys"
BAD = f"{STACK}/jwt-keys-bad"
UMSCTL = f"{BUILD}/cli/umsctl"
PIDFILE = f"{STACK}/run/ums-fcgi.pid"
LOG = f"{STACK}/log/ums.log"
FOLDER_ENV = {"UMS_AUTH_JWT_KEYS_DIR": KEYS, "UMS_AUTH_JWT_PRIVATE_KEY_FILE": ""}
state = {}




def umsctl(*args, ok=True):
    return sh([UMSCTL, "--config", CONFIG, "keys"] + list(args) + ["--dir", KEYS], ok=ok)


def kid_of(jwt):
    h = jwt.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"]


def user_status(tok):
    return request(BASE, "GET", "/auth/v1/user", headers={"Authorization": f"Bearer {tok}"})[0]


def user_refusal(tok):
    """GET /auth/v1/user with a token that must be refused: GoTrue's 403
    bad_jwt. Returns what went wrong, or None."""
    s, _, b = request(BASE, "GET", "/auth/v1/user", headers={"Authorization": f"Bearer {tok}"})
    code = json.loads(b).get("error_code") if b[:1] == b"{" else None
    return None if s == 403 and code == "bad_jwt" else f"{s} {b[:200]!r}"


def jwks_kids():
    s, _, b = request(BASE, "GET", "/auth/v1/.well-known/jwks.json")
    check(s == 200, f"jwks: {s}")
    return [k["kid"] for k in json.loads(b)["keys"]]






def reload_pool(expect="reloaded:"):
    """SIGHUP to the pool's master; waits for its log line (reloaded: or
    reload refused) and returns the log written meanwhile."""
    off = file_size(LOG)
    pid = int(open(PIDFILE).read().split()[0])
    os.kill(pid, 1)
    wait_for(f"'{expect}' in ums.log", lambda: expect in text_since(LOG, off), 15)
    # Old workers finish their request; new ones answer from here on.
    time.sleep(0.5)
    return text_since(LOG, off)


def rotate():
    """One rotation: a new active key, then the reload. Prints the new kid."""
    r = umsctl("rotate")
    kid = next(line.split()[1] for line in r.stdout.splitlines() if line.startswith("added "))
    reload_pool()
    return kid


def restart_pool(extra_env):
    sh([f"{ROOT}/scripts/down", "fcgi"])
    sh([f"{ROOT}/scripts/up"], extra_env=extra_env, timeout=300)


def setup_folder():
    key = f"{STACK}/keys/jwt-private.pem"
    _, tok = signup_signin(BASE, "keys-before")
    state["tok0"] = tok
    state["kid0"] = kid_of(tok["access_token"])
    shutil.rmtree(KEYS, ignore_errors=True)
    os.mkdir(KEYS, 0o750)
    os.chown(KEYS, 0, os.stat(key).st_gid)
    r = umsctl("import", key)
    check(f"as {state['kid0']}" in r.stdout, f"import did not keep the kid {state['kid0']}: {r.stdout}")
    st = os.stat(f"{KEYS}/{state['kid0']}.pem")
    check(st.st_mode & 0o777 == 0o640 and st.st_gid == os.stat(key).st_gid,
          f"imported key mode {st.st_mode & 0o777:o} gid {st.st_gid}")
    restart_pool(FOLDER_ENV)
    check(user_status(tok["access_token"]) == 200, "a token of the single-key pool is refused by the folder pool")
    check(jwks_kids() == [state["kid0"]], f"jwks {jwks_kids()}")


def list_shows_active():
    r = umsctl("list")
    check(f"{state['kid0']}\tactive" in r.stdout and "1 key, " in r.stdout, r.stdout)


def rotation_keeps_old_tokens():
    kid1 = rotate()
    state["kid1"] = kid1
    check(kid1 != state["kid0"], "rotate kept the kid")
    check(jwks_kids() == [kid1, state["kid0"]], f"jwks after rotation {jwks_kids()}")
    tok0 = state["tok0"]
    check(user_status(tok0["access_token"]) == 200, "a token signed before the rotation is refused")
    _, tok1 = signup_signin(BASE, "keys-after")
    check(kid_of(tok1["access_token"]) == kid1, f"new token kid {kid_of(tok1['access_token'])}")
    s, _, b = request(BASE, "POST", "/auth/v1/token?grant_type=refresh_token",
                      {"refresh_token": tok0["refresh_token"]})
    check(s == 200, f"refresh of a pre-rotation session: {s} {b[:200]!r}")
    fresh = json.loads(b)
    check(kid_of(fresh["access_token"]) == kid1, "the refreshed token is not signed by the new key")
    check(user_status(fresh["access_token"]) == 200, "the refreshed token is refused")
    state["tok1"] = tok1


def retire_refusals():
    r = umsctl("retire", state["kid1"], ok=False)
    check(r.returncode == 1 and "is the key that signs" in r.stderr, f"retiring the active key: {r.stderr}")
    r = umsctl("retire", state["kid0"], ok=False)
    check(r.returncode == 1 and "may be valid for" in r.stderr, f"retiring a key too soon: {r.stderr}")
    r = umsctl("retire", "no/such", ok=False)
    check(r.returncode == 1 and "not a key id" in r.stderr, f"a bad kid: {r.stderr}")
    check(user_status(state["tok0"]["access_token"]) == 200, "a refused retire changed something")


def retired_key_is_refused():
    umsctl("retire", state["kid0"], "--force")
    check(os.path.exists(f"{KEYS}/retired/{state['kid0']}.pem"), "the retired key was not kept in retired/")
    reload_pool()
    why = user_refusal(state["tok0"]["access_token"])
    check(why is None, f"a retired key's token is not refused with 403 bad_jwt: {why}")
    check(user_status(state["tok1"]["access_token"]) == 200, "the active key's token is refused")
    check(jwks_kids() == [state["kid1"]], f"jwks after retiring {jwks_kids()}")


def put_key_file(folder, name, text=None, copy_of=None):
    """A file in the key folder as an operator would leave it: the folder's
    group, 0640, so the pool can read it."""
    path = f"{folder}/{name}"
    if copy_of:
        shutil.copyfile(copy_of, path)
    else:
        with open(path, "w") as f:
            f.write(text)
    os.chown(path, 0, os.stat(folder).st_gid)
    os.chmod(path, 0o640)


def bad_folder_on_reload_keeps_the_old_set():
    put_key_file(KEYS, "broken.pem", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
    text = reload_pool("reload refused")
    check("broken.pem is not a PEM private key" in text, f"the refusal does not name the file: {text[-400:]}")
    os.unlink(f"{KEYS}/broken.pem")
    put_key_file(KEYS, "again.pem", copy_of=f"{KEYS}/{state['kid1']}.pem")
    text = reload_pool("reload refused")
    check("hold the same key" in text and "again.pem" in text, f"a duplicated key: {text[-400:]}")
    os.unlink(f"{KEYS}/again.pem")
    check(user_status(state["tok1"]["access_token"]) == 200, "the old key set is gone after a refused reload")
    check(jwks_kids() == [state["kid1"]], f"jwks after a refused reload {jwks_kids()}")
    reload_pool()  # the repaired folder loads again


def bad_folder_refused_at_start():
    shutil.rmtree(BAD, ignore_errors=True)
    shutil.copytree(KEYS, BAD)
    gid = os.stat(KEYS).st_gid
    for dirpath, _, files in os.walk(BAD):
        os.chown(dirpath, 0, gid)
        for name in files:
            os.chown(os.path.join(dirpath, name), 0, gid)
    put_key_file(BAD, "cut.pem", "not a key\n")
    bad_env = {"UMS_AUTH_JWT_KEYS_DIR": BAD, "UMS_AUTH_JWT_PRIVATE_KEY_FILE": "",
               "UMS_SERVER_LISTEN": f"{STACK}/run/keys-test.sock",
               "UMS_SERVER_PID_FILE": f"{STACK}/run/keys-test.pid"}
    r = sh([f"{BUILD}/fcgi/ums-fcgi", "--config", CONFIG], ok=False, extra_env=bad_env, timeout=30)
    check(r.returncode == 2 and f"{BAD}/cut.pem is not a PEM private key" in r.stderr,
          f"ums-fcgi with a bad key folder: exit {r.returncode} {r.stderr[-400:]}")
    check(not os.path.exists(f"{STACK}/run/keys-test.sock"), "ums-fcgi listened with a bad key folder")
    r = sh([UMSCTL, "--config", CONFIG, "config", "check"], ok=False, extra_env=bad_env)
    check(r.returncode == 1 and "cut.pem" in r.stderr, f"umsctl config check: {r.returncode} {r.stderr[-300:]}")
    # The single-file setting too: it used to start and respawn crashing workers.
    put_key_file(BAD, "single.pem", "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n")
    file_env = dict(bad_env, UMS_AUTH_JWT_KEYS_DIR="", UMS_AUTH_JWT_PRIVATE_KEY_FILE=f"{BAD}/single.pem")
    r = sh([f"{BUILD}/fcgi/ums-fcgi", "--config", CONFIG], ok=False, extra_env=file_env, timeout=30)
    check(r.returncode == 2 and f"jwt_private_key_file: {BAD}/single.pem is not a PEM private key" in r.stderr,
          f"ums-fcgi with a malformed jwt_private_key_file: exit {r.returncode} {r.stderr[-400:]}")
    check(not os.path.exists(f"{STACK}/run/keys-test.sock"), "ums-fcgi listened with a malformed key file")
    shutil.rmtree(BAD)


def auth_js_session_survives():
    js = f"{ROOT}/tests/js"
    if not os.path.isdir(f"{js}/node_modules/@supabase/auth-js"):
        sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], timeout=300)
    cmd = f"{sys.executable} {os.path.abspath(__file__)} rotate"
    access = env("UMS_ACCESS_LOG")
    off = os.path.getsize(access)
    r = subprocess.run(["node", f"{js}/rotation.mjs", cmd], capture_output=True, text=True, timeout=120, cwd=js)
    print("\n".join("    " + line for line in r.stdout.splitlines()))
    check(r.returncode == 0, f"auth-js across a rotation: exit {r.returncode}\n{r.stderr[-1500:]}")
    # getClaims verified with the JWKS: fetched once, and again for the new
    # kid. nginx may log this test's own last requests after the offset was
    # taken, so only node's requests count.
    with open(access, "rb") as f:
        f.seek(off)
        lines = [json.loads(line) for line in f.read().decode(errors="replace").splitlines() if line]
    fetched = sum(1 for d in lines if d.get("user_agent.original") == "node"
                  and "/auth/v1/.well-known/jwks.json" in d.get("message", ""))
    check(fetched == 2, f"auth-js fetched the JWKS {fetched} times, not 2")


def restore():
    restart_pool({})
    shutil.rmtree(KEYS, ignore_errors=True)
    shutil.rmtree(BAD, ignore_errors=True)
    _, tok = signup_signin(BASE, "keys-restored")
    check(kid_of(tok["access_token"]) == state.get("kid0", kid_of(tok["access_token"])),
          "the restored pool signs with another key")


if __name__ == "__main__":
    if sys.argv[1:] == ["rotate"]:
        print(rotate())
        sys.exit(0)
    sys.exit(run_steps([
        ("keys/import_into_a_folder_logs_no_one_out", setup_folder),
        ("keys/list_shows_the_active_key", list_shows_active),
        ("keys/rotation_keeps_old_tokens_new_ones_carry_the_new_kid", rotation_keeps_old_tokens),
        ("keys/retire_refuses_the_active_key_and_a_key_too_soon", retire_refusals),
        ("keys/a_retired_keys_tokens_are_refused", retired_key_is_refused),
        ("keys/a_bad_folder_on_reload_keeps_the_old_set", bad_folder_on_reload_keeps_the_old_set),
        ("keys/a_bad_folder_is_refused_at_start_naming_the_file", bad_folder_refused_at_start),
        ("keys/an_auth_js_session_survives_a_rotation", auth_js_session_survives),
        ], cleanup=[("keys/the_single_key_pool_is_back", restore)]))
