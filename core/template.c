/* template.c - loading, checking and rendering email templates. */
#include "template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/file.h"
#include "../util/ums.h"
#include "../util/utf8.h"

#define TEMPLATE_MAX (64 * 1024)

static const char *const names[T__MAX] = {
    "welcome",     "recovery",      "email_change", "account_locked", "role_changed",
    "new_sign_in", "admin_message", "confirm",      "reauthenticate", "email_change_notice",
    "magiclink"};

/* The placeholders each template may use: what its event provides. */
static const char *const allowed[T__MAX][8] = {
    {"email", "name", "link", "otp", "site_url", NULL},
    {"email", "link", "otp", "site_url", NULL},
    {"email", "link", "otp", "site_url", NULL},
    {"email", "minutes", "site_url", NULL},
    {"email", "name", "role", "site_url", NULL},
    {"email", "name", "device", "ip", "time", "site_url", NULL},
    {"email", "name", "title", "message", "site_url", NULL},
    {"email", "name", "link", "otp", "site_url", NULL},
    {"email", "name", "otp", "site_url", NULL},
    {"email", "name", "new_email", "site_url", NULL},
    {"email", "link", "otp", "site_url", NULL},
};

static char *slurp(const char *path, char *err, size_t errlen)
{
    char *data = NULL;
    size_t n = 0;
    int rc = file_read(path, TEMPLATE_MAX, &data, &n);

    if (rc != UMS_OK) {
        snprintf(err, errlen, "template %s: %s", path,
                 errno == EFBIG ? "larger than 64 KiB" : file_why(errno));
        return NULL;
    }
    if (!utf8_valid(data, n)) {
        snprintf(err, errlen, "template %s: not UTF-8 text", path);
        free(data);
        return NULL;
    }
    return data;
}

/* Every {{name}} in src must be in the allowed list. */
static int check(const char *src, const char *const *ok, const char *path, char *err, size_t errlen)
{
    const char *p = src;

    while ((p = strstr(p, "{{")) != NULL) {
        const char *e = strstr(p + 2, "}}");
        size_t n;
        int found = 0;
        if (e == NULL) {
            snprintf(err, errlen, "template %s: unclosed {{", path);
            return UMS_EINVALID;
        }
        n = (size_t)(e - p - 2);
        for (int i = 0; ok[i] != NULL; i++)
            found |= strlen(ok[i]) == n && strncmp(ok[i], p + 2, n) == 0;
        if (!found) {
            snprintf(err, errlen, "template %s: unknown placeholder {{%.*s}}", path,
                     (int)(n > 40 ? 40 : n), p + 2);
            return UMS_EINVALID;
        }
        p = e + 2;
    }
    return UMS_OK;
}

int template_load(struct templates *out, const char *dir, char *err, size_t errlen)
{
    char path[4096];

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < T__MAX; i++) {
        char *txt, *nl;
        snprintf(path, sizeof(path), "%s/%s.txt", dir, names[i]);
        txt = slurp(path, err, errlen);
        if (txt == NULL)
            goto fail;
        nl = strstr(txt, "\n\n");
        if (strncmp(txt, "Subject: ", 9) != 0 || nl == NULL ||
            memchr(txt, '\r', (size_t)(nl - txt))) {
            snprintf(err, errlen,
                     "template %s: must start with a \"Subject: \" line and a blank "
                     "line",
                     path);
            free(txt);
            goto fail;
        }
        *nl = '\0';
        out->t[i].subject = strdup(txt + 9);
        out->t[i].text = strdup(nl + 2);
        free(txt);
        if (out->t[i].subject == NULL || out->t[i].text == NULL ||
            check(out->t[i].subject, allowed[i], path, err, errlen) != UMS_OK ||
            check(out->t[i].text, allowed[i], path, err, errlen) != UMS_OK)
            goto fail;
        snprintf(path, sizeof(path), "%s/%s.html", dir, names[i]);
        out->t[i].html = slurp(path, err, errlen);
        if (out->t[i].html == NULL || check(out->t[i].html, allowed[i], path, err, errlen))
            goto fail;
    }
    return UMS_OK;
fail:
    template_free(out);
    return UMS_EINVALID;
}

void template_free(struct templates *t)
{
    for (int i = 0; i < T__MAX; i++) {
        free(t->t[i].subject);
        free(t->t[i].text);
        free(t->t[i].html);
    }
    memset(t, 0, sizeof(*t));
}

static int add_escaped(struct buf *out, const char *v)
{
    int rc = 0;

    for (; *v && rc == 0; v++) {
        switch (*v) {
        case '&':
            rc = buf_adds(out, "&amp;");
            break;
        case '<':
            rc = buf_adds(out, "&lt;");
            break;
        case '>':
            rc = buf_adds(out, "&gt;");
            break;
        case '"':
            rc = buf_adds(out, "&quot;");
            break;
        case '\'':
            rc = buf_adds(out, "&#39;");
            break;
        default:
            rc = buf_addc(out, *v);
        }
    }
    return rc;
}

int template_render(struct buf *out, const char *src, const struct tvar *vars, size_t nvars,
                    int html)
{
    const char *p = src;
    int rc = 0;

    while (rc == 0 && *p) {
        const char *s = strstr(p, "{{"), *e;
        if (s == NULL)
            return buf_adds(out, p);
        rc = buf_add(out, p, (size_t)(s - p));
        e = strstr(s + 2, "}}");
        if (e == NULL)
            return UMS_EINVALID;
        for (size_t i = 0; i < nvars; i++) {
            if (strlen(vars[i].name) == (size_t)(e - s - 2) &&
                strncmp(vars[i].name, s + 2, (size_t)(e - s - 2)) == 0 && rc == 0) {
                const char *v = vars[i].value != NULL ? vars[i].value : "";
                rc = html ? add_escaped(out, v) : buf_adds(out, v);
            }
        }
        p = e + 2;
    }
    return rc;
}
