/* test_stream.c - the stream reply parsers (core/stream_parse.h) on hiredis
 * 0.14 reply trees built by hand: each case says whether an entry is
 * accepted, is "not ours" (acknowledged and deleted undelivered), is left
 * out (it cannot be named), or whether the whole reply is rejected; and two
 * replies hiredis itself reads from RESP bytes, owned by the batch. */
#define CTEST_MAIN
#include "../ctest.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "../../core/stream.h"
#include "../../core/stream_parse.h"
#include "../../util/ums.h"

/* Reply builders: hiredis 0.14's struct, allocated here and freed with
 * rfree (never freeReplyObject). An array of 0 elements has no element
 * vector, as hiredis makes it. */
static redisReply *node(int type)
{
    redisReply *r = calloc(1, sizeof(*r));

    if (r == NULL)
        abort();
    r->type = type;
    return r;
}

static redisReply *typed_str(int type, const char *s)
{
    redisReply *r = node(type);

    r->len = strlen(s);
    r->str = strdup(s);
    if (r->str == NULL)
        abort();
    return r;
}

static redisReply *str(const char *s)
{
    return typed_str(REDIS_REPLY_STRING, s);
}

static redisReply *status(const char *s)
{
    return typed_str(REDIS_REPLY_STATUS, s);
}

static redisReply *integer(long long v)
{
    redisReply *r = node(REDIS_REPLY_INTEGER);

    r->integer = v;
    return r;
}

static redisReply *nil(void)
{
    return node(REDIS_REPLY_NIL);
}

