/* test_fields.c - declared body members (fcgi/fields.c) through dispatch():
 * every bad member in one 400, each with its code; /auth/v1's one message;
 * closed routes; forms left to the handler. */
#define CTEST_MAIN
#include "../ctest.h"

#include <json-c/json.h>

#include "fake_io.h"

static int calls;

static void ok(struct req *r)
{
    calls++;
    reply_json(r, 200, "{}", 2);
}

/* Accepts "good" only. */
static int only_good(struct req *r, const char *s, size_t len)
{
    (void)r;
    return len == 4 && strcmp(s, "good") == 0;
}

static const struct field fields[] = {
    {.name = "email", .type = FT_STRING, .flags = FIELD_REQUIRED},
    {.name = "bio", .type = FT_STRING, .max_bytes = 8},
    {.name = "word", .type = FT_STRING, .valid = only_good, .msg = "word must be good"},
    {.name = "data", .type = FT_OBJECT},
    {.name = "flag", .type = FT_BOOL},
    {.name = "count", .type = FT_INT},
    {.name = NULL},
};

static const struct route table[] = {
    {.methods = M_POST,
     .pattern = "/api/v1/open",
     .fn = ok,
     .family = FAM_API,
     .body_max = 1 << 16,
     .flags = R_JSON,
     .fields = fields},
    {.methods = M_POST,
     .pattern = "/api/v1/closed",
     .fn = ok,
     .family = FAM_API,
     .body_max = 1 << 16,
     .flags = R_JSON | R_CLOSED,
     .fields = fields},
    {.methods = M_POST,
     .pattern = "/auth/v1/open",
     .fn = ok,
     .family = FAM_AUTH,
     .body_max = 1 << 16,
     .flags = R_JSON | R_FORM,
     .fields = fields},
};
#define N (sizeof(table) / sizeof(table[0]))

