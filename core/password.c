/* password.c - argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1). */
#include "password.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <argon2.h>

#include "config.h"
#include "log.h"
#include "ums.h"
#include "utf8.h"

#define SALT_LEN 16
#define HASH_LEN 32

void pw_init(void)
{
    /* glibc raises its mmap threshold after a large mmapped block is freed,
     * so the next 19 MiB argon2 area would come from the heap and stay
     * resident in the worker. A fixed threshold keeps every large block
     * mmapped and returned with munmap. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

void pw_params_from_config(struct pw_params *p, const struct ums_config *cfg)
{
    p->memory_kib = (unsigned)cfg->auth.argon2_memory_kib;
    p->iterations = (unsigned)cfg->auth.argon2_iterations;
    p->parallelism = (unsigned)cfg->auth.argon2_parallelism;
}

int pw_check(const char *pw, size_t len, const char **reason)
{
    size_t chars = 0;

    *reason = NULL;
    if (!utf8_valid(pw, len)) {
        *reason = "characters";
        return UMS_EINVALID;
    }
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)pw[i] & 0xC0) != 0x80;
    if (chars < PW_MIN_CHARS || chars > PW_MAX_CHARS) {
        *reason = "length";
        return UMS_EINVALID;
    }
    return UMS_OK;
}

int pw_hash(char *out, const struct pw_params *p, const char *pw, size_t len)
{
    unsigned char salt[SALT_LEN];
    int rc;

    if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
        return UMS_ERR;
    rc = argon2_hash(p->iterations, p->memory_kib, p->parallelism, pw, len, salt, sizeof(salt),
                     NULL, HASH_LEN, out, PW_HASH_MAX, Argon2_id, ARGON2_VERSION_13);
    if (rc != ARGON2_OK) {
        log_error("argon2 hash failed: %s", argon2_error_message(rc));
        return UMS_ERR;
    }
    return UMS_OK;
}

int pw_verify(const char *phc, const char *pw, size_t len)
{
    if (phc == NULL || strncmp(phc, "$argon2id$", 10) != 0)
        return 0;
    /* argon2_verify compares in constant time. */
    return argon2_verify(phc, pw, len, Argon2_id) == ARGON2_OK;
}

int pw_verify_dummy(const struct pw_params *p, const char *pw, size_t len)
{
    static char dummy[PW_HASH_MAX];
    static struct pw_params made;

    if (dummy[0] == '\0' || memcmp(&made, p, sizeof(made)) != 0) {
        if (pw_hash(dummy, p, "ums-dummy-password", 18) != UMS_OK)
            return 0;
        made = *p;
    }
    (void)pw_verify(dummy, pw, len);
    return 0;
}

int pw_needs_rehash(const char *phc, const struct pw_params *p)
{
    unsigned m, t, par;

    if (phc == NULL || sscanf(phc, "$argon2id$v=19$m=%u,t=%u,p=%u$", &m, &t, &par) != 3)
        return 1;
    return m != p->memory_kib || t != p->iterations || par != p->parallelism;
}
