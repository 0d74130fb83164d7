/* stream_parse.h - the reply parsers behind stream.h (private to core/ and
 * its tests: it needs hiredis's headers). None of them keeps or frees the
 * reply: the entries they fill point into it, out->reply is left NULL. */
#ifndef UMS_STREAM_PARSE_H
#define UMS_STREAM_PARSE_H

#include <hiredis/hiredis.h>

#include "stream.h"

/*
 * An array of stream entries, [[id, [field, value, ...]], ...], into *out
 * (at most STREAM_ACK_MAX entries). An element that is not a pair, or whose
 * id is not a string, is left out; one whose field list is not an array of
 * string pairs, or lacks outbox_id or event, is "not ours". UMS_OK,
 * UMS_EINVALID when r is not an array, UMS_ERR out of memory (on failure
 * *out is empty).
 */
int stream_entries_parse(const redisReply *r, struct stream_batch *out);

/* An XREADGROUP reply: nil (nothing came, *out empty) or
 * [[stream, [entries]], ...], whose first stream is parsed. UMS_EINVALID
 * for any other shape. */
int stream_read_parse(const redisReply *r, struct stream_batch *out);

/* An XAUTOCLAIM reply: [cursor, [entries]] (Redis 6.2) or
 * [cursor, [entries], [deleted ids]] (Redis 7). UMS_EINVALID for any other
 * shape. */
int stream_claim_parse(const redisReply *r, struct stream_batch *out);

/* Whether an XINFO GROUPS reply ([[name, value, key, value, ...], ...])
 * lists group: 1 or 0 (0 for a reply of any other shape). */
int stream_groups_have(const redisReply *r, const char *group);

#endif
