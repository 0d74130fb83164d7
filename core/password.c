/* password.c - argon2id with the OWASP parameters (m=19456 KiB, t=2, p=1). */
#include "password.h"

#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <argon2.h>

#include "config.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "../util/utf8.h"

#define SALT_LEN 16
#define HASH_LEN 32

/*
 * argon2's working area (19 MiB with the OWASP parameters) gets its own
 * allocator: an anonymous mapping advised to use transparent huge pages. It
 * is kept while the worker is busy, so back-to-back sign-ins pay no page
 * faults, and returned to the system by password_release() once the worker has
 * been idle for a moment (fresh 4 KiB pages would cost a third of the hash
 * rate; an area kept for good would leave 19 MiB resident in every worker).
 * libargon2 wipes the area before it hands it back.
 */
#define HUGE_2M (2u << 20)

static void *area_base; /* the mapping */
static size_t area_len;
static uint8_t *area;    /* its 2 MiB-aligned start */
static size_t area_size; /* usable bytes from area */

static int area_alloc(uint8_t **memory, size_t bytes)
{
    size_t len;
    uint8_t *p;
    uintptr_t aligned;

    if (area != NULL && bytes <= area_size) {
        *memory = area;
        return ARGON2_OK;
    }
    password_release();
    len = (bytes + HUGE_2M - 1) / HUGE_2M * HUGE_2M + HUGE_2M;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return ARGON2_MEMORY_ALLOCATION_ERROR;
    aligned = ((uintptr_t)p + HUGE_2M - 1) & ~(uintptr_t)(HUGE_2M - 1);
    madvise((void *)aligned, len - (aligned - (uintptr_t)p), MADV_HUGEPAGE);
    area_base = p;
    area_len = len;
    area = (uint8_t *)aligned;
    area_size = len - (aligned - (uintptr_t)p);
    *memory = area;
    return ARGON2_OK;
}

static void area_free(uint8_t *memory, size_t bytes)
{
    (void)memory;
    (void)bytes; /* kept for the next hash; see password_release() */
}

void password_release(void)
{
    if (area_base != NULL)
        munmap(area_base, area_len);
    area_base = NULL;
    area_len = 0;
    area = NULL;
    area_size = 0;
}

int password_holding(void)
{
    return area_base != NULL;
}

