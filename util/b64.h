/* b64.h - base64url without padding (JWT, tokens). */
#ifndef UMS_B64_H
#define UMS_B64_H

#include <stddef.h>

/* Encoded length for n bytes (no padding, no NUL). */
#define B64URL_LEN(n) (((n)*4 + 2) / 3)

/* Writes B64URL_LEN(n) characters and a NUL to out. */
void b64_url_encode(char *out, const unsigned char *in, size_t n);

/* Decodes s[0..len) into out (capacity outcap); rejects padding, other
 * alphabets and non-canonical trailing bits. Returns the byte count or -1. */
long b64_url_decode(unsigned char *out, size_t outcap, const char *s, size_t len);

#endif
