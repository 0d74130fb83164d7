/* test_preflight.c - every file the configuration names is loaded and checked
 * before anything starts (core/preflight.c): `ums-fcgi --check`, `umsctl
 * config check`, the start-up of ums-fcgi and ums-notifier, and a SIGHUP.
 * For each kind of file (signing key, secret file, templates, CA file,
 * avatar folder, FCM service account): missing, unreadable by the service
 * user, malformed, wrong key type or size. Run by scripts/check after
 * scripts/up, with .stack/env in the environment, as the stack's owner. */
#define CTEST_MAIN
#include "../ctest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fcgi_client.h"
#include "stack.h"

static char dir[512]; /* $UMS_STACK/preflight: the test's files */

/* Runs cmd from the repository root with stdout and stderr in out; its exit
 * status, or -1. */
static int run(const char *cmd, char *out, size_t n)
{
    char full[8192];
    FILE *p;
    size_t got;
    int st;

    snprintf(full, sizeof(full), "cd '%s' && (%s) 2>&1", env_need("UMS_ROOT"), cmd);
    p = popen(full, "r");
    if (p == NULL)
        return -1;
    got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The fixture: bad files of every kind, beside good ones, in a folder the
 * service user can enter. "Unreadable" files belong to root with mode 0600
 * (or mode 0 when the stack runs as its caller), so only the service user's
 * view makes them bad.
 */
static int fixture(void)
{
    char cmd[8192], out[1024];
    const char *stack = env_need("UMS_STACK");

    snprintf(dir, sizeof(dir), "%s/preflight", stack);
    snprintf(
        cmd, sizeof(cmd),
        "set -e; d='%s'; rm -rf \"$d\"; mkdir -p \"$d\"; cd \"$d\"\n"
        "svc=$(sed -n 's/^user = //p' \"$UMS_CONFIG\")\n"
        "shut() { if [ -n \"$svc\" ]; then chmod 0600 \"$@\"; else chmod 0 \"$@\"; fi; }\n"
        "open_() { [ -n \"$svc\" ] && chgrp -R \"$svc\" \"$@\"; chmod -R g+rX,o-rwx \"$@\"; }\n"
        /* keys */
        "echo 'not a key' >bad.pem\n"
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem\n"
        "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.pem\n"
        "cp \"%s/keys/jwt-private.pem\" good.pem; cp good.pem shut.pem\n"
        /* secrets */
        "printf 'tooshort' >short.secret\n"
        "printf 'aaaaaaaaaaaaaaaa\\0bbbbbbbbbbbbbbbbbbbb' >nul.secret\n"
        "head -c 48 /dev/zero | tr '\\0' s >shut.secret\n"
        /* templates */
        "cp -r \"$UMS_ROOT/templates\" tpl-good; cp -r tpl-good tpl-bad; cp -r tpl-good tpl-shut\n"
        "printf 'Subject: Hi {{nickname}}\\n\\nHello\\n' >tpl-bad/welcome.txt\n"
        /* CA files */
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=preflight >/dev/null 2>&1; cp ca.pem shut-ca.pem; rm ca.key\n"
        /* avatar folders */
        "mkdir avatars avatars-ro; echo x >avatars-file\n"
        /* service accounts */
        "k=$(sed 's/$/\\\\n/' good.pem | tr -d '\\n')\n"
        "printf '{\"type\":\"service_account\",\"project_id\":\"p\",\"client_email\":\"a@p\","
        "\"token_uri\":\"http://127.0.0.1:9/token\",\"private_key\":\"%%s\"}' \"$k\" >sa.json\n"
        "e=$(sed 's/$/\\\\n/' ec.pem | tr -d '\\n')\n"
        "printf '{\"type\":\"service_account\",\"project_id\":\"p\",\"client_email\":\"a@p\","
        "\"token_uri\":\"http://127.0.0.1:9/token\",\"private_key\":\"%%s\"}' \"$e\" >sa-ec.json\n"
        "echo '{\"type\":' >sa-bad.json; cp sa.json sa-shut.json\n"
        "open_ .\n"
        "[ -n \"$svc\" ] && chown \"$svc\" avatars\n"
        "chmod 0750 avatars; chmod 0755 avatars-ro; [ -n \"$svc\" ] || chmod 0555 avatars-ro\n"
        "shut shut.pem shut.secret shut-ca.pem sa-shut.json; chmod 0700 tpl-shut\n"
        "[ -n \"$svc\" ] || chmod 0 tpl-shut\n",
        dir, stack);
    return run(cmd, out, sizeof(out)) == 0 ? 0 : (fprintf(stderr, "fixture: %s\n", out), -1);
}

struct bad {
    const char *name;
    const char *env;  /* assignments; {dir} is the fixture folder */
    const char *file; /* the file the message must name */
    const char *why;  /* and the problem */
};

static const struct bad bads[] = {
    {"key missing", "UMS_AUTH_JWT_PRIVATE_KEY_FILE={dir}/none.pem", "none.pem", "No such file"},
    {"key unreadable", "UMS_AUTH_JWT_PRIVATE_KEY_FILE={dir}/shut.pem", "shut.pem",
     "Permission denied"},
    {"key malformed", "UMS_AUTH_JWT_PRIVATE_KEY_FILE={dir}/bad.pem", "bad.pem",
     "not a PEM private key"},
    {"key of the wrong type", "UMS_AUTH_JWT_PRIVATE_KEY_FILE={dir}/ec.pem", "ec.pem", "EC key"},
    {"key too small", "UMS_AUTH_JWT_PRIVATE_KEY_FILE={dir}/rsa1024.pem", "rsa1024.pem",
     "1024 bits"},
    {"secret missing", "UMS_AUTH_REFRESH_TOKEN_SECRET_FILE={dir}/none.secret", "none.secret",
     "No such file"},
    {"secret unreadable", "UMS_AUTH_REFRESH_TOKEN_SECRET_FILE={dir}/shut.secret", "shut.secret",
     "Permission denied"},
    {"secret malformed (NUL)", "UMS_AUTH_REFRESH_TOKEN_SECRET_FILE={dir}/nul.secret", "nul.secret",
     "NUL"},
    {"secret too short", "UMS_AUTH_REFRESH_TOKEN_SECRET_FILE={dir}/short.secret",
     "refresh_token_secret", "at least 32"},
    {"service key too short", "UMS_AUTH_SERVICE_KEY=short-key", "service_key", "at least 32"},
    {"templates missing", "UMS_EMAIL_TEMPLATES_DIR={dir}/tpl-none", "tpl-none", "No such file"},
    {"templates unreadable", "UMS_EMAIL_TEMPLATES_DIR={dir}/tpl-shut", "tpl-shut",
     "Permission denied"},
    {"template malformed", "UMS_EMAIL_TEMPLATES_DIR={dir}/tpl-bad", "welcome", "nickname"},
    {"CA file missing", "UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_CA_FILE={dir}/none-ca.pem",
     "none-ca.pem", "No such file"},
    {"CA file unreadable", "UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_CA_FILE={dir}/shut-ca.pem",
     "shut-ca.pem", "Permission denied"},
    {"CA file malformed", "UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_CA_FILE={dir}/bad.pem",
     "bad.pem", "no PEM certificate"},
    {"avatar folder missing", "UMS_STORAGE_LOCAL_DIR={dir}/avatars-none", "avatars-none",
     "No such file"},
    {"avatar folder not writable", "UMS_STORAGE_LOCAL_DIR={dir}/avatars-ro", "avatars-ro",
     "cannot be written"},
    {"avatar folder is a file", "UMS_STORAGE_LOCAL_DIR={dir}/avatars-file", "avatars-file",
     "not a folder"},
    {"service account missing",
     "UMS_PUSH_TRANSPORT=fcm UMS_PUSH_FCM_SERVICE_ACCOUNT_FILE={dir}/none.json", "none.json",
     "No such file"},
    {"service account unreadable",
     "UMS_PUSH_TRANSPORT=fcm UMS_PUSH_FCM_SERVICE_ACCOUNT_FILE={dir}/sa-shut.json", "sa-shut.json",
     "Permission denied"},
    {"service account malformed",
     "UMS_PUSH_TRANSPORT=fcm UMS_PUSH_FCM_SERVICE_ACCOUNT_FILE={dir}/sa-bad.json", "sa-bad.json",
     "not a service account"},
    {"service account key of the wrong type",
     "UMS_PUSH_TRANSPORT=fcm UMS_PUSH_FCM_SERVICE_ACCOUNT_FILE={dir}/sa-ec.json", "sa-ec.json",
     "not an RSA key"},
};

/* One checker ("fcgi" or "umsctl") with the environment env. */
static int check_with(const char *tool, const char *env, char *out, size_t n)
{
    char cmd[4096], assign[1024];
    const char *at = strstr(env, "{dir}");

    if (at != NULL)
        snprintf(assign, sizeof(assign), "%.*s%s%s", (int)(at - env), env, dir, at + 5);
    else
        snprintf(assign, sizeof(assign), "%s", env);
    if (strcmp(tool, "fcgi") == 0)
        snprintf(cmd, sizeof(cmd),
                 "env %s \"$UMS_BUILD_DIR/fcgi/ums-fcgi\" --config "
                 "\"$UMS_CONFIG\" --check",
                 assign);
    else
        snprintf(cmd, sizeof(cmd),
                 "env %s \"$UMS_BUILD_DIR/cli/umsctl\" --config \"$UMS_CONFIG\" "
                 "config check",
                 assign);
    return run(cmd, out, n);
}

CTEST(preflight, good_files_pass_both_checks)
{
    static const char *const goods[] = {
        "UMS_AUTH_JWT_PRIVATE_KEY_FILE={dir}/good.pem",
        "UMS_EMAIL_TEMPLATES_DIR={dir}/tpl-good",
        "UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_CA_FILE={dir}/ca.pem",
        "UMS_STORAGE_LOCAL_DIR={dir}/avatars",
        "UMS_PUSH_TRANSPORT=fcm UMS_PUSH_FCM_SERVICE_ACCOUNT_FILE={dir}/sa.json",
        "UMS_SERVER_WORKERS=2",
    };
    char out[4096];

    ASSERT_EQ(fixture(), 0);
    for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
        int a = check_with("fcgi", goods[i], out, sizeof(out));
        if (a != 0)
            CTEST_FAIL_("ums-fcgi --check with %s: %d %s", goods[i], a, out);
        ASSERT_STR_CONTAINS(out, ": ok");
        a = check_with("umsctl", goods[i], out, sizeof(out));
        if (a != 0)
            CTEST_FAIL_("umsctl config check with %s: %d %s", goods[i], a, out);
        ASSERT_STR_CONTAINS(out, ": ok");
    }
}