void password_init(void)
{
    /* Other large blocks go back to the system too (glibc would otherwise
     * raise its mmap threshold and keep them on the heap). */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

/* Standard base64 without padding, as PHC strings use. */
static void b64_nopad(char *out, const unsigned char *in, size_t n)
{
    unsigned char tmp[128];
    int len = EVP_EncodeBlock(tmp, in, (int)n);

    while (len > 0 && tmp[len - 1] == '=')
        len--;
    memcpy(out, tmp, (size_t)len);
    out[len] = '\0';
}

static long b64_nopad_decode(unsigned char *out, size_t outcap, const char *s, size_t len)
{
    char tmp[128];
    unsigned char dec[128];
    size_t pad = (4 - len % 4) % 4;
    int n;

    if (len + pad >= sizeof(tmp) || pad == 3)
        return -1;
    memcpy(tmp, s, len);
    memset(tmp + len, '=', pad);
    n = EVP_DecodeBlock(dec, (unsigned char *)tmp, (int)(len + pad));
    if (n < 0 || (size_t)n < pad)
        return -1;
    n -= (int)pad;
    if ((size_t)n > outcap)
        return -1;
    memcpy(out, dec, (size_t)n);
    return n;
}

/* Raw argon2id with our allocator. */
static int raw_hash(uint8_t *out, size_t outlen, const struct pw_params *p, const char *pw,
                    size_t len, const uint8_t *salt, size_t saltlen)
{
    argon2_context ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.out = out;
    ctx.outlen = (uint32_t)outlen;
    ctx.pwd = (uint8_t *)(uintptr_t)pw;
    ctx.pwdlen = (uint32_t)len;
    ctx.salt = (uint8_t *)(uintptr_t)salt;
    ctx.saltlen = (uint32_t)saltlen;
    ctx.t_cost = p->iterations;
    ctx.m_cost = p->memory_kib;
    ctx.lanes = p->parallelism;
    ctx.threads = p->parallelism;
    ctx.version = ARGON2_VERSION_13;
    ctx.allocate_cbk = area_alloc;
    ctx.free_cbk = area_free;
    ctx.flags = ARGON2_DEFAULT_FLAGS;
    return argon2_ctx(&ctx, Argon2_id);
}

void password_params_from_config(struct pw_params *p, const struct ums_config *cfg)
{
    p->memory_kib = (unsigned)cfg->auth.argon2_memory_kib;
    p->iterations = (unsigned)cfg->auth.argon2_iterations;
    p->parallelism = (unsigned)cfg->auth.argon2_parallelism;
}

int password_check(const char *pw, size_t len, const char **reason)
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

int password_hash(char *out, const struct pw_params *p, const char *pw, size_t len)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    char s64[32], h64[64];
    int rc;

    if (len > UINT32_MAX || getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
        return UMS_ERR;
    rc = raw_hash(hash, sizeof(hash), p, pw, len, salt, sizeof(salt));
    if (rc != ARGON2_OK) {
        log_error("argon2 hash failed: %s", argon2_error_message(rc));
        return UMS_ERR;
    }
    b64_nopad(s64, salt, sizeof(salt));
    b64_nopad(h64, hash, sizeof(hash));
    snprintf(out, PW_HASH_MAX, "$argon2id$v=19$m=%u,t=%u,p=%u$%s$%s", p->memory_kib, p->iterations,
             p->parallelism, s64, h64);
    explicit_bzero(hash, sizeof(hash));
    return UMS_OK;
}

int password_verify(const char *phc, const char *pw, size_t len)
{
    struct pw_params p;
    unsigned char salt[64], want[64], got[64];
    const char *s, *h;
    long sl, hl;
    int n = 0, ok;

    if (phc == NULL || len > UINT32_MAX ||
        sscanf(phc, "$argon2id$v=19$m=%u,t=%u,p=%u$%n", &p.memory_kib, &p.iterations,
               &p.parallelism, &n) != 3 ||
        n == 0)
        return 0;
    if (p.memory_kib < 8 || p.memory_kib > 4u * 1024 * 1024 || p.iterations < 1 ||
        p.iterations > 1000 || p.parallelism < 1 || p.parallelism > 64)
        return 0;
    s = phc + n;
    h = strchr(s, '$');
    if (h == NULL)
        return 0;
    sl = b64_nopad_decode(salt, sizeof(salt), s, (size_t)(h - s));
    hl = b64_nopad_decode(want, sizeof(want), h + 1, strlen(h + 1));
    if (sl < 8 || hl < 16)
        return 0;
    if (raw_hash(got, (size_t)hl, &p, pw, len, salt, (size_t)sl) != ARGON2_OK)
        return 0;
    ok = CRYPTO_memcmp(got, want, (size_t)hl) == 0;
    explicit_bzero(got, sizeof(got));
    return ok;
}

int password_verify_dummy(const struct pw_params *p, const char *pw, size_t len)
{
    static char dummy[PW_HASH_MAX];
    static struct pw_params made;

    if (dummy[0] == '\0' || memcmp(&made, p, sizeof(made)) != 0) {
        if (password_hash(dummy, p, "ums-dummy-password", 18) != UMS_OK)
            return 0;
        made = *p;
    }
    (void)password_verify(dummy, pw, len);
    return 0;
}

int password_needs_rehash(const char *phc, const struct pw_params *p)
{
    unsigned m, t, par;

    if (phc == NULL || sscanf(phc, "$argon2id$v=19$m=%u,t=%u,p=%u$", &m, &t, &par) != 3)
        return 1;
    return m != p->memory_kib || t != p->iterations || par != p->parallelism;
}
