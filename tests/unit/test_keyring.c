/* test_keyring.c - a folder of signing keys: rotation keeps old tokens
 * verifying, a retired key's tokens are refused, and a bad folder is
 * refused with the file named. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../../core/config.h"
#include "../../core/keygen.h"
#include "../../core/keyring.h"
#include "../../core/tokens.h"
#include "../../util/b64.h"
#include "../../util/buf.h"
#include "../../util/ums.h"

static char dir[64];
static char kid_a[23], kid_b[23];

static const struct token_claims claims = {"7d1c0a8e-6b1f-4a53-9f1e-2c3d4e5f6a7b",
                                           "a@example.com",
                                           "",
                                           "0b7e5c1d-1111-4a53-9f1e-2c3d4e5f6a7b",
                                           "user",
                                           "{}",
                                           "{}",
                                           "[]",
                                           "aal1",
                                           0};

/* A shell command in dir. */
static void sh(const char *cmd)
{
    char full[1024];
    snprintf(full, sizeof(full), "cd %s && %s", dir, cmd);
    if (system(full) != 0)
        fprintf(stderr, "failed: %s\n", full);
}

/* The same with kid_a between before and after. A kid is base64url and may
 * begin with "-": the commands put "--" before it. */
static void sh_a(const char *before, const char *after)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s%s%s", before, kid_a, after);
    sh(cmd);
}

static void write_file(const char *name, const char *text, int mode)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
        chmod(path, (mode_t)mode);
    }
}

/* A key pair as dir/KID.pem and dir/KID.pub; its kid into kid. */
static int add_key(char kid[23])
{
    char priv[256], pub[256], to[256], err[256];
    snprintf(priv, sizeof(priv), "%s/new.pem", dir);
    snprintf(pub, sizeof(pub), "%s/new.pub", dir);
    if (keygen_rsa(priv, pub, 2048, kid, err, sizeof(err)) != 0)
        return -1;
    snprintf(to, sizeof(to), "%s/%s.pem", dir, kid);
    rename(priv, to);
    snprintf(to, sizeof(to), "%s/%s.pub", dir, kid);
    rename(pub, to);
    return 0;
}

/* tokens_open on [auth] jwt_keys_dir = dir (plus extra); err gets why. */
static struct tokens *open_dir(const char *extra, char *err, size_t errlen)
{
    char text[1024];
    struct ums_config *cfg;
    struct tokens *t = NULL;

    snprintf(text, sizeof(text),
             "[auth]\njwt_keys_dir = %s\nexternal_url = https://id.example/auth/v1\n%s", dir,
             extra != NULL ? extra : "");
    if (config_parse(&cfg, text, strlen(text), "t", err, errlen) != 0)
        return NULL;
    tokens_open(&t, cfg, err, errlen);
    config_free(cfg);
    return t;
}

static int verify(struct tokens *t, const char *jwt)
{
    struct json_object *c = NULL;
    const char *why;
    int rc = tokens_verify(t, jwt, strlen(jwt), 1000001, &c, &why);
    json_object_put(c);
    return rc;
}

/* 1 when the kid in a token's header, decoded. */
static int header_has(const char *jwt, const char *kid)
{
    char hdr[512], want[96];
    const char *dot = strchr(jwt, '.');
    long n = dot != NULL
                 ? b64_url_decode((unsigned char *)hdr, sizeof(hdr) - 1, jwt, (size_t)(dot - jwt))
                 : -1;
    if (n <= 0)
        return 0;
    hdr[n] = '\0';
    snprintf(want, sizeof(want), "\"kid\":\"%s\"", kid);
    return strstr(hdr, want) != NULL;
}

CTEST(keyring, one_key_needs_no_active_file)
{
    char err[512] = "";
    struct tokens *t;
    struct buf b;
    long exp;

    snprintf(dir, sizeof(dir), "/tmp/ums-keyring-XXXXXX");
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    ASSERT_EQ(add_key(kid_a), 0);
    t = open_dir(NULL, err, sizeof(err));
    ASSERT_TRUE(t != NULL);
    buf_init(&b, 65536);
    ASSERT_EQ(tokens_sign(t, &b, &claims, 1000000, &exp), 0);
    ASSERT_TRUE(header_has(b.p, kid_a));
    ASSERT_EQ(verify(t, b.p), 0);
    buf_free(&b);
    tokens_close(t);
}

CTEST(keyring, rotation_keeps_old_tokens_and_retiring_refuses_them)
{
    char err[512] = "", from[256], to[256];
    struct tokens *before, *after, *retired;
    struct buf old, fresh;
    long exp;
    const char *jwks;

    buf_init(&old, 65536);
    buf_init(&fresh, 65536);
    before = open_dir(NULL, err, sizeof(err));
    ASSERT_TRUE(before != NULL);
    ASSERT_EQ(tokens_sign(before, &old, &claims, 1000000, &exp), 0);

    /* Rotation: a second key, named active. */
    ASSERT_EQ(add_key(kid_b), 0);
    snprintf(to, sizeof(to), "%s\n", kid_b);
    write_file(KEYRING_ACTIVE, to, 0640);
    after = open_dir(NULL, err, sizeof(err));
    ASSERT_TRUE(after != NULL);
    ASSERT_EQ(tokens_sign(after, &fresh, &claims, 1000000, &exp), 0);
    ASSERT_TRUE(header_has(fresh.p, kid_b));
    ASSERT_EQ(verify(after, old.p), 0);              /* signed before: still good */
    ASSERT_EQ(verify(after, fresh.p), 0);            /* the new kid */
    ASSERT_EQ(verify(before, fresh.p), UMS_EDENIED); /* a host not reloaded yet */
    jwks = tokens_jwks(after);
    ASSERT_TRUE(strstr(jwks, kid_a) != NULL && strstr(jwks, kid_b) != NULL);
    ASSERT_TRUE(strstr(jwks, kid_b) < strstr(jwks, kid_a)); /* the active one first */

    /* Retired: moved out of the folder, its tokens are refused. */
    snprintf(from, sizeof(from), "%s/%s.pem", dir, kid_a);
    snprintf(to, sizeof(to), "%s/" KEYRING_RETIRED, dir);
    mkdir(to, 0700);
    snprintf(to, sizeof(to), "%s/" KEYRING_RETIRED "/%s.pem", dir, kid_a);
    ASSERT_EQ(rename(from, to), 0);
    retired = open_dir(NULL, err, sizeof(err));
    ASSERT_TRUE(retired != NULL);
    ASSERT_EQ(verify(retired, old.p), UMS_EDENIED);
    ASSERT_EQ(verify(retired, fresh.p), 0);
    ASSERT_TRUE(strstr(tokens_jwks(retired), kid_a) == NULL);
    ASSERT_EQ(rename(to, from), 0);

    buf_free(&old);
    buf_free(&fresh);
    tokens_close(before);
    tokens_close(after);
    tokens_close(retired);
}

