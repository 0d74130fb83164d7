/* keys.c - umsctl keys: adding, activating, retiring and importing the
 * signing keys of a key folder (core/keyring.h has its layout). Every
 * change is checked by loading the folder as ums-fcgi will. */
#include "keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "../core/config.h"
#include "../core/keygen.h"
#include "../core/keyring.h"
#include "../core/tokens.h"
#include "../util/file.h"
#include "../util/ums.h"

struct opts {
    const char *dir;
    const char *kid;  /* activate, retire, import --kid */
    const char *file; /* import */
    int bits;
    int force;
};

static const char *config_path;

static int usage(void)
{
    fprintf(stderr, "usage: umsctl keys COMMAND\n" KEYS_USAGE);
    return 2;
}

/* The configuration, or NULL with a message. */
static struct ums_config *load_config(void)
{
    struct ums_config *cfg = NULL;
    char err[512];

    if (config_load(&cfg, config_path, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: %s\n", err);
        return NULL;
    }
    return cfg;
}

/* --dir, else [auth] jwt_keys_dir, into dir. */
static int key_dir(const struct opts *o, char *dir, size_t len)
{
    struct ums_config *cfg = NULL;
    int n;

    if (o->dir == NULL) {
        cfg = load_config();
        if (cfg == NULL)
            return -1;
    }
    n = snprintf(dir, len, "%s", o->dir != NULL ? o->dir : cfg->auth.jwt_keys_dir);
    config_free(cfg);
    if (n < 0 || (size_t)n >= len) {
        fprintf(stderr, "umsctl: keys: the folder's path is longer than %zu\n", len - 1);
        return -1;
    }
    if (dir[0] == '\0') {
        fprintf(stderr, "umsctl: keys: [auth] jwt_keys_dir is not set (or give --dir DIR)\n");
        return -1;
    }
    return 0;
}

/* Loads dir as ums-fcgi will: 0 and a line saying so, or 1 and why not. */
static int check_dir(const char *dir)
{
    struct keyring kr;
    char err[1024];

    if (keyring_load_dir(&kr, dir, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: keys: ums-fcgi would refuse the folder: %s\n", err);
        return 1;
    }
    printf("%s: %d key%s, %s signs\n", dir, kr.n, kr.n == 1 ? "" : "s", kr.keys[kr.active].kid);
    keyring_free(&kr);
    return 0;
}

/* A key file's group and mode: the folder's group (root:ums), 0640. */
static int own_like_dir(const char *path, const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0 || chown(path, (uid_t)-1, st.st_gid) != 0 || chmod(path, 0640) != 0) {
        fprintf(stderr, "umsctl: keys: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The kid dir/active names into kid ("" when there is no such file), and
 * the file's mtime: when the key that signs last changed. */
static int read_active(const char *dir, char kid[KEYRING_KID_MAX], time_t *since)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    struct stat st;

    kid[0] = '\0';
    *since = 0;
    snprintf(path, sizeof(path), "%s/" KEYRING_ACTIVE, dir);
    if (file_read(path, 256, &text, &len) != UMS_OK)
        return errno == ENOENT ? 0 : -1;
    text[strcspn(text, "\r\n ")] = '\0';
    snprintf(kid, KEYRING_KID_MAX, "%s", text);
    free(text);
    if (stat(path, &st) == 0)
        *since = st.st_mtime;
    return 0;
}

/* Writes dir/active naming kid, atomically. */
static int write_active(const char *dir, const char *kid)
{
    char tmp[4096], path[4096];
    FILE *f;
    int ok;

    snprintf(tmp, sizeof(tmp), "%s/.active.%ld", dir, (long)getpid());
    snprintf(path, sizeof(path), "%s/" KEYRING_ACTIVE, dir);
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "umsctl: keys: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    ok = fprintf(f, "%s\n", kid) > 0;
    ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok &= fclose(f) == 0;
    if (!ok || own_like_dir(tmp, dir) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "umsctl: keys: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* A new key pair in dir as KID.pem and KID.pub; its kid into kid. */
static int add_key(const char *dir, int bits, char kid[23])
{
    char tpriv[4096], tpub[4096], priv[4096], pub[4096], err[512];

    snprintf(tpriv, sizeof(tpriv), "%s/.new-%ld.pem", dir, (long)getpid());
    snprintf(tpub, sizeof(tpub), "%s/.new-%ld.pub", dir, (long)getpid());
    if (keygen_rsa(tpriv, tpub, bits, kid, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: keys: %s\n", err);
        return -1;
    }
    snprintf(priv, sizeof(priv), "%s/%s.pem", dir, kid);
    snprintf(pub, sizeof(pub), "%s/%s.pub", dir, kid);
    /* link, not rename: never over an existing key. */
    if (own_like_dir(tpriv, dir) != 0 || link(tpriv, priv) != 0 || link(tpub, pub) != 0) {
        fprintf(stderr, "umsctl: keys: cannot add %s: %s\n", priv, strerror(errno));
        unlink(tpriv);
        unlink(tpub);
        return -1;
    }
    unlink(tpriv);
    unlink(tpub);
    return 0;
}

static int activate(const char *dir, const char *kid)
{
    char path[4096], err[1024], old[KEYRING_KID_MAX];
    EVP_PKEY *key = NULL;
    time_t since;

    if (!keyring_valid_kid(kid)) {
        fprintf(stderr, "umsctl: keys: %s is not a key id\n", kid);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s.pem", dir, kid);
    if (keyring_read_key(path, &key, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: keys: %s\n", err);
        return 1;
    }
    EVP_PKEY_free(key);
    if (read_active(dir, old, &since) != 0 || write_active(dir, kid) != 0)
        return 1;
    if (check_dir(dir) != 0) {
        /* Put the folder back as it was. */
        if (old[0] != '\0')
            write_active(dir, old);
        else {
            snprintf(path, sizeof(path), "%s/" KEYRING_ACTIVE, dir);
            unlink(path);
        }
        return 1;
    }
    printf("%s signs from the next reload of ums-fcgi (SIGHUP, systemctl reload ums-fcgi)\n", kid);
    return 0;
}

/* A folder of one key needs no active file; before a second comes in, the
 * file names the first, so that it goes on signing. */
static int pin_active(const char *dir)
{
    char active[KEYRING_KID_MAX], err[1024];
    struct keyring kr;
    time_t since;
    int rc;

    if (read_active(dir, active, &since) != 0)
        return -1;
    if (active[0] != '\0' || keyring_load_dir(&kr, dir, err, sizeof(err)) != UMS_OK)
        return 0; /* named already, or empty */
    rc = write_active(dir, kr.keys[0].kid);
    keyring_free(&kr);
    return rc;
}

static int keys_add(const struct opts *o, const char *dir, int and_activate)
{
    char kid[23];

    if (pin_active(dir) != 0 || add_key(dir, o->bits, kid) != 0)
        return 1;
    printf("added %s\n", kid);
    if (and_activate)
        return activate(dir, kid);
    if (check_dir(dir) != 0)
        return 1;
    printf("%s verifies after the next reload; umsctl keys activate %s makes it sign\n", kid, kid);
    return 0;
}

static int keys_list(const char *dir)
{
    char active[KEYRING_KID_MAX], err[1024], path[4096];
    struct keyring kr;
    struct dirent *e;
    time_t since;
    DIR *d = opendir(dir);

    if (d == NULL) {
        fprintf(stderr, "umsctl: keys: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    /* The key that signs is the one ums-fcgi would pick: the active file's,
     * or the only key of a folder that has none. */
    if (keyring_load_dir(&kr, dir, err, sizeof(err)) == UMS_OK) {
        snprintf(active, sizeof(active), "%s", kr.keys[kr.active].kid);
        keyring_free(&kr);
    } else {
        read_active(dir, active, &since);
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        EVP_PKEY *key = NULL;
        if (e->d_name[0] == '.' || n <= 4 || strcmp(e->d_name + n - 4, ".pem") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (keyring_read_key(path, &key, err, sizeof(err)) == UMS_OK)
            printf("%.*s\t%s\tRSA %d\n", (int)(n - 4), e->d_name,
                   strncmp(e->d_name, active, n - 4) == 0 && active[n - 4] == '\0' ? "active"
                                                                                   : "verifies",
                   EVP_PKEY_get_bits(key));
        else
            printf("%.*s\tbad\t%s\n", (int)(n - 4), e->d_name, err);
        EVP_PKEY_free(key);
    }
    closedir(d);
    return check_dir(dir);
}

/* Moves dir/name to dir/retired/name when it exists. */
static int move_retired(const char *dir, const char *name)
{
    char from[4096], to[4096];

    snprintf(from, sizeof(from), "%s/%s", dir, name);
    snprintf(to, sizeof(to), "%s/" KEYRING_RETIRED "/%s", dir, name);
    if (access(from, F_OK) != 0)
        return 0;
    if (rename(from, to) != 0) {
        fprintf(stderr, "umsctl: keys: cannot move %s to %s: %s\n", from, to, strerror(errno));
        return -1;
    }
    return 0;
}

static int keys_retire(const struct opts *o, const char *dir)
{
    char active[KEYRING_KID_MAX], path[4096], name[KEYRING_KID_MAX + 8];
    struct stat st;
    time_t since;
    int ttl;

    if (!keyring_valid_kid(o->kid)) {
        fprintf(stderr, "umsctl: keys: %s is not a key id\n", o->kid);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s.pem", dir, o->kid);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "umsctl: keys: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (read_active(dir, active, &since) != 0) {
        fprintf(stderr, "umsctl: keys: cannot read %s/" KEYRING_ACTIVE "\n", dir);
        return 1;
    }
    if (active[0] == '\0' || strcmp(active, o->kid) == 0) {
        fprintf(stderr, "umsctl: keys: %s is the key that signs; activate another first\n", o->kid);
        return 1;
    }
    /* It stopped signing when active last changed, or never signed if it
     * came after. Its tokens live access_token_ttl, plus the leeway. */
    if (!o->force && st.st_mtime <= since) {
        struct ums_config *cfg = load_config();
        time_t until;
        if (cfg == NULL)
            return 1;
        ttl = cfg->auth.access_token_ttl;
        config_free(cfg);
        until = since + ttl + JWT_LEEWAY;
        if (time(NULL) < until) {
            fprintf(stderr,
                    "umsctl: keys: tokens %s signed may be valid for %ld s more "
                    "(access_token_ttl %d); retire it then, or --force to log them out\n",
                    o->kid, (long)(until - time(NULL)), ttl);
            return 1;
        }
    }
    snprintf(path, sizeof(path), "%s/" KEYRING_RETIRED, dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "umsctl: keys: %s: %s\n", path, strerror(errno));
        return 1;
    }
    snprintf(name, sizeof(name), "%s.pem", o->kid);
    if (move_retired(dir, name) != 0)
        return 1;
    snprintf(name, sizeof(name), "%s.pub", o->kid);
    if (move_retired(dir, name) != 0)
        return 1;
    printf("retired %s: its tokens are refused from the next reload of ums-fcgi\n", o->kid);
    return check_dir(dir);
}

static int keys_import(const struct opts *o, const char *dir)
{
    char kid[KEYRING_KID_MAX], path[4096], err[1024], *text = NULL;
    EVP_PKEY *key = NULL;
    size_t len = 0;
    int fd, ok;

    if (keyring_read_key(o->file, &key, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: keys: %s\n", err);
        return 1;
    }
    if (o->kid != NULL)
        snprintf(kid, sizeof(kid), "%s", o->kid);
    else if (keygen_kid(kid, key) != UMS_OK)
        kid[0] = '\0';
    EVP_PKEY_free(key);
    if (!keyring_valid_kid(kid)) {
        fprintf(stderr, "umsctl: keys: %s is not a key id ([A-Za-z0-9._-], at most %d)\n", kid,
                KEYRING_KID_MAX - 1);
        return 1;
    }
    if (file_read(o->file, 64 * 1024, &text, &len) != UMS_OK) {
        fprintf(stderr, "umsctl: keys: %s: %s\n", o->file, file_why(errno));
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s.pem", dir, kid);
    if (pin_active(dir) != 0) {
        OPENSSL_cleanse(text, len);
        free(text);
        return 1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0)
        ok &= close(fd) == 0;
    OPENSSL_cleanse(text, len);
    free(text);
    if (!ok) {
        fprintf(stderr, "umsctl: keys: cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            unlink(path);
        return 1;
    }
    if (own_like_dir(path, dir) != 0)
        return 1;
    printf("imported %s as %s\n", o->file, kid);
    return check_dir(dir);
}

int keys_parse_bits(const char *arg, int *bits)
{
    char *end;
    long v = strtol(arg, &end, 10);

    if (*end != '\0' || v < 2048 || v > 8192) {
        fprintf(stderr, "umsctl: --bits must be 2048 to 8192\n");
        return -1;
    }
    *bits = (int)v;
    return 0;
}

int cmd_keys(int argc, char **argv, const char *config)
{
    struct opts o = {.bits = 2048};
    char dir[2048]; /* with a name after it, inside a path of 4096 */
    const char *cmd;
    int i = 1;

    config_path = config;
    if (argc < 1)
        return usage();
    cmd = argv[0];
    if ((strcmp(cmd, "activate") == 0 || strcmp(cmd, "retire") == 0) && i < argc)
        o.kid = argv[i++];
    else if (strcmp(cmd, "import") == 0 && i < argc)
        o.file = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            o.dir = argv[++i];
        } else if (strcmp(argv[i], "--kid") == 0 && i + 1 < argc && o.file != NULL) {
            o.kid = argv[++i];
        } else if (strcmp(argv[i], "--force") == 0 && strcmp(cmd, "retire") == 0) {
            o.force = 1;
        } else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
            if (keys_parse_bits(argv[++i], &o.bits) != 0)
                return 2;
        } else {
            return usage();
        }
    }
    if ((strcmp(cmd, "activate") == 0 || strcmp(cmd, "retire") == 0) && o.kid == NULL)
        return usage();
    if (strcmp(cmd, "import") == 0 && o.file == NULL)
        return usage();
    if (strcmp(cmd, "list") != 0 && strcmp(cmd, "add") != 0 && strcmp(cmd, "rotate") != 0 &&
        strcmp(cmd, "activate") != 0 && strcmp(cmd, "retire") != 0 && strcmp(cmd, "import") != 0)
        return usage();
    if (key_dir(&o, dir, sizeof(dir)) != 0)
        return 1;
    if (strcmp(cmd, "list") == 0)
        return keys_list(dir);
    if (strcmp(cmd, "add") == 0 || strcmp(cmd, "rotate") == 0)
        return keys_add(&o, dir, strcmp(cmd, "rotate") == 0);
    if (strcmp(cmd, "activate") == 0)
        return activate(dir, o.kid);
    if (strcmp(cmd, "retire") == 0)
        return keys_retire(&o, dir);
    return keys_import(&o, dir);
}
