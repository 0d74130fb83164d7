/* crypto.h - hashing and randomness helpers (OpenSSL, getrandom). */
#ifndef UMS_CRYPTO_H
#define UMS_CRYPTO_H

#include <stddef.h>

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void crypto_sha256_hex(char out[65], const void *data, size_t len);

/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void crypto_hex_encode(char *out, const unsigned char *in, size_t n);

/* The value of one hex digit (either case), or -1. */
int crypto_hex_value(int c);

/* HMAC-SHA256 of data with key into out (32 bytes). 0 or UMS_ERR. */
int crypto_hmac_sha256(unsigned char out[32], const void *key, size_t keylen, const void *data,
                       size_t len);

/* n bytes from the kernel's CSPRNG. 0 or UMS_ERR. */
int crypto_random_bytes(void *out, size_t n);

/* Constant-time comparison of two equal-length buffers: 1 when equal. */
int crypto_secret_equal(const void *a, const void *b, size_t n);

/* Zeroes the NUL-terminated secret s, then frees it; NULL is fine. */
void crypto_free_secret(char *s);

#endif