/* 1 when the folder is refused and err names what; says what it got if not. */
static int refused(const char *extra, const char *needle)
{
    char err[512] = "";
    struct tokens *t = open_dir(extra, err, sizeof(err));
    int ok = t == NULL && strstr(err, needle) != NULL && strncmp(err, "[auth] jwt_", 11) == 0;
    if (!ok)
        fprintf(stderr, "    wanted a refusal naming \"%s\", got \"%s\"\n", needle, err);
    tokens_close(t);
    return ok;
}

CTEST(keyring, bad_folders_are_refused_naming_the_file)
{
    char text[128];
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f;

    /* The good folder: kid_a and kid_b, kid_b active. */
    ASSERT_TRUE(refused("jwt_private_key_file = /x.pem\n", "leave jwt_private_key_file"));
    ASSERT_TRUE(refused("jwt_kid = k1\n", "leave jwt_private_key_file and jwt_kid unset"));

    write_file("broken.pem", "-----BEGIN PRIVATE KEY-----\nnot base64\n", 0640);
    ASSERT_TRUE(refused(NULL, "broken.pem is not a PEM private key"));
    sh("rm -f broken.pem");

    sh_a("cp -p -- ", ".pem copy.pem");
    ASSERT_TRUE(refused(NULL, "hold the same key"));
    ASSERT_TRUE(refused(NULL, "copy.pem"));
    sh("rm -f copy.pem");

    write_file("bad name.pem", "x", 0640);
    ASSERT_TRUE(refused(NULL, "bad name.pem: the name is not KID.pem"));
    sh("rm -f 'bad name.pem'");

    sh_a("chmod 0644 -- ", ".pem");
    ASSERT_TRUE(refused(NULL, "is readable by every user"));
    sh_a("chmod 0600 -- ", ".pem");

    ASSERT_TRUE(ed != NULL);
    snprintf(text, sizeof(text), "%s/ed.pem", dir);
    f = fopen(text, "w");
    ASSERT_TRUE(f != NULL);
    PEM_write_PrivateKey(f, ed, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(text, 0600);
    EVP_PKEY_free(ed);
    ASSERT_TRUE(refused(NULL, "ed.pem is an ED25519 key; RS256 needs RSA"));
    sh("rm -f ed.pem");

    write_file(KEYRING_ACTIVE, "nosuchkid\n", 0640);
    ASSERT_TRUE(refused(NULL, "names nosuchkid, which is not a key there"));
    write_file(KEYRING_ACTIVE, "two\nlines\n", 0640);
    ASSERT_TRUE(refused(NULL, "does not hold one key id"));
    sh("rm -f " KEYRING_ACTIVE);
    ASSERT_TRUE(refused(NULL, "holds 2 keys and no active file"));

    sh("mkdir -p empty");
    {
        char err[512] = "", text2[512];
        struct ums_config *cfg;
        struct tokens *t = NULL;
        snprintf(text2, sizeof(text2), "[auth]\njwt_keys_dir = %s/empty\n", dir);
        ASSERT_EQ(config_parse(&cfg, text2, strlen(text2), "t", err, sizeof(err)), 0);
        ASSERT_EQ(tokens_open(&t, cfg, err, sizeof(err)), UMS_EINVALID);
        ASSERT_TRUE(strstr(err, "holds no KID.pem key") != NULL);
        config_free(cfg);
        snprintf(text2, sizeof(text2), "[auth]\njwt_keys_dir = %s/nonexistent\n", dir);
        ASSERT_EQ(config_parse(&cfg, text2, strlen(text2), "t", err, sizeof(err)), 0);
        ASSERT_EQ(tokens_open(&t, cfg, err, sizeof(err)), UMS_EINVALID);
        ASSERT_TRUE(strstr(err, "/nonexistent") != NULL);
        config_free(cfg);
    }
}

CTEST(keyring, kid_syntax)
{
    ASSERT_TRUE(keyring_valid_kid("2026-12-03.a_B"));
    ASSERT_FALSE(keyring_valid_kid(""));
    ASSERT_FALSE(keyring_valid_kid(".hidden"));
    ASSERT_FALSE(keyring_valid_kid("a/b"));
    ASSERT_FALSE(keyring_valid_kid("a\"b"));
    ASSERT_FALSE(keyring_valid_kid("0123456789012345678901234567890123456789"
                                   "012345678901234567890123")); /* 64 */
}

CTEST(keyring, cleanup)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "failed: %s\n", cmd);
    ASSERT_TRUE(access(dir, F_OK) != 0);
}