/* An array of the n replies that follow. */
static redisReply *arr(size_t n, ...)
{
    redisReply *r = node(REDIS_REPLY_ARRAY);
    va_list ap;

    r->elements = n;
    if (n > 0) {
        r->element = calloc(n, sizeof(*r->element));
        if (r->element == NULL)
            abort();
    }
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        r->element[i] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

static void rfree(redisReply *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->elements; i++)
        rfree(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

/* [id, [outbox_id, oid, event, ev]]: an entry as outbox_publish writes it. */
static redisReply *ours(const char *id, const char *oid, const char *ev)
{
    return arr(2, str(id), arr(4, str("outbox_id"), str(oid), str("event"), str(ev)));
}

/* [id, fields]. */
static redisReply *entry(const char *id, redisReply *fields)
{
    return arr(2, str(id), fields);
}

/* Parses r as an entry array; the batch must come out with want entries. */
#define PARSE_OK(r, b, want)                                                                       \
    do {                                                                                           \
        ASSERT_EQ(stream_entries_parse((r), (b)), UMS_OK);                                         \
        ASSERT_EQ((b)->n, (want));                                                                 \
        ASSERT_NULL((b)->reply);                                                                   \
    } while (0)

/* Entry i of b is accepted with outbox id oid. */
#define ACCEPTED(b, i, id_, oid)                                                                   \
    do {                                                                                           \
        ASSERT_STR_EQ((b)->entries[i].id, (id_));                                                  \
        ASSERT_STR_EQ((b)->entries[i].outbox_id, (oid));                                           \
        ASSERT_NOT_NULL((b)->entries[i].event);                                                    \
    } while (0)

/* Entry i of b is not ours: named (so acknowledged and deleted), not delivered. */
#define NOT_OURS(b, i, id_)                                                                        \
    do {                                                                                           \
        ASSERT_STR_EQ((b)->entries[i].id, (id_));                                                  \
        ASSERT_NULL((b)->entries[i].outbox_id);                                                    \
        ASSERT_NULL((b)->entries[i].event);                                                        \
    } while (0)

/* The whole reply is rejected and the batch left empty. */
#define REJECTED(call, b)                                                                          \
    do {                                                                                           \
        ASSERT_EQ((call), UMS_EINVALID);                                                           \
        ASSERT_EQ((b)->n, 0);                                                                      \
        ASSERT_NULL((b)->entries);                                                                 \
    } while (0)

CTEST(entries, good_entries_are_accepted_in_order)
{
    redisReply *r = arr(3, ours("1-0", "11", "{\"type\":\"a\"}"), ours("1-1", "12", "{}"),
                        /* field order and extra fields do not matter */
                        entry("2-0", arr(6, str("event"), str("{\"x\":1}"), str("extra"), str("v"),
                                         str("outbox_id"), str("13"))));
    struct stream_batch b;

    PARSE_OK(r, &b, 3);
    ACCEPTED(&b, 0, "1-0", "11");
    ASSERT_STR_EQ(b.entries[0].event, "{\"type\":\"a\"}");
    ACCEPTED(&b, 1, "1-1", "12");
    ACCEPTED(&b, 2, "2-0", "13");
    ASSERT_STR_EQ(b.entries[2].event, "{\"x\":1}");
    stream_batch_free(&b);
    ASSERT_EQ(b.n, 0);
    ASSERT_NULL(b.entries);
    rfree(r); /* the batch borrowed the tree: it is still whole */
}

CTEST(entries, missing_outbox_id_or_event_is_not_ours)
{
    redisReply *r = arr(3, entry("1-0", arr(2, str("event"), str("{}"))),
                        entry("1-1", arr(2, str("outbox_id"), str("5"))),
                        entry("1-2", arr(2, str("other"), str("x"))));
    struct stream_batch b;

    PARSE_OK(r, &b, 3);
    NOT_OURS(&b, 0, "1-0");
    NOT_OURS(&b, 1, "1-1");
    NOT_OURS(&b, 2, "1-2");
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, an_id_that_is_not_a_string_is_left_out)
{
    redisReply *r =
        arr(4, arr(2, integer(7), arr(4, str("outbox_id"), str("1"), str("event"), str("{}"))),
            arr(2, nil(), arr(0)), arr(2, status("1-0"), arr(0)), ours("9-0", "21", "{}"));
    struct stream_batch b;

    PARSE_OK(r, &b, 1);
    ACCEPTED(&b, 0, "9-0", "21");
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, a_field_list_that_is_not_an_array_is_not_ours)
{
    redisReply *r =
        arr(4, entry("1-0", str("outbox_id")), entry("1-1", integer(3)), entry("1-2", status("OK")),
            /* a pending entry deleted from the stream: [id, nil] */
            entry("1-3", nil()));
    struct stream_batch b;

    PARSE_OK(r, &b, 4);
    NOT_OURS(&b, 0, "1-0");
    NOT_OURS(&b, 1, "1-1");
    NOT_OURS(&b, 2, "1-2");
    NOT_OURS(&b, 3, "1-3");
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, an_odd_or_empty_field_list_is_not_ours)
{
    redisReply *r =
        arr(3, entry("1-0", arr(5, str("outbox_id"), str("1"), str("event"), str("{}"), str("x"))),
            entry("1-1", arr(1, str("outbox_id"))), entry("1-2", arr(0)));
    struct stream_batch b;

    PARSE_OK(r, &b, 3);
    NOT_OURS(&b, 0, "1-0");
    NOT_OURS(&b, 1, "1-1");
    NOT_OURS(&b, 2, "1-2");
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, an_integer_or_nil_where_a_string_should_be_is_not_ours)
{
    redisReply *r =
        arr(5, entry("1-0", arr(4, str("outbox_id"), integer(1), str("event"), str("{}"))),
            entry("1-1", arr(4, str("outbox_id"), str("1"), str("event"), integer(0))),
            entry("1-2", arr(4, integer(1), str("1"), str("event"), str("{}"))),
            entry("1-3", arr(4, str("outbox_id"), str("1"), str("event"), nil())),
            /* an unrelated pair of the wrong type spoils the whole entry too */
            entry("1-4",
                  arr(6, str("outbox_id"), str("1"), str("event"), str("{}"), str("x"), arr(0))));
    struct stream_batch b;

    PARSE_OK(r, &b, 5);
    for (size_t i = 0; i < 5; i++) {
        ASSERT_NULL(b.entries[i].outbox_id);
        ASSERT_NULL(b.entries[i].event);
    }
    ASSERT_STR_EQ(b.entries[4].id, "1-4");
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, an_element_that_is_not_a_pair_is_left_out)
{
    redisReply *r = arr(5, str("1-0"), integer(1), nil(), arr(1, str("1-1")),
                        arr(3, str("1-2"), arr(0), arr(0)));
    struct stream_batch b;

    PARSE_OK(r, &b, 0);
    ASSERT_NULL(b.entries);
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, an_empty_array_is_an_empty_batch)
{
    redisReply *r = arr(0);
    struct stream_batch b;

    PARSE_OK(r, &b, 0);
    ASSERT_NULL(b.entries);
    stream_batch_free(&b);
    rfree(r);
}

CTEST(entries, a_reply_that_is_not_an_array_is_rejected)
{
    redisReply *cases[] = {nil(), str("x"), integer(1), status("OK")};
    struct stream_batch b;

    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++) {
        REJECTED(stream_entries_parse(cases[i], &b), &b);
        rfree(cases[i]);
    }
    REJECTED(stream_entries_parse(NULL, &b), &b);
}

CTEST(entries, at_most_ack_max_entries_are_taken)
{
    redisReply *r = node(REDIS_REPLY_ARRAY);
    struct stream_batch b;
    char id[32];

    r->elements = STREAM_ACK_MAX + 5;
    r->element = calloc(r->elements, sizeof(*r->element));
    if (r->element == NULL)
        abort();
    for (size_t i = 0; i < r->elements; i++) {
        snprintf(id, sizeof(id), "%zu-0", i + 1);
        r->element[i] = ours(id, "1", "{}");
    }
    PARSE_OK(r, &b, STREAM_ACK_MAX);
    snprintf(id, sizeof(id), "%d-0", STREAM_ACK_MAX);
    ASSERT_STR_EQ(b.entries[STREAM_ACK_MAX - 1].id, id);
    stream_batch_free(&b);
    rfree(r);
}

CTEST(read, nil_and_empty_replies_are_empty_batches)
{
    redisReply *r = nil(), *e = arr(0), *none = arr(1, arr(2, str("ums:events"), arr(0)));
    struct stream_batch b;

    ASSERT_EQ(stream_read_parse(r, &b), UMS_OK);
    ASSERT_EQ(b.n, 0);
    ASSERT_EQ(stream_read_parse(e, &b), UMS_OK);
    ASSERT_EQ(b.n, 0);
    ASSERT_EQ(stream_read_parse(none, &b), UMS_OK);
    ASSERT_EQ(b.n, 0);
    rfree(r);
    rfree(e);
    rfree(none);
}

CTEST(read, the_xreadgroup_nesting_is_parsed)
{
    redisReply *r = arr(
        1, arr(2, str("ums:events"), arr(2, ours("5-0", "40", "{}"), entry("5-1", integer(1)))));
    struct stream_batch b;

    ASSERT_EQ(stream_read_parse(r, &b), UMS_OK);
    ASSERT_EQ(b.n, 2);
    ACCEPTED(&b, 0, "5-0", "40");
    NOT_OURS(&b, 1, "5-1");
    stream_batch_free(&b);
    rfree(r);
}

CTEST(read, wrong_types_at_each_level_reject_the_reply)
{
    redisReply *cases[] = {
        /* the top level */
        str("x"),
        integer(0),
        status("OK"),
        /* the stream: not an array, or not [name, entries] */
        arr(1, str("ums:events")),
        arr(1, nil()),
        arr(1, arr(1, str("ums:events"))),
        arr(1, arr(3, str("ums:events"), arr(0), arr(0))),
        /* the stream's name */
        arr(1, arr(2, integer(1), arr(1, ours("1-0", "1", "{}")))),
        arr(1, arr(2, nil(), arr(0))),
        /* the entries */
        arr(1, arr(2, str("ums:events"), nil())),
        arr(1, arr(2, str("ums:events"), str("1-0"))),
        arr(1, arr(2, str("ums:events"), integer(3))),
    };
    struct stream_batch b;

    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++) {
        int rc = stream_read_parse(cases[i], &b);
        if (rc != UMS_EINVALID || b.n != 0 || b.entries != NULL)
            CTEST_FAIL_("case %zu: rc %d, %zu entries", i, rc, b.n);
        rfree(cases[i]);
    }
    REJECTED(stream_read_parse(NULL, &b), &b);
}

