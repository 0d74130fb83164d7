/* fields.c - the body members a route declares (struct field in its route
 * table entry), checked by dispatch() before the handler runs: presence,
 * JSON type, length and a validator (strict JSON has no NUL in a string). Every bad member is
 * listed in one 400 (docs/ARCHITECTURE.md "The request pipeline"). */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "../core/notify.h"
#include "../core/users.h"
#include "../util/buf.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"

/* At most this many members are listed; a closed route's body may name
 * any number of unknown ones. */
#define FIELDS_LISTED 32

struct bad {
    struct buf list; /* "errors":[...] */
    char first[256]; /* the first message, for /auth/v1 and a single error */
    int n;
};

static void bad_add(struct bad *b, const char *name, const char *code, const char *msg)
{
    if (b->n == 0)
        snprintf(b->first, sizeof(b->first), "%s", msg);
    if (b->n < FIELDS_LISTED) {
        buf_adds(&b->list, b->n == 0 ? "\"errors\":[{\"field\":" : ",{\"field\":");
        buf_add_json_str(&b->list, name);
        buf_adds(&b->list, ",\"code\":");
        buf_add_json_str(&b->list, code);
        buf_adds(&b->list, ",\"message\":");
        buf_add_json_str(&b->list, msg);
        buf_addc(&b->list, '}');
    }
    b->n++;
}

static const char *type_text(enum field_type t)
{
    switch (t) {
    case FT_STRING:
        return "a string";
    case FT_OBJECT:
        return "an object";
    case FT_BOOL:
        return "a boolean";
    case FT_INT:
        return "an integer";
    }
    return "a value";
}

static int type_ok(struct json_object *v, enum field_type t)
{
    switch (t) {
    case FT_STRING:
        return json_object_is_type(v, json_type_string);
    case FT_OBJECT:
        return json_object_is_type(v, json_type_object);
    case FT_BOOL:
        return json_object_is_type(v, json_type_boolean);
    case FT_INT:
        return json_object_is_type(v, json_type_int);
    }
    return 0;
}

/* One declared member; a problem is added to b. */
static void check_one(struct req *r, const struct field *f, struct bad *b)
{
    struct json_object *v = NULL;
    char msg[256];
    const char *s;
    size_t len;

    if (r->json == NULL || !json_object_object_get_ex(r->json, f->name, &v) || v == NULL) {
        if (f->flags & FIELD_REQUIRED) {
            snprintf(msg, sizeof(msg), "%s is required", f->name);
            bad_add(b, f->name, "required", msg);
        }
        return;
    }
    if (!type_ok(v, f->type)) {
        snprintf(msg, sizeof(msg), "%s must be %s", f->name, type_text(f->type));
        bad_add(b, f->name, "invalid_type", msg);
        return;
    }
    if (f->type != FT_STRING)
        return;
    s = json_object_get_string(v);
    len = (size_t)json_object_get_string_len(v);
    if (f->max_bytes > 0 && len > f->max_bytes) {
        if (f->msg == NULL)
            snprintf(msg, sizeof(msg), "%s must be at most %zu bytes", f->name, f->max_bytes);
        bad_add(b, f->name, "too_long", f->msg != NULL ? f->msg : msg);
    } else if (f->valid != NULL && !f->valid(r, s, len)) {
        if (f->msg == NULL)
            snprintf(msg, sizeof(msg), "%s is not valid", f->name);
        bad_add(b, f->name, "invalid", f->msg != NULL ? f->msg : msg);
    }
}

/* R_CLOSED: a member the route does not declare is an error. The list of
 * what it takes is written only when one is found. */
static void check_unknown(struct req *r, struct bad *b)
{
    const struct field *fields = r->route->fields;
    struct buf names;
    char msg[256];

    buf_init(&names, 512);
    json_object_object_foreach(r->json, key, val)
    {
        const struct field *f = fields;
        (void)val;
        while (f->name != NULL && strcmp(f->name, key) != 0)
            f++;
        if (f->name != NULL)
            continue;
        if (names.len == 0)
            for (f = fields; f->name != NULL; f++) {
                if (f != fields)
                    buf_adds(&names, f[1].name == NULL ? " and " : ", ");
                buf_adds(&names, f->name);
            }
        snprintf(msg, sizeof(msg), "%.64s is not a member of this request; it takes %s", key,
                 names.p != NULL ? names.p : "none");
        bad_add(b, key, "unknown_field", msg);
    }
    buf_free(&names);
}

int fields_check(struct req *r)
{
    struct bad b;
    char summary[96];

    if (r->route == NULL || r->route->fields == NULL)
        return 0;
    if (r->json == NULL && r->body_len > 0)
        return 0; /* an HTML form (R_FORM): the handler reads it */
    if (r->json != NULL && !json_object_is_type(r->json, json_type_object)) {
        reply_error(r, HE_VALIDATION, "The request body must be a JSON object.");
        return -1;
    }
    memset(&b, 0, sizeof(b));
    buf_init(&b.list, 16 * 1024);
    for (const struct field *f = r->route->fields; f->name != NULL; f++)
        check_one(r, f, &b);
    if (r->json != NULL && (r->route->flags & R_CLOSED))
        check_unknown(r, &b);
    if (b.n == 0) {
        buf_free(&b.list);
        return 0;
    }
    /* GoTrue's format has one message and no list. */
    if (r->family == FAM_AUTH) {
        reply_error(r, HE_VALIDATION, b.first);
    } else {
        buf_addc(&b.list, ']');
        snprintf(summary, sizeof(summary), "%d members of the request are not valid.", b.n);
        reply_error_ex(r, HE_VALIDATION, b.n == 1 ? b.first : summary, b.list.p);
    }
    buf_free(&b.list);
    return -1;
}

/* ---- validators: the rules of core, for declarations ---- */

int fields_user_name(struct req *r, const char *s, size_t len)
{
    (void)r;
    return users_name_valid(s, len);
}

int fields_user_status(struct req *r, const char *s, size_t len)
{
    (void)r;
    return users_status_valid(s, len);
}

int fields_role(struct req *r, const char *s, size_t len)
{
    return strlen(s) == len && users_role_known(&r->app->ctx, s);
}

int fields_device_token(struct req *r, const char *s, size_t len)
{
    (void)r;
    return notify_token_valid(s, len);
}

int fields_device_platform(struct req *r, const char *s, size_t len)
{
    (void)r;
    return notify_platform_valid(s, len);
}

int fields_message_title(struct req *r, const char *s, size_t len)
{
    (void)r;
    return notify_title_valid(s, len);
}

int fields_message_text(struct req *r, const char *s, size_t len)
{
    (void)r;
    return notify_message_valid(s, len);
}
