/* json.h - strict JSON parsing with limits (json-c 0.16). */
#ifndef UMS_JSON_H
#define UMS_JSON_H

#include <stddef.h>

#include <json-c/json.h>

#define JSON_DEPTH_MAX 32

/*
 * Parses exactly one JSON value from buf[0..len): RFC 8259 syntax only, valid
 * UTF-8, no NUL bytes, nesting at most max_depth, nothing but whitespace after
 * the value. On success *out is a new reference the caller releases with
 * json_object_put() and 0 is returned. On failure returns UMS_EINVALID and,
 * when why is not NULL, points it at a static human-readable reason.
 */
int json_parse_strict(struct json_object **out, const char *buf, size_t len, int max_depth,
                      const char **why);

#endif