CTEST(claim, both_redis_shapes_are_parsed)
{
    /* Redis 6.2: [cursor, entries]; a deleted entry comes as [id, nil]. */
    redisReply *r62 = arr(2, str("0-0"), arr(2, ours("3-0", "30", "{}"), entry("3-1", nil())));
    /* Redis 7: [cursor, entries, deleted ids]. */
    redisReply *r7 = arr(3, str("4-0"), arr(1, ours("3-2", "31", "{}")), arr(1, str("3-1")));
    struct stream_batch b;

    ASSERT_EQ(stream_claim_parse(r62, &b), UMS_OK);
    ASSERT_EQ(b.n, 2);
    ACCEPTED(&b, 0, "3-0", "30");
    NOT_OURS(&b, 1, "3-1");
    stream_batch_free(&b);
    ASSERT_EQ(stream_claim_parse(r7, &b), UMS_OK);
    ASSERT_EQ(b.n, 1);
    ACCEPTED(&b, 0, "3-2", "31");
    stream_batch_free(&b);
    rfree(r62);
    rfree(r7);
}

CTEST(claim, wrong_shapes_reject_the_reply)
{
    redisReply *cases[] = {
        nil(),
        arr(0),
        arr(1, str("0-0")),
        arr(2, integer(0), arr(0)),
        arr(2, nil(), arr(0)),
        arr(2, str("0-0"), nil()),
        arr(2, str("0-0"), str("x")),
        arr(3, str("0-0"), arr(0), nil()),
        arr(3, str("0-0"), arr(0), integer(2)),
    };
    struct stream_batch b;

    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++) {
        int rc = stream_claim_parse(cases[i], &b);
        if (rc != UMS_EINVALID || b.n != 0 || b.entries != NULL)
            CTEST_FAIL_("case %zu: rc %d, %zu entries", i, rc, b.n);
        rfree(cases[i]);
    }
}

