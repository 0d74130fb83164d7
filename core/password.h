/* password.h - argon2id hashing (PHC strings) and the password policy. */
#ifndef UMS_PASSWORD_H
#define UMS_PASSWORD_H

#include <stddef.h>

struct ums_config;

#define PW_MIN_CHARS 8
#define PW_MAX_CHARS 128
#define PW_HASH_MAX  256

struct pw_params {
    unsigned memory_kib;
    unsigned iterations;
    unsigned parallelism;
};

/* Process-wide set-up: makes glibc return argon2's working memory to the
 * system after every hash (a fixed mmap threshold). Call once per process. */
void password_init(void);

/* Returns the argon2 working area to the system (call when idle). */
void password_release(void);

/* 1 while a working area is held. */
int password_holding(void);

void password_params_from_config(struct pw_params *p, const struct ums_config *cfg);

/* Policy: 8 to 128 characters (code points) of valid UTF-8 without NUL.
 * Returns 0, or UMS_EINVALID with *reason "length" or "characters". */
int password_check(const char *pw, size_t len, const char **reason);

/* Hashes pw into a PHC string in out (PW_HASH_MAX bytes). 0 or UMS_ERR. */
int password_hash(char *out, const struct pw_params *p, const char *pw, size_t len);

/* 1 when pw matches the PHC string, 0 when not (also for a malformed hash). */
int password_verify(const char *phc, const char *pw, size_t len);

/* Verifies against a fixed hash with the same parameters, so unknown users
 * cost the same time as known ones. Always returns 0. */
int password_verify_dummy(const struct pw_params *p, const char *pw, size_t len);

/* 1 when phc was made with other parameters than p (rehash on login). */
int password_needs_rehash(const char *phc, const struct pw_params *p);

#endif
