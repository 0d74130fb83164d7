/* search.c - user search and audit listing with keyset pagination.
 *
 * The filters are optional, so these two queries are composed here from
 * constant fragments and run unprepared (db_read_sql: on a read replica when
 * one is usable, see db.h): PostgreSQL then plans
 * each one for its actual values, which is what lets a LIKE 'abc%' use the
 * index. No input ever becomes SQL text: every value is a $n parameter.
 *
 * A cursor is base64url("<kind>|<sort>|<id>|<key>") "." base64url(MAC), the
 * MAC being the first 16 bytes of HMAC-SHA256 under a key derived from
 * [auth] refresh_token_secret. A forged or edited cursor is refused. */
#include "search.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/b64.h"
#include "../util/buf.h"
#include "config.h"
#include "../util/crypto.h"
#include "ctx.h"
#include "db.h"
#include "err.h"
#include "../util/ums.h"
#include "../util/valid.h"

#define PARAMS_MAX 12
/* The key of a name- or email-sorted page: a name of 100 characters is up
 * to 400 bytes of UTF-8, an email 255. The encoded cursor is 4/3 of its
 * payload plus the MAC. */
#define CURSOR_KEY_MAX SEARCH_CURSOR_KEY_MAX
#define CURSOR_MAX     1024
#define MAC_LEN        16

/* A query under construction: SQL from fragments, values as parameters. */
struct sq {
    struct buf sql;
    const char *p[PARAMS_MAX];
    int n;
};

/* Appends fragment `frag` in which "$?" stands for the next parameter. */
static void sq_add(struct sq *s, const char *frag, const char *value)
{
    const char *mark = strstr(frag, "$?");

    if (mark == NULL || s->n >= PARAMS_MAX) {
        buf_adds(&s->sql, frag);
        return;
    }
    s->p[s->n++] = value;
    buf_add(&s->sql, frag, (size_t)(mark - frag));
    buf_printf(&s->sql, "$%d", s->n);
    buf_adds(&s->sql, mark + 2);
}

static const struct {
    const char *name;
    const char *expr;   /* the ordering expression, as the index has it */
    const char *keysql; /* its value as text for the cursor */
    const char *cmp;    /* how a cursor key compares */
    int desc;
} sorts[SORT__MAX] = {
    [SORT_CREATED_DESC] = {"-created_at", "u.created_at", "ums_ts(u.created_at)", "$?::timestamptz",
                           1},
    [SORT_CREATED] = {"created_at", "u.created_at", "ums_ts(u.created_at)", "$?::timestamptz", 0},
    [SORT_EMAIL] = {"email", "(u.email COLLATE \"C\")", "u.email", "$?::text", 0},
    [SORT_EMAIL_DESC] = {"-email", "(u.email COLLATE \"C\")", "u.email", "$?::text", 1},
    [SORT_NAME] = {"name", "(lower(u.name) COLLATE \"C\")", "lower(u.name)", "$?::text", 0},
    [SORT_NAME_DESC] = {"-name", "(lower(u.name) COLLATE \"C\")", "lower(u.name)", "$?::text", 1},
};

int search_sort_parse(const char *s)
{
    for (int i = 0; i < SORT__MAX; i++)
        if (strcmp(s, sorts[i].name) == 0)
            return i;
    return -1;
}

/* n decimal digits at s as a number, or -1 when one of them is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in(int y, int mo)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return mo == 2 && leap ? 29 : days[mo - 1];
}

int search_timestamp_valid(const char *s)
{
    int y, mo, d, h, mi, sec, oh, om;
    const char *t;

    /* Fixed widths, digits only: sscanf's %d would take signs and spaces. */
    if (s == NULL || strnlen(s, 41) > 40 || strnlen(s, 10) < 10 || s[4] != '-' || s[7] != '-')
        return 0;
    y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in(y, mo))
        return 0;
    t = s + 10;
    if (*t == '\0')
        return 1;
    if ((*t != 'T' && *t != 't' && *t != ' ') || strnlen(t, 9) < 9 || t[3] != ':' || t[6] != ':')
        return 0;
    h = digits(t + 1, 2), mi = digits(t + 4, 2), sec = digits(t + 7, 2);
    /* 60: a leap second, which PostgreSQL takes as the next minute. */
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return 0;
    t += 9;
    if (*t == '.') {
        size_t n = strspn(t + 1, "0123456789");
        if (n == 0 || n > 9)
            return 0;
        t += 1 + n;
    }
    if (*t == '\0' || ((*t == 'Z' || *t == 'z') && t[1] == '\0'))
        return 1;
    if ((*t != '+' && *t != '-') || strnlen(t, 7) != 6 || t[3] != ':')
        return 0;
    oh = digits(t + 1, 2), om = digits(t + 4, 2);
    /* PostgreSQL's range of offsets: at most 15:59 either way. */
    return oh >= 0 && oh <= 15 && om >= 0 && om <= 59;
}