CTEST(groups, the_group_is_found_by_name)
{
    redisReply *with = arr(2, arr(4, str("name"), str("other"), str("consumers"), integer(1)),
                           arr(8, str("name"), str("notifier"), str("consumers"), integer(2),
                               str("pending"), integer(0), str("last-delivered-id"), str("0-0")));
    redisReply *without = arr(1, arr(2, str("name"), str("other")));

    ASSERT_EQ(stream_groups_have(with, "notifier"), 1);
    ASSERT_EQ(stream_groups_have(without, "notifier"), 0);
    rfree(with);
    rfree(without);
}

CTEST(groups, wrong_types_never_match_and_never_crash)
{
    redisReply *cases[] = {
        nil(),
        str("notifier"),
        arr(0),
        arr(1, str("notifier")),
        arr(1, arr(2, integer(1), str("notifier"))),
        arr(1, arr(2, str("name"), integer(1))),
        arr(1, arr(2, str("name"), nil())),
        arr(1, arr(1, str("name"))),
        /* the group's name as a value of another key */
        arr(1, arr(4, str("name"), str("x"), str("notifier"), str("name"))),
    };

    for (size_t i = 0; i < UMS_ARRAY_LEN(cases); i++) {
        if (stream_groups_have(cases[i], "notifier") != 0)
            CTEST_FAIL_("case %zu matched", i);
        rfree(cases[i]);
    }
    ASSERT_EQ(stream_groups_have(NULL, "notifier"), 0);
}

/* A reply as hiredis itself builds it from the wire (RESP), for the batch
 * that owns it; NULL when the bytes are not one whole reply. */
static redisReply *from_wire(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;

    if (rd == NULL)
        abort();
    if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK ||
        redisReaderGetReply(rd, &reply) != REDIS_OK)
        reply = NULL;
    redisReaderFree(rd);
    return reply;
}

CTEST(wire, a_real_xreadgroup_reply_is_parsed_and_owned_by_the_batch)
{
    /* [[ums:events, [[1-0, [outbox_id, 7, event, {}]], [1-1, nil]]]] */
    redisReply *r = from_wire("*1\r\n*2\r\n$10\r\nums:events\r\n*2\r\n"
                              "*2\r\n$3\r\n1-0\r\n*4\r\n$9\r\noutbox_id\r\n$1\r\n7\r\n"
                              "$5\r\nevent\r\n$2\r\n{}\r\n"
                              "*2\r\n$3\r\n1-1\r\n*-1\r\n");
    struct stream_batch b;

    ASSERT_NOT_NULL(r);
    ASSERT_EQ(stream_read_parse(r, &b), UMS_OK);
    b.reply = r; /* as stream_read leaves it: stream_batch_free frees the reply */
    ASSERT_EQ(b.n, 2);
    ACCEPTED(&b, 0, "1-0", "7");
    ASSERT_STR_EQ(b.entries[0].event, "{}");
    NOT_OURS(&b, 1, "1-1");
    stream_batch_free(&b);
    ASSERT_NULL(b.reply);
    ASSERT_EQ(b.n, 0);
}

CTEST(wire, a_real_blocked_read_that_timed_out_is_an_empty_batch)
{
    redisReply *r = from_wire("*-1\r\n");
    struct stream_batch b;

    ASSERT_NOT_NULL(r);
    ASSERT_EQ(r->type, REDIS_REPLY_NIL);
    ASSERT_EQ(stream_read_parse(r, &b), UMS_OK);
    b.reply = r;
    ASSERT_EQ(b.n, 0);
    stream_batch_free(&b);
}
