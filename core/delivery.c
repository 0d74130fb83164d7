/* delivery.c - a batch's rows in PostgreSQL: recipients, delivery states,
 * in-app rows and outcomes (delivery.h; docs/ARCHITECTURE.md
 * "Notifications", step 3). The statements are in db_stmt.c. */
#include "delivery.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "../util/buf.h"
#include "../util/ums.h"

struct delivery_records {
    struct json_object *list; /* [{event_id, channel, state, last_error, retry_ms}] */
};

/* Adds key: v to object o; v is o's, or released on failure. 0 or -1. */
static int put(struct json_object *o, const char *key, struct json_object *v)
{
    if (v == NULL)
        return -1;
    if (json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* Appends v to array a; v is a's, or released on failure. 0 or -1. */
static int append(struct json_object *a, struct json_object *v)
{
    if (v == NULL)
        return -1;
    if (json_object_array_add(a, v) != 0) {
        json_object_put(v);
        return -1;
    }
    return 0;
}

/* ids[] as a PostgreSQL array literal ('{1,2,3}') into b. */
static int id_list(struct buf *b, const long long *ids, size_t n)
{
    int rc;

    buf_init(b, (n + 1) * 24);
    rc = buf_addc(b, '{');
    for (size_t i = 0; rc == UMS_OK && i < n; i++)
        rc = buf_printf(b, "%s%lld", i > 0 ? "," : "", ids[i]);
    if (rc == UMS_OK)
        rc = buf_addc(b, '}');
    return rc == UMS_OK ? UMS_OK : UMS_ERR;
}

/* A copy of column col of row r, or NULL when it is SQL NULL; *oom is set
 * when the copy could not be made. */
static char *copy_or_null(const PGresult *res, int r, int col, int *oom)
{
    char *s;

    if (PQgetisnull(res, r, col))
        return NULL;
    s = strdup(PQgetvalue(res, r, col));
    if (s == NULL)
        *oom = 1;
    return s;
}

/* A preference switch: NULL (never set) or true is on. */
static int switch_on(const PGresult *res, int r, int col)
{
    return PQgetisnull(res, r, col) || PQgetvalue(res, r, col)[0] == 't';
}

int delivery_targets_read(struct db *db, const struct delivery_recipient *req, size_t n,
                          struct delivery_targets *out)
{
    struct json_object *rows = NULL;
    PGresult *res = NULL;
    const char *p[1];
    int rc = UMS_ERR, oom = 0, nrows;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return UMS_OK;
    rows = json_object_new_array();
    if (rows == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        if (append(rows, o) != 0 || put(o, "event_id", json_object_new_int64(req[i].event_id)) ||
            put(o, "user_id", json_object_new_string(req[i].user_id)) ||
            put(o, "kind", json_object_new_string(req[i].kind != NULL ? req[i].kind : "")))
            goto out;
    }
    p[0] = json_object_to_json_string_ext(rows, JSON_C_TO_STRING_PLAIN);
    if (p[0] == NULL)
        goto out;
    rc = db_exec(db, &res, STMT_NOTIFY_TARGETS, 1, p);
    if (rc != UMS_OK)
        goto out;
    nrows = PQntuples(res);
    if (nrows > 0 && (out->v = calloc((size_t)nrows, sizeof(*out->v))) == NULL) {
        rc = UMS_ERR;
        goto out;
    }
    for (int r = 0; r < nrows; r++) {
        struct delivery_target *t = &out->v[out->n++];
        t->event_id = db_ll(res, r, 0);
        t->email = strdup(PQgetvalue(res, r, 1));
        t->name = strdup(PQgetvalue(res, r, 2)); /* "" for NULL */
        t->email_on = switch_on(res, r, 3);
        t->in_app_on = switch_on(res, r, 4);
        t->push_on = switch_on(res, r, 5);
        t->has_device = PQgetvalue(res, r, 6)[0] == 't';
        oom |= t->email == NULL || t->name == NULL;
    }
    rc = oom ? UMS_ERR : UMS_OK;
out:
    PQclear(res);
    json_object_put(rows);
    return rc;
}

void delivery_targets_free(struct delivery_targets *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].email);
        free(t->v[i].name);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static enum delivery_state state_named(const char *s)
{
    if (strcmp(s, "sent") == 0)
        return DELIVERY_SENT;
    if (strcmp(s, "failed") == 0)
        return DELIVERY_FAILED;
    return DELIVERY_PENDING;
}

int delivery_states_read(struct db *db, const long long *ids, size_t n, struct delivery_states *out)
{
    struct buf lit;
    PGresult *res = NULL;
    const char *p[1];
    int rc, oom = 0, nrows;

    memset(out, 0, sizeof(*out));
    if (n == 0)
        return UMS_OK;
    rc = id_list(&lit, ids, n);
    if (rc != UMS_OK)
        goto out;
    p[0] = lit.p;
    rc = db_exec(db, &res, STMT_DELIVERY_STATES, 1, p);
    if (rc != UMS_OK)
        goto out;
    nrows = PQntuples(res);
    if (nrows > 0 && (out->v = calloc((size_t)nrows, sizeof(*out->v))) == NULL) {
        rc = UMS_ERR;
        goto out;
    }
    /* Columns: event, channel, state, attempts, not due yet, otp, link. */
    for (int r = 0; r < nrows; r++) {
        struct delivery_state_row *s = &out->v[out->n++];
        s->event_id = db_ll(res, r, 0);
        s->channel = copy_or_null(res, r, 1, &oom);
        s->state = s->channel != NULL ? state_named(PQgetvalue(res, r, 2)) : DELIVERY_PENDING;
        s->attempts = db_int(res, r, 3);
        s->waiting = PQgetvalue(res, r, 4)[0] == 't';
        s->otp = copy_or_null(res, r, 5, &oom);
        s->link = copy_or_null(res, r, 6, &oom);
    }
    rc = oom ? UMS_ERR : UMS_OK;
out:
    PQclear(res);
    buf_free(&lit);
    return rc;
}

static void wipe_free(char *s)
{
    if (s == NULL)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
}

void delivery_states_free(struct delivery_states *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].channel);
        wipe_free(s->v[i].otp);
        wipe_free(s->v[i].link);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