static const char *str(struct json_object *o, const char *k)
{
    struct json_object *v;
    return o != NULL && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

/* POSTs body to path; the parsed answer in *o (caller puts), the status returned. */
static int post(const char *path, const char *body, const char *ctype, struct json_object **o)
{
    char len[24];
    struct fake f = {{"REQUEST_METHOD", "POST", "REQUEST_URI", path, "CONTENT_TYPE", ctype,
                      "CONTENT_LENGTH", len, NULL},
                     body,
                     strlen(body),
                     0,
                     {0}};
    struct fake_resp resp;

    snprintf(len, sizeof(len), "%zu", strlen(body));
    resp = fake_run(&f, table, N);
    *o = resp.body != NULL ? json_tokener_parse(resp.body) : NULL;
    buf_free(&f.out);
    return resp.status;
}

/* errors[i]'s member k. */
static const char *err_at(struct json_object *o, size_t i, const char *k)
{
    struct json_object *errs;
    if (o == NULL || !json_object_object_get_ex(o, "errors", &errs) ||
        i >= json_object_array_length(errs))
        return NULL;
    return str(json_object_array_get_idx(errs, i), k);
}

static size_t err_count(struct json_object *o)
{
    struct json_object *errs;
    return o != NULL && json_object_object_get_ex(o, "errors", &errs)
               ? json_object_array_length(errs)
               : 0;
}

#define JSON "application/json"

CTEST(fields, good_members_reach_the_handler)
{
    struct json_object *o;
    int before = calls;
    ASSERT_EQ(post("/api/v1/open",
                   "{\"email\":\"a@b.c\",\"bio\":\"12345678\",\"word\":\"good\",\"data\":{},"
                   "\"flag\":true,\"count\":3,\"other\":1}",
                   JSON, &o),
              200);
    json_object_put(o);
    ASSERT_EQ(calls, before + 1);
    /* null is absent, for every type */
    ASSERT_EQ(post("/api/v1/open",
                   "{\"email\":\"a\",\"bio\":null,\"word\":null,\"data\":null,\"flag\":null}", JSON,
                   &o),
              200);
    json_object_put(o);
}

CTEST(fields, one_400_lists_every_bad_member_in_order)
{
    static const struct {
        const char *field, *code;
    } want[] = {
        {"email", "required"},    {"bio", "too_long"},      {"word", "invalid"},
        {"data", "invalid_type"}, {"flag", "invalid_type"}, {"count", "invalid_type"},
    };
    struct json_object *o;
    int before = calls;

    ASSERT_EQ(
        post("/api/v1/open",
             "{\"bio\":\"123456789\",\"word\":\"bad\",\"data\":[],\"flag\":1,\"count\":\"3\"}",
             JSON, &o),
        400);
    ASSERT_EQ(calls, before);
    ASSERT_STR_EQ(str(o, "code"), "validation_failed");
    ASSERT_STR_EQ(str(o, "message"), "6 members of the request are not valid.");
    ASSERT_EQ(err_count(o), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ASSERT_STR_EQ(err_at(o, i, "field"), want[i].field);
        ASSERT_STR_EQ(err_at(o, i, "code"), want[i].code);
        ASSERT_NOT_NULL(err_at(o, i, "message"));
    }
    ASSERT_STR_EQ(err_at(o, 2, "message"), "word must be good");
    ASSERT_STR_EQ(err_at(o, 3, "message"), "data must be an object");
    json_object_put(o);
}

CTEST(fields, one_bad_member_gives_its_own_message)
{
    struct json_object *o;
    ASSERT_EQ(post("/api/v1/open", "{\"email\":\"a\",\"word\":\"goods\"}", JSON, &o), 400);
    ASSERT_STR_EQ(str(o, "message"), "word must be good");
    ASSERT_EQ(err_count(o), 1);
    ASSERT_STR_EQ(err_at(o, 0, "code"), "invalid");
    json_object_put(o);
    /* A missing body is an empty object: the required member is missing. */
    ASSERT_EQ(post("/api/v1/open", "", JSON, &o), 400);
    ASSERT_STR_EQ(err_at(o, 0, "field"), "email");
    ASSERT_STR_EQ(err_at(o, 0, "code"), "required");
    json_object_put(o);
    /* A body that is not an object */
    ASSERT_EQ(post("/api/v1/open", "[1]", JSON, &o), 400);
    ASSERT_STR_EQ(str(o, "code"), "validation_failed");
    ASSERT_EQ(err_count(o), 0);
    json_object_put(o);
}

CTEST(fields, closed_routes_refuse_unknown_members)
{
    struct json_object *o;
    struct buf b;

    ASSERT_EQ(post("/api/v1/closed", "{\"email\":\"a\",\"role\":\"admin\"}", JSON, &o), 400);
    ASSERT_STR_EQ(err_at(o, 0, "field"), "role");
    ASSERT_STR_EQ(err_at(o, 0, "code"), "unknown_field");
    ASSERT_STR_CONTAINS(err_at(o, 0, "message"), "email, bio, word, data, flag and count");
    json_object_put(o);
    /* Many unknown members: one answer, at most 32 of them listed. */
    buf_init(&b, 1 << 16);
    buf_adds(&b, "{\"email\":\"a\"");
    for (int i = 0; i < 100; i++)
        buf_printf(&b, ",\"k%d\":%d", i, i);
    buf_addc(&b, '}');
    ASSERT_EQ(post("/api/v1/closed", b.p, JSON, &o), 400);
    ASSERT_EQ(err_count(o), 32);
    ASSERT_STR_EQ(str(o, "message"), "100 members of the request are not valid.");
    json_object_put(o);
    buf_free(&b);
}

CTEST(fields, auth_routes_answer_gotrue_s_one_message)
{
    struct json_object *o, *code;
    ASSERT_EQ(post("/auth/v1/open", "{\"email\":5,\"data\":\"x\"}", JSON, &o), 400);
    ASSERT_STR_EQ(str(o, "error_code"), "validation_failed");
    ASSERT_STR_EQ(str(o, "msg"), "email must be a string");
    ASSERT_TRUE(json_object_object_get_ex(o, "code", &code));
    ASSERT_EQ(json_object_get_int(code), 400);
    ASSERT_EQ(err_count(o), 0);
    json_object_put(o);
}

CTEST(fields, forms_are_left_to_the_handler)
{
    struct json_object *o;
    int before = calls;
    ASSERT_EQ(
        post("/auth/v1/open", "type=signup&token_hash=x", "application/x-www-form-urlencoded", &o),
        200);
    json_object_put(o);
    ASSERT_EQ(calls, before + 1);
}