CTEST(preflight, every_bad_file_is_refused_by_name_by_both_checks)
{
    char out[4096];
    int failed = 0;

    ASSERT_EQ(fixture(), 0);
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
        const char *tools[] = {"fcgi", "umsctl"};
        for (int t = 0; t < 2; t++) {
            int rc = check_with(tools[t], bads[i].env, out, sizeof(out));
            if (rc == 0 || rc == -1 || strstr(out, bads[i].file) == NULL ||
                strstr(out, bads[i].why) == NULL) {
                fprintf(stderr, "    %s, %s: exit %d: %s", bads[i].name, tools[t], rc, out);
                failed++;
            }
        }
    }
    ASSERT_EQ(failed, 0);
}

CTEST(preflight, start_up_stops_on_a_bad_key_before_any_worker)
{
    char cmd[4096], out[4096], sock[600];

    ASSERT_EQ(fixture(), 0);
    snprintf(sock, sizeof(sock), "%s/pool.sock", dir);
    /* In the foreground: it must refuse and exit, not respawn workers. */
    snprintf(cmd, sizeof(cmd),
             "UMS_AUTH_JWT_PRIVATE_KEY_FILE='%s/bad.pem' UMS_SERVER_LISTEN='%s' "
             "UMS_SERVER_AUTHORIZER_LISTEN= "
             "UMS_SERVER_PID_FILE='%s/pool.pid' UMS_LOG_FILE= timeout 20 "
             "\"$UMS_BUILD_DIR/fcgi/ums-fcgi\" --config \"$UMS_CONFIG\"",
             dir, sock, dir);
    ASSERT_EQ(run(cmd, out, sizeof(out)), 2);
    ASSERT_STR_CONTAINS(out, "bad.pem");
    ASSERT_STR_CONTAINS(out, "not a PEM private key");
    ASSERT_NE(access(sock, F_OK), 0); /* never bound */
    /* The notifier too, with a CA file that holds no certificate. */
    snprintf(cmd, sizeof(cmd),
             "UMS_EMAIL_TRANSPORT=smtp UMS_EMAIL_SMTP_CA_FILE='%s/bad.pem' timeout 20 "
             "\"$UMS_BUILD_DIR/notifier/ums-notifier\" --config \"$UMS_CONFIG\" --once",
             dir);
    ASSERT_EQ(run(cmd, out, sizeof(out)), 2);
    ASSERT_STR_CONTAINS(out, "smtp_ca_file");
    ASSERT_STR_CONTAINS(out, "no PEM certificate");
}

