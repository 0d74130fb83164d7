/* keyring.c - loading the RS256 signing keys with OpenSSL 3. */
#include "keyring.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "keygen.h"
#include "../util/file.h"
#include "../util/ums.h"

#define KEY_FILE_MAX (64 * 1024)

int keyring_valid_kid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= KEYRING_KID_MAX || s[0] == '.')
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int keyring_read_key(const char *path, EVP_PKEY **out, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    BIO *bio;
    EVP_PKEY *key;
    int rc = file_read(path, KEY_FILE_MAX, &text, &len);

    *out = NULL;
    if (rc != UMS_OK) {
        if (rc == UMS_EINVALID)
            snprintf(err, errlen, "%s: %s", path, file_why(errno));
        return rc;
    }
    bio = BIO_new_mem_buf(text, (int)len);
    key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(text, len);
    free(text);
    ERR_clear_error();
    if (key == NULL) {
        snprintf(err, errlen, "%s is not a PEM private key (umsctl keygen writes one)", path);
        return UMS_EINVALID;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        const char *type = EVP_PKEY_get0_type_name(key);
        snprintf(err, errlen, "%s is an %s key; RS256 needs RSA", path,
                 type != NULL ? type : "other");
        EVP_PKEY_free(key);
        return UMS_EINVALID;
    }
    if (EVP_PKEY_get_bits(key) < 2048) {
        snprintf(err, errlen, "%s is an RSA key of %d bits; at least 2048 are needed", path,
                 EVP_PKEY_get_bits(key));
        EVP_PKEY_free(key);
        return UMS_EINVALID;
    }
    *out = key;
    return UMS_OK;
}

int keyring_load_file(struct keyring *kr, const char *path, const char *kid, char *err,
                      size_t errlen)
{
    struct keyring_key *k = &kr->keys[0];
    int rc;

    memset(kr, 0, sizeof(*kr));
    rc = keyring_read_key(path, &k->key, err, errlen);
    if (rc != UMS_OK)
        return rc;
    kr->n = 1;
    if (kid[0] == '\0')
        return keygen_kid(k->kid, k->key);
    if (strlen(kid) >= sizeof(k->kid) || strpbrk(kid, "\"\\") != NULL) {
        snprintf(err, errlen, "[auth] jwt_kid is too long or has quotes");
        keyring_free(kr);
        return UMS_EINVALID;
    }
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    return UMS_OK;
}

static int by_kid(const void *a, const void *b)
{
    return strcmp(((const struct keyring_key *)a)->kid, ((const struct keyring_key *)b)->kid);
}

/* dir/name: one KID.pem, appended to kr. */
static int add_file(struct keyring *kr, const char *dir, const char *name, char *err, size_t errlen)
{
    char path[4096], kid[KEYRING_KID_MAX];
    size_t n = strlen(name);
    struct stat st;
    struct keyring_key *k;
    int rc;

    if (n - 4 >= sizeof(kid)) {
        snprintf(err, errlen, "%s/%s: the name is not KID.pem with a kid of at most %d characters",
                 dir, name, KEYRING_KID_MAX - 1);
        return UMS_EINVALID;
    }
    memcpy(kid, name, n - 4);
    kid[n - 4] = '\0';
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!keyring_valid_kid(kid)) {
        snprintf(err, errlen, "%s: the name is not KID.pem with a kid of [A-Za-z0-9._-]", path);
        return UMS_EINVALID;
    }
    if (stat(path, &st) == 0 && (st.st_mode & S_IROTH)) {
        snprintf(err, errlen, "%s is readable by every user (chmod 0640, group ums)", path);
        return UMS_EINVALID;
    }
    if (kr->n == KEYRING_MAX) {
        snprintf(err, errlen, "%s: more than %d keys (umsctl keys retire KID)", dir, KEYRING_MAX);
        return UMS_EINVALID;
    }
    k = &kr->keys[kr->n];
    rc = keyring_read_key(path, &k->key, err, errlen);
    if (rc != UMS_OK)
        return rc;
    for (int i = 0; i < kr->n; i++)
        if (EVP_PKEY_eq(kr->keys[i].key, k->key) == 1) {
            snprintf(err, errlen, "%s and %s/%s.pem hold the same key", path, dir, kr->keys[i].kid);
            EVP_PKEY_free(k->key);
            k->key = NULL;
            return UMS_EINVALID;
        }
    snprintf(k->kid, sizeof(k->kid), "%s", kid);
    kr->n++;
    return UMS_OK;
}

/* The kid in dir/active into kid; "" when there is no such file. */
static int read_active(const char *dir, char kid[KEYRING_KID_MAX], char *err, size_t errlen)
{
    char path[4096], *text = NULL;
    size_t len = 0;
    int rc;

    kid[0] = '\0';
    snprintf(path, sizeof(path), "%s/" KEYRING_ACTIVE, dir);
    rc = file_read(path, 256, &text, &len);
    if (rc != UMS_OK) {
        if (rc == UMS_EINVALID && errno == ENOENT)
            return UMS_OK;
        if (rc == UMS_EINVALID)
            snprintf(err, errlen, "%s: %s", path, file_why(errno));
        return rc;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        text[--len] = '\0';
    if (strlen(text) != len || !keyring_valid_kid(text)) {
        snprintf(err, errlen, "%s does not hold one key id", path);
        free(text);
        return UMS_EINVALID;
    }
    snprintf(kid, KEYRING_KID_MAX, "%s", text);
    free(text);
    return UMS_OK;
}

int keyring_load_dir(struct keyring *kr, const char *dir, char *err, size_t errlen)
{
    char active[KEYRING_KID_MAX];
    struct dirent *e;
    DIR *d;
    int rc = UMS_OK;

    memset(kr, 0, sizeof(*kr));
    d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return UMS_EINVALID;
    }
    while (rc == UMS_OK && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n <= 4 || strcmp(e->d_name + n - 4, ".pem") != 0)
            continue;
        rc = add_file(kr, dir, e->d_name, err, errlen);
    }
    closedir(d);
    if (rc == UMS_OK && kr->n == 0) {
        snprintf(err, errlen, "%s holds no KID.pem key (umsctl keys rotate makes one)", dir);
        rc = UMS_EINVALID;
    }
    if (rc == UMS_OK)
        rc = read_active(dir, active, err, errlen);
    if (rc != UMS_OK) {
        keyring_free(kr);
        return rc;
    }
    qsort(kr->keys, (size_t)kr->n, sizeof(kr->keys[0]), by_kid);
    kr->active = -1;
    for (int i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].kid, active) == 0)
            kr->active = i;
    if (active[0] == '\0' && kr->n == 1)
        kr->active = 0;
    if (kr->active < 0) {
        if (active[0] == '\0')
            snprintf(err, errlen,
                     "%s holds %d keys and no " KEYRING_ACTIVE
                     " file naming the one that signs (umsctl keys activate KID)",
                     dir, kr->n);
        else
            snprintf(err, errlen, "%s/" KEYRING_ACTIVE " names %s, which is not a key there", dir,
                     active);
        keyring_free(kr);
        return UMS_EINVALID;
    }
    return UMS_OK;
}

void keyring_free(struct keyring *kr)
{
    for (int i = 0; i < kr->n; i++)
        EVP_PKEY_free(kr->keys[i].key);
    memset(kr, 0, sizeof(*kr));
}

EVP_PKEY *keyring_find(const struct keyring *kr, const char *kid)
{
    for (int i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].kid, kid) == 0)
            return kr->keys[i].key;
    return NULL;
}