int delivery_in_app_write(struct db *db, const struct delivery_in_app *rows, size_t n)
{
    struct json_object *list = json_object_new_array();
    const char *p[1];
    int rc = UMS_ERR;

    if (list == NULL)
        return UMS_ERR;
    for (size_t i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        if (append(list, o) != 0 || put(o, "event_id", json_object_new_int64(rows[i].event_id)) ||
            put(o, "user_id", json_object_new_string(rows[i].user_id)) ||
            put(o, "kind", json_object_new_string(rows[i].kind)) ||
            put(o, "title", json_object_new_string(rows[i].title)) ||
            put(o, "body", json_object_new_string(rows[i].body)))
            goto out;
    }
    p[0] = json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN);
    if (p[0] != NULL)
        rc = db_exec(db, NULL, STMT_INAPP_MANY, 1, p);
out:
    json_object_put(list);
    return rc;
}

int delivery_records_new(struct delivery_records **out)
{
    struct delivery_records *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL)
        return UMS_ERR;
    r->list = json_object_new_array();
    if (r->list == NULL) {
        free(r);
        return UMS_ERR;
    }
    *out = r;
    return UMS_OK;
}

int delivery_records_add(struct delivery_records *r, long long event_id, const char *channel,
                         enum delivery_state state, const char *error, long retry_ms)
{
    static const char *const names[DELIVERY__MAX] = {
        [DELIVERY_PENDING] = "pending", [DELIVERY_SENT] = "sent", [DELIVERY_FAILED] = "failed"};
    struct json_object *o;
    char clean[256];

    if ((unsigned)state >= DELIVERY__MAX || (o = json_object_new_object()) == NULL)
        return UMS_ERR;
    if (put(o, "event_id", json_object_new_int64(event_id)) ||
        put(o, "channel", json_object_new_string(channel)) ||
        put(o, "state", json_object_new_string(names[state])))
        goto fail;
    if (error != NULL) {
        /* deliveries.last_error may quote a provider's answer: printable ASCII only. */
        size_t k = 0;
        for (; error[k] != '\0' && k + 1 < sizeof(clean); k++)
            clean[k] = error[k] >= 0x20 && error[k] < 0x7f ? error[k] : ' ';
        clean[k] = '\0';
        if (put(o, "last_error", json_object_new_string(clean)))
            goto fail;
    }
    if (retry_ms >= 0 && put(o, "retry_ms", json_object_new_int64(retry_ms)))
        goto fail;
    return append(r->list, o) == 0 ? UMS_OK : UMS_ERR; /* append releases o on failure */
fail:
    json_object_put(o);
    return UMS_ERR;
}

size_t delivery_records_count(const struct delivery_records *r)
{
    return r != NULL ? json_object_array_length(r->list) : 0;
}

int delivery_records_write(struct db *db, const struct delivery_records *r, const long long *done,
                           size_t ndone)
{
    struct buf lit;
    const char *p[2];
    int rc;

    /* Nothing to record and nothing done (a batch of entries not ours): no round trip. */
    if (ndone == 0 && delivery_records_count(r) == 0)
        return UMS_OK;
    rc = id_list(&lit, done, ndone);
    if (rc == UMS_OK) {
        p[0] = json_object_to_json_string_ext(r->list, JSON_C_TO_STRING_PLAIN);
        p[1] = lit.p;
        rc = p[0] != NULL ? db_exec(db, NULL, STMT_DELIVERY_RECORDS, 2, p) : UMS_ERR;
    }
    buf_free(&lit);
    return rc;
}

void delivery_records_free(struct delivery_records *r)
{
    if (r == NULL)
        return;
    json_object_put(r->list);
    free(r);
}
