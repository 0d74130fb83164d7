/* notify.c - in-app inbox marks, preferences and devices (notify.h). */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctx.h"
#include "db.h"
#include "err.h"
#include "outbox.h"
#include "../util/ums.h"
#include "../util/utf8.h"
#include "../util/valid.h"

const char *const notify_kinds[] = {"welcome", "role_changed", "new_sign_in", "admin_message"};
const size_t notify_kinds_len = UMS_ARRAY_LEN(notify_kinds);
const char *const notify_channels[] = {"email", "push", "in_app"};
const size_t notify_channels_len = UMS_ARRAY_LEN(notify_channels);

static int known(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

int notify_prefs_get(struct ums_ctx *c, const char *uid, char **json)
{
    const char *p[1] = {uid};
    PGresult *res = NULL;
    struct json_object *out = NULL, *prefs;
    int rc, has_device;

    *json = NULL;
    rc = db_exec(c->db, &res, STMT_NOTIFY_PREFS, 1, p);
    if (rc != UMS_OK)
        return rc;
    /* Row 0 is the device flag ('has_device', '', bool); the others are
     * the stored (kind, channel, enabled). */
    has_device = PQntuples(res) > 0 && PQgetvalue(res, 0, 2)[0] == 't';
    out = json_object_new_object();
    prefs = json_object_new_object();
    json_object_object_add(out, "preferences", prefs);
    for (size_t k = 0; k < notify_kinds_len; k++) {
        struct json_object *ch = json_object_new_object();
        for (size_t i = 0; i < notify_channels_len; i++) {
            int on = strcmp(notify_channels[i], "push") != 0 || has_device;
            for (int r = 1; r < PQntuples(res); r++)
                if (strcmp(PQgetvalue(res, r, 0), notify_kinds[k]) == 0 &&
                    strcmp(PQgetvalue(res, r, 1), notify_channels[i]) == 0)
                    on = PQgetvalue(res, r, 2)[0] == 't';
            json_object_object_add(ch, notify_channels[i], json_object_new_boolean(on));
        }
        json_object_object_add(prefs, notify_kinds[k], ch);
    }
    PQclear(res);
    *json = strdup(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
    json_object_put(out);
    return *json != NULL ? UMS_OK : UMS_ERR;
}

int notify_prefs_put(struct ums_ctx *c, const char *uid, struct json_object *prefs,
                     struct ums_err *err)
{
    int rc, has_device;

    if (!json_object_is_type(prefs, json_type_object))
        return err_field(err, "preferences", "preferences must be an object");
    /* Everything is checked before anything is written. */
    json_object_object_foreach(prefs, kind, chans)
    {
        if (!known(notify_kinds, notify_kinds_len, kind))
            return err_field(err, "kind", "unknown notification kind");
        if (!json_object_is_type(chans, json_type_object))
            return err_field(err, "preferences", "preferences must be an object");
        json_object_object_foreach(chans, ch, on)
        {
            if (!known(notify_channels, notify_channels_len, ch))
                return err_field(err, "channel", "channels are email, push and in_app");
            if (!json_object_is_type(on, json_type_boolean))
                return err_field(err, "enabled", "each switch must be true or false");
        }
    }
    rc = db_begin(c->db);
    if (rc != UMS_OK)
        return rc;
    {
        /* A switch equal to its default is stored as "default", so PUTting
         * back what GET returned changes nothing, and push follows the
         * user's devices until they set it themselves. */
        const char *p[1] = {uid};
        PGresult *res = NULL;
        rc = db_exec(c->db, &res, STMT_NOTIFY_PREFS, 1, p);
        has_device = rc == UMS_OK && PQntuples(res) > 0 && PQgetvalue(res, 0, 2)[0] == 't';
        PQclear(res);
    }
    json_object_object_foreach(prefs, kind2, chans2)
    {
        if (rc != UMS_OK)
            break;
        json_object_object_foreach(chans2, ch2, on2)
        {
            int on = json_object_get_boolean(on2);
            int def = strcmp(ch2, "push") != 0 || has_device;
            const char *p[4] = {uid, kind2, ch2, on ? "t" : "f"};
            rc = db_exec(c->db, NULL, on == def ? STMT_NOTIFY_PREF_CLEAR : STMT_NOTIFY_PREF_SET,
                         on == def ? 3 : 4, p);
            if (rc != UMS_OK)
                break;
        }
        if (rc != UMS_OK)
            break;
    }
    rc = db_end(c->db, rc);
    return rc == UMS_EINVALID ? UMS_ENOTFOUND : rc; /* the foreign key: no such user */
}

int notify_mark_read(struct ums_ctx *c, const char *uid, const char *nid, long *count)
{
    PGresult *res = NULL;
    int rc;

    *count = 0;
    if (nid != NULL) {
        const char *p[2] = {uid, nid};
        if (strspn(nid, "0123456789") != strlen(nid) || nid[0] == '\0' || strlen(nid) > 18)
            return UMS_ENOTFOUND;
        rc = db_exec(c->db, &res, STMT_NOTIFY_READ_ONE, 2, p);
    } else {
        const char *p[1] = {uid};
        rc = db_exec(c->db, &res, STMT_NOTIFY_READ_ALL, 1, p);
    }
    if (rc != UMS_OK)
        return rc;
    *count = PQntuples(res);
    PQclear(res);
    return nid != NULL && *count == 0 ? UMS_ENOTFOUND : UMS_OK;
}

int notify_token_valid(const char *s, size_t len)
{
    return len > 0 && len <= DEVICE_TOKEN_MAX && strlen(s) == len && utf8_valid(s, len);
}

int notify_platform_valid(const char *s, size_t len)
{
    return strlen(s) == len &&
           (strcmp(s, "android") == 0 || strcmp(s, "ios") == 0 || strcmp(s, "web") == 0);
}

int notify_title_valid(const char *s, size_t len)
{
    return utf8_text_valid(s, len, ADMIN_TITLE_MAX, 0);
}

int notify_message_valid(const char *s, size_t len)
{
    return utf8_text_valid(s, len, ADMIN_MESSAGE_MAX, 1);
}

int notify_device_add(struct ums_ctx *c, const char *uid, const char *token, size_t token_len,
                      const char *platform, char **json, struct ums_err *err)
{
    PGresult *res = NULL;
    int rc;

    *json = NULL;
    if (token == NULL || !notify_token_valid(token, token_len))
        return err_field(err, "token", NOTIFY_TOKEN_RULE);
    if (platform == NULL || !notify_platform_valid(platform, strlen(platform)))
        return err_field(err, "platform", NOTIFY_PLATFORM_RULE);
    {
        const char *p[3] = {uid, token, platform};
        rc = db_exec(c->db, &res, STMT_DEVICE_UPSERT, 3, p);
    }
    if (rc == UMS_EINVALID)
        rc = UMS_ENOTFOUND;
    if (rc != UMS_OK)
        return rc;
    *json = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return *json != NULL ? UMS_OK : UMS_ERR;
}

int notify_device_remove(struct ums_ctx *c, const char *uid, const char *did)
{
    const char *p[2] = {uid, did};
    PGresult *res = NULL;
    int rc;

    if (!valid_uuid(did))
        return UMS_ENOTFOUND;
    rc = db_exec(c->db, &res, STMT_DEVICE_DELETE, 2, p);
    if (rc != UMS_OK)
        return rc;
    rc = PQntuples(res) > 0 ? UMS_OK : UMS_ENOTFOUND;
    PQclear(res);
    return rc;
}

int notify_devices_list(struct ums_ctx *c, const char *uid, struct notify_devices *out)
{
    const char *p[1] = {uid};
    PGresult *res = NULL;
    int rc, nrows;

    memset(out, 0, sizeof(*out));
    rc = db_exec(c->db, &res, STMT_DEVICES_OF, 1, p);
    if (rc != UMS_OK)
        goto out;
    nrows = PQntuples(res);
    if (nrows > 0 && (out->v = calloc((size_t)nrows, sizeof(*out->v))) == NULL) {
        rc = UMS_ERR;
        goto out;
    }
    for (int r = 0; r < nrows && rc == UMS_OK; r++) {
        struct notify_device *d = &out->v[out->n++];
        d->id = strdup(PQgetvalue(res, r, 0));
        d->token = strdup(PQgetvalue(res, r, 1));
        if (d->id == NULL || d->token == NULL)
            rc = UMS_ERR;
    }
out:
    PQclear(res);
    return rc;
}

void notify_devices_free(struct notify_devices *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].id);
        free(d->v[i].token);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

int notify_device_gone(struct ums_ctx *c, const char *did)
{
    const char *p[1] = {did};

    return db_exec(c->db, NULL, STMT_DEVICE_GONE, 1, p);
}

int notify_admin_message(struct ums_ctx *c, const char *actor, const char *uid, const char *ip,
                         const char *title, size_t title_len, const char *message,
                         size_t message_len, long long *event_id, struct ums_err *err)
{
    const char *p[5] = {uid, title, message, actor, ip != NULL ? ip : ""};
    PGresult *res = NULL;
    int rc;

    *event_id = 0;
    if (title == NULL)
        return err_required(err, "title", NOTIFY_TITLE_RULE);
    if (!notify_title_valid(title, title_len))
        return err_field(err, "title", NOTIFY_TITLE_RULE);
    if (message == NULL)
        return err_required(err, "message", NOTIFY_MESSAGE_RULE);
    if (!notify_message_valid(message, message_len))
        return err_field(err, "message", NOTIFY_MESSAGE_RULE);
    rc = db_exec(c->db, &res, STMT_ADMIN_MESSAGE, 5, p);
    if (rc == UMS_OK && PQntuples(res) != 1)
        rc = UMS_ENOTFOUND;
    if (rc == UMS_OK) {
        *event_id = db_ll(res, 0, 0);
        outbox_publish(c->db, c->kv, *event_id, PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}