static int cursor_mac(const struct ums_ctx *c, unsigned char mac[32], const char *payload,
                      size_t len)
{
    const char *secret = c->cfg->auth.refresh_token_secret;
    unsigned char key[32];

    /* A key of its own, so a cursor MAC is never a refresh-token MAC. */
    if (crypto_hmac_sha256(key, secret, strlen(secret), "ums cursor key v1", 17) != UMS_OK)
        return UMS_ERR;
    return crypto_hmac_sha256(mac, key, sizeof(key), payload, len);
}

int search_cursor_make(const struct ums_ctx *c, struct buf *out, char kind, int sort,
                       const char *id, const char *key)
{
    char payload[CURSOR_KEY_MAX + 64], enc[B64URL_LEN(sizeof(payload)) + 1];
    char macenc[B64URL_LEN(MAC_LEN) + 1];
    unsigned char mac[32];
    int n = snprintf(payload, sizeof(payload), "%c|%d|%s|%s", kind, sort, id, key);

    if (n < 0 || (size_t)n >= sizeof(payload) || cursor_mac(c, mac, payload, (size_t)n) != 0)
        return UMS_ERR;
    b64_url_encode(enc, (const unsigned char *)payload, (size_t)n);
    b64_url_encode(macenc, mac, MAC_LEN);
    return buf_printf(out, "\"%s.%s\"", enc, macenc) == 0 ? UMS_OK : UMS_ERR;
}

int search_cursor_open(const struct ums_ctx *c, const char *cursor, char kind, int sort, char *id,
                       char *key)
{
    unsigned char payload[CURSOR_MAX], mac[32], want[MAC_LEN + 4];
    const char *dot = strchr(cursor, '.');
    long n, m;
    char head[16];
    int hn;

    if (dot == NULL || strlen(cursor) > CURSOR_MAX)
        return UMS_EINVALID;
    n = b64_url_decode(payload, sizeof(payload) - 1, cursor, (size_t)(dot - cursor));
    m = b64_url_decode(want, sizeof(want), dot + 1, strlen(dot + 1));
    if (n <= 0 || m != MAC_LEN || cursor_mac(c, mac, (const char *)payload, (size_t)n) != UMS_OK ||
        !crypto_secret_equal(mac, want, MAC_LEN))
        return UMS_EINVALID;
    payload[n] = '\0';
    hn = snprintf(head, sizeof(head), "%c|%d|", kind, sort);
    if (n < hn + 37 || memcmp(payload, head, (size_t)hn) != 0 || payload[hn + 36] != '|')
        return UMS_EINVALID; /* another kind of cursor, or another sort */
    memcpy(id, payload + hn, 36);
    id[36] = '\0';
    if (!valid_uuid(id) || strlen((char *)payload + hn + 37) > CURSOR_KEY_MAX)
        return UMS_EINVALID;
    snprintf(key, CURSOR_KEY_MAX + 1, "%s", (char *)payload + hn + 37);
    return UMS_OK;
}

/* The id part of audit cursors, which carry the row id as their key. */
#define AUDIT_CURSOR_ID "00000000-0000-4000-8000-000000000000"

/*
 * Renders {"data":[column 0 of up to limit rows],"next_cursor":... (without
 * the closing brace). The query asked for limit + 1 rows: one more means a
 * next page, whose cursor holds the last row's id (column 1, or `id` when
 * not NULL) and key (column key_col).
 */