/* The workers of master (children named ums-fcgi), sorted; how many. */
static int pool(pid_t master, pid_t *out, int max)
{
    int n = children(master, "ums-fcgi", out, max);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            pid_t t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

static int jwks_status(const char *sock)
{
    const char *p[] = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/auth/v1/.well-known/jwks.json",
                       NULL};
    char *out = NULL;
    int st = fcgi_request(sock, p, "", 0, &out) == 0 ? fcgi_status(out) : -1;
    free(out);
    return st;
}

CTEST(preflight, sighup_with_a_bad_key_keeps_the_running_pool)
{
    char cmd[4096], out[4096], sock[600], pidf[600], logf[600];
    pid_t before[8], after[8], master;
    int n, m, refused = 0, replaced = 0;

    ASSERT_EQ(fixture(), 0);
    /* In the run folder: the service user must remove them at the end. */
    snprintf(sock, sizeof(sock), "%s/run/preflight-hup.sock", env_need("UMS_STACK"));
    snprintf(pidf, sizeof(pidf), "%s/run/preflight-hup.pid", env_need("UMS_STACK"));
    snprintf(logf, sizeof(logf), "%s/hup.log", dir);
    snprintf(
        cmd, sizeof(cmd),
        "cp -p '%1$s/good.pem' '%1$s/live.pem' && UMS_AUTH_JWT_PRIVATE_KEY_FILE='%1$s/live.pem' "
        "UMS_SERVER_LISTEN='%2$s' UMS_SERVER_AUTHORIZER_LISTEN= UMS_SERVER_PID_FILE='%3$s' "
        "UMS_SERVER_WORKERS=2 "
        "UMS_LOG_FILE='%4$s' \"$UMS_BUILD_DIR/fcgi/ums-fcgi\" --config \"$UMS_CONFIG\" --daemon",
        dir, sock, pidf, logf);
    ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
    master = 0;
    for (int i = 0; i < 100 && (master <= 0 || pool(master, before, 8) < 2); i++) {
        FILE *f = fopen(pidf, "r");
        long p = 0;
        if (f != NULL) {
            if (fscanf(f, "%ld", &p) != 1)
                p = 0;
            fclose(f);
        }
        master = (pid_t)p;
        sleep_ms(100);
    }
    ASSERT_TRUE(master > 0);
    n = pool(master, before, 8);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(jwks_status(sock), 200);
    /* The key file is broken under the running pool, then SIGHUP. */
    snprintf(cmd, sizeof(cmd), "cat '%s/bad.pem' >'%s/live.pem'", dir, dir);
    ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
    kill(master, SIGHUP);
    for (int i = 0; i < 50 && !refused; i++) {
        snprintf(cmd, sizeof(cmd), "grep -c 'reload refused' '%s'", logf);
        refused = run(cmd, out, sizeof(out)) == 0;
        sleep_ms(100);
    }
    ASSERT_TRUE(refused);
    snprintf(cmd, sizeof(cmd), "grep 'reload refused' '%s'", logf);
    ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
    ASSERT_STR_CONTAINS(out, "live.pem");
    ASSERT_STR_CONTAINS(out, "not a PEM private key");
    sleep_ms(300);
    m = pool(master, after, 8);
    ASSERT_EQ(m, n);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(after[i], before[i]); /* the same workers: none was replaced */
    ASSERT_EQ(jwks_status(sock), 200);
    /* Mended, a SIGHUP is taken: new workers. */
    snprintf(cmd, sizeof(cmd), "cat '%s/good.pem' >'%s/live.pem'", dir, dir);
    ASSERT_EQ(run(cmd, out, sizeof(out)), 0);
    kill(master, SIGHUP);
    for (int i = 0; i < 100 && !replaced; i++) {
        sleep_ms(100);
        m = pool(master, after, 8);
        replaced = m == n;
        for (int j = 0; j < m && replaced; j++)
            for (int k = 0; k < n; k++)
                if (after[j] == before[k])
                    replaced = 0;
    }
    ASSERT_TRUE(replaced);
    ASSERT_EQ(jwks_status(sock), 200);
    /* The master removes its socket last, as it exits. */
    kill(master, SIGTERM);
    for (int i = 0; i < 100 && access(sock, F_OK) == 0; i++)
        sleep_ms(100);
    ASSERT_NE(access(sock, F_OK), 0);
}
