/* valid.h - validators shared by every route: UUIDs, emails. */
#ifndef UMS_VALID_H
#define UMS_VALID_H

#include <stddef.h>

#define EMAIL_MAX 255

/* 1 when s is a UUID in canonical 8-4-4-4-12 hex form (either case). */
int valid_uuid(const char *s);

/*
 * Normalises an email into out (EMAIL_MAX + 1 bytes): trims surrounding
 * spaces and lower-cases ASCII. Accepts one '@' with a non-empty local part
 * and a dotted domain, no spaces, control characters, quotes or angle
 * brackets, valid UTF-8, at most 255 bytes. Returns 0 or UMS_EINVALID.
 */
int valid_email_normalize(char *out, const char *in, size_t len);

#endif