static int render_page(const struct ums_ctx *c, struct buf *out, PGresult *res, int limit,
                       char kind, int sort, const char *id, int key_col)
{
    int rows = PQntuples(res);

    buf_adds(out, "{\"data\":[");
    for (int i = 0; i < rows && i < limit; i++) {
        if (i > 0)
            buf_addc(out, ',');
        buf_adds(out, PQgetvalue(res, i, 0));
    }
    buf_adds(out, "],\"next_cursor\":");
    if (rows <= limit)
        return buf_adds(out, "null") == 0 ? UMS_OK : UMS_ERR;
    return search_cursor_make(c, out, kind, sort, id != NULL ? id : PQgetvalue(res, limit - 1, 1),
                              PQgetvalue(res, limit - 1, key_col));
}

/* q as a LIKE pattern: metacharacters escaped, then '%' after (prefix) or
 * on both sides (substring). *substring tells which. NULL when q is empty. */
static char *like_pattern(const char *q, int *substring)
{
    size_t n = strlen(q);
    char *out, *o;

    *substring = n >= 2 && q[0] == '*' && q[n - 1] == '*';
    if (*substring) {
        q++;
        n -= 2;
    }
    if (n == 0)
        return NULL;
    out = malloc(2 * n + 3);
    if (out == NULL)
        return NULL;
    o = out;
    if (*substring)
        *o++ = '%';
    for (size_t i = 0; i < n; i++) {
        if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
            *o++ = '\\';
        *o++ = q[i];
    }
    *o++ = '%';
    *o = '\0';
    return out;
}

/* The WHERE conditions shared by the page and the total. */
static void user_filters(struct sq *s, const struct user_query *q, const char *pattern,
                         int substring)
{
    if (pattern != NULL && substring)
        sq_add(s, " AND (u.email LIKE lower($?)", pattern),
            sq_add(s, " OR lower(u.name) LIKE lower($?))", pattern);
    else if (pattern != NULL)
        sq_add(s, " AND ((u.email COLLATE \"C\") LIKE lower($?)", pattern),
            sq_add(s, " OR (lower(u.name) COLLATE \"C\") LIKE lower($?))", pattern);
    if (q->role != NULL)
        sq_add(s, " AND u.role = $?", q->role);
    if (q->status != NULL)
        sq_add(s, " AND u.status = $?", q->status);
    if (q->confirmed != NULL)
        sq_add(s,
               strcmp(q->confirmed, "true") == 0 ? " AND u.email_confirmed_at IS NOT NULL"
                                                 : " AND u.email_confirmed_at IS NULL",
               NULL);
    if (q->created_after != NULL)
        sq_add(s, " AND u.created_at > $?::timestamptz", q->created_after);
    if (q->created_before != NULL)
        sq_add(s, " AND u.created_at < $?::timestamptz", q->created_before);
}

/* 1 when a *text* substring has a run of 3 letters or digits (any non-ASCII
 * byte counts as a letter): what a pg_trgm index can search for. Shorter
 * or punctuation-only text would scan every user. */
static int substring_indexable(const char *q)
{
    size_t n = strlen(q), run = 0;

    if (n < 2 || q[0] != '*' || q[n - 1] != '*')
        return 1; /* a prefix search */
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char ch = (unsigned char)q[i];
        run = isalnum(ch) || ch >= 0x80 ? run + 1 : 0;
        if (run >= 3)
            return 1;
    }
    return n == 2; /* "**": no filter at all */
}

/* The first bad parameter of q, or NULL. */
static const char *bad_user_query(const struct user_query *q)
{
    return q->q != NULL && (strlen(q->q) > SEARCH_Q_MAX || !substring_indexable(q->q)) ? "q"
           : q->status != NULL && strcmp(q->status, "active") != 0 &&
                   strcmp(q->status, "suspended") != 0
               ? "status"
           : q->confirmed != NULL && strcmp(q->confirmed, "true") != 0 &&
                   strcmp(q->confirmed, "false") != 0
               ? "confirmed"
           : q->created_after != NULL && !search_timestamp_valid(q->created_after) ? "created_after"
           : q->created_before != NULL && !search_timestamp_valid(q->created_before)
               ? "created_before"
           : q->sort < 0 || q->sort >= SORT__MAX         ? "sort"
           : q->limit < 1 || q->limit > SEARCH_LIMIT_MAX ? "limit"
                                                         : NULL;
}

