/* keyring.h - the RS256 signing keys: one PEM file, or a folder of them
 * with one active for signing and the rest still verifying (rotation). */
#ifndef UMS_KEYRING_H
#define UMS_KEYRING_H

#include <stddef.h>

#include <openssl/evp.h>

#define KEYRING_MAX     16
#define KEYRING_KID_MAX 64
#define KEYRING_ACTIVE  "active"  /* the file naming the signing key */
#define KEYRING_RETIRED "retired" /* the sub-folder of retired keys, never read */

struct keyring_key {
    char kid[KEYRING_KID_MAX];
    EVP_PKEY *key;
};

struct keyring {
    struct keyring_key keys[KEYRING_MAX]; /* sorted by kid */
    int n;
    int active; /* index into keys */
};

/* 1 when s is a key id: 1 to 63 of [A-Za-z0-9._-], not starting with '.'. */
int keyring_valid_kid(const char *s);

/*
 * Reads one PEM private key at path: RSA of at least 2048 bits, the file at
 * most 64 KiB. *out is the caller's (EVP_PKEY_free). 0, or UMS_EINVALID with
 * err naming the file and what is wrong, or UMS_ERR.
 */
int keyring_read_key(const char *path, EVP_PKEY **out, char *err, size_t errlen);

/*
 * One key, the active one: path, and kid ("" = derived from the public key,
 * keygen_kid). 0, UMS_EINVALID (err says why) or UMS_ERR.
 */
int keyring_load_file(struct keyring *kr, const char *path, const char *kid, char *err,
                      size_t errlen);

/*
 * Every KID.pem in dir (other names are not keys: KID.pub, retired/, dotfiles),
 * and the active one named by dir/active (one line; optional when there is a
 * single key). Refused, with err naming the file: a malformed or weak key, a
 * file name that is not a kid, a key readable by every user, the same key
 * in two files, more than KEYRING_MAX keys, none, an active file naming no
 * key. 0, UMS_EINVALID or UMS_ERR.
 */
int keyring_load_dir(struct keyring *kr, const char *dir, char *err, size_t errlen);

void keyring_free(struct keyring *kr);

/* The key whose kid is kid, or NULL. */
EVP_PKEY *keyring_find(const struct keyring *kr, const char *kid);

#endif