int search_users(struct ums_ctx *c, const struct user_query *q, struct buf *out,
                 struct ums_err *err)
{
    struct sq s = {0};
    PGresult *res = NULL;
    char *pattern = NULL, cid[40], ckey[CURSOR_KEY_MAX + 1], lim[16];
    const char *bad = bad_user_query(q);
    int substring = 0, rc;

    if (bad != NULL)
        return err_field(err, bad, NULL);
    if (q->cursor != NULL && search_cursor_open(c, q->cursor, 'u', q->sort, cid, ckey) != UMS_OK)
        return err_field(err, "cursor", NULL);
    if (q->q != NULL)
        pattern = like_pattern(q->q, &substring);
    buf_init(&s.sql, 8192);
    buf_printf(&s.sql,
               "SELECT ums_api_user(u, p)::text, u.id, %s FROM users u"
               " LEFT JOIN user_profiles p ON p.user_id = u.id WHERE true",
               sorts[q->sort].keysql);
    user_filters(&s, q, pattern, substring);
    if (q->cursor != NULL) {
        buf_printf(&s.sql, " AND (%s, u.id) %s (", sorts[q->sort].expr,
                   sorts[q->sort].desc ? "<" : ">");
        sq_add(&s, sorts[q->sort].cmp, ckey);
        sq_add(&s, ", $?::uuid)", cid);
    }
    buf_printf(&s.sql, " ORDER BY %s%s, u.id%s", sorts[q->sort].expr,
               sorts[q->sort].desc ? " DESC" : "", sorts[q->sort].desc ? " DESC" : "");
    snprintf(lim, sizeof(lim), "%d", q->limit + 1);
    sq_add(&s, " LIMIT $?::int", lim);
    rc = db_read_sql(c->db, &res, s.sql.p, s.n, s.p);
    if (rc != UMS_OK)
        goto out;
    rc = render_page(c, out, res, q->limit, 'u', q->sort, NULL, 2);
    if (rc == UMS_OK && q->include_total) {
        PQclear(res);
        res = NULL;
        buf_reset(&s.sql, 8192);
        s.n = 0;
        buf_adds(&s.sql, "SELECT count(*) FROM users u WHERE true");
        user_filters(&s, q, pattern, substring);
        rc = db_read_sql(c->db, &res, s.sql.p, s.n, s.p);
        if (rc == UMS_OK)
            buf_printf(out, ",\"total\":%s", PQgetvalue(res, 0, 0));
    }
    if (rc == UMS_OK && buf_addc(out, '}') != 0)
        rc = UMS_ERR;
out:
    PQclear(res);
    buf_free(&s.sql);
    free(pattern);
    return rc;
}

int search_audit(struct ums_ctx *c, const struct audit_query *q, struct buf *out,
                 struct ums_err *err)
{
    struct sq s = {0};
    PGresult *res = NULL;
    char cid[40], ckey[CURSOR_KEY_MAX + 1], lim[16];
    const char *bad;
    int rc = UMS_OK;

    bad = q->actor != NULL && !valid_uuid(q->actor)                 ? "actor"
          : q->target != NULL && !valid_uuid(q->target)             ? "target"
          : q->action != NULL && strlen(q->action) > 64             ? "action"
          : q->after != NULL && !search_timestamp_valid(q->after)   ? "after"
          : q->before != NULL && !search_timestamp_valid(q->before) ? "before"
          : q->limit < 1 || q->limit > SEARCH_LIMIT_MAX             ? "limit"
                                                                    : NULL;
    if (bad != NULL)
        return err_field(err, bad, NULL);
    /* The audit cursor carries the row id as its key (the uuid part is unused). */
    if (q->cursor != NULL &&
        (search_cursor_open(c, q->cursor, 'a', 0, cid, ckey) != UMS_OK ||
         strspn(ckey, "0123456789") != strlen(ckey) || ckey[0] == '\0' || strlen(ckey) > 18))
        return err_field(err, "cursor", NULL);
    buf_init(&s.sql, 4096);
    buf_adds(&s.sql, "SELECT jsonb_build_object('id', a.id, 'at', ums_ts(a.at), 'actor_id',"
                     " a.actor_id, 'action', a.action, 'target_id', a.target_id, 'ip', host(a.ip),"
                     " 'details', a.details)::text, a.id FROM audit_log a WHERE true");
    if (q->actor != NULL)
        sq_add(&s, " AND a.actor_id = $?::uuid", q->actor);
    if (q->target != NULL)
        sq_add(&s, " AND a.target_id = $?::uuid", q->target);
    if (q->action != NULL)
        sq_add(&s, " AND a.action = $?", q->action);
    if (q->after != NULL)
        sq_add(&s, " AND a.at > $?::timestamptz", q->after);
    if (q->before != NULL)
        sq_add(&s, " AND a.at < $?::timestamptz", q->before);
    if (q->cursor != NULL)
        sq_add(&s, " AND a.id < $?::bigint", ckey);
    snprintf(lim, sizeof(lim), "%d", q->limit + 1);
    sq_add(&s, " ORDER BY a.id DESC LIMIT $?::int", lim);
    rc = db_read_sql(c->db, &res, s.sql.p, s.n, s.p);
    if (rc != UMS_OK)
        goto out;
    rc = render_page(c, out, res, q->limit, 'a', 0, AUDIT_CURSOR_ID, 1);
    if (rc == UMS_OK && buf_addc(out, '}') != 0)
        rc = UMS_ERR;
out:
    PQclear(res);
    buf_free(&s.sql);
    return rc;
}

int search_notifications(struct ums_ctx *c, const struct notify_query *q, struct buf *out,
                         struct ums_err *err)
{
    struct sq s = {0};
    PGresult *res = NULL;
    char cid[40], ckey[CURSOR_KEY_MAX + 1], lim[16];
    int rc;

    if (q->limit < 1 || q->limit > SEARCH_LIMIT_MAX)
        return err_field(err, "limit", NULL);
    /* The cursor's id part is the inbox's owner: another user's cursor fails. */
    if (q->cursor != NULL && (search_cursor_open(c, q->cursor, 'n', 0, cid, ckey) != UMS_OK ||
                              strcmp(cid, q->uid) != 0 || ckey[0] == '\0' ||
                              strspn(ckey, "0123456789") != strlen(ckey) || strlen(ckey) > 18))
        return err_field(err, "cursor", NULL);
    buf_init(&s.sql, 2048);
    buf_adds(&s.sql, "SELECT jsonb_build_object('id', n.id, 'kind', n.kind, 'title', n.title,"
                     " 'body', n.body, 'data', n.data, 'created_at', ums_ts(n.created_at),"
                     " 'read_at', ums_ts(n.read_at))::text, n.id FROM notifications n WHERE");
    sq_add(&s, " n.user_id = $?::uuid", q->uid);
    if (q->unread)
        buf_adds(&s.sql, " AND n.read_at IS NULL");
    if (q->cursor != NULL)
        sq_add(&s, " AND n.id < $?::bigint", ckey);
    snprintf(lim, sizeof(lim), "%d", q->limit + 1);
    sq_add(&s, " ORDER BY n.id DESC LIMIT $?::int", lim);
    rc = db_read_sql(c->db, &res, s.sql.p, s.n, s.p);
    if (rc == UMS_OK)
        rc = render_page(c, out, res, q->limit, 'n', 0, q->uid, 1);
    PQclear(res);
    res = NULL;
    if (rc == UMS_OK) {
        const char *p[1] = {q->uid};
        rc = db_read_sql(c->db, &res,
                         "SELECT count(*) FROM notifications WHERE user_id = $1::uuid"
                         " AND read_at IS NULL",
                         1, p);
    }
    if (rc == UMS_OK)
        buf_printf(out, ",\"unread_count\":%s}", PQgetvalue(res, 0, 0));
    PQclear(res);
    buf_free(&s.sql);
    return rc;
}
