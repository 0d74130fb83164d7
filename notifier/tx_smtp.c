/* tx_smtp.c - the smtp email transport: libcurl's SMTP client, for any
 * provider. [email] smtp_url is smtp://host:port (STARTTLS is required
 * unless smtp_tls = none) or smtps://host:port (TLS from the start).
 * SMTP 4xx answers, timeouts and connection failures are retried; 5xx
 * answers and refused logins are permanent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../core/buf.h"
#include "../core/config.h"
#include "../core/ums.h"
#include "mail.h"

static CURL *handle;

struct upload {
    const char *p;
    size_t left;
};

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
    struct upload *u = ud;
    size_t take = size * n < u->left ? size * n : u->left;

    memcpy(dst, u->p, take);
    u->p += take;
    u->left -= take;
    return take;
}

/* The bare address of a From value ("Name <a@b>" or "a@b") as <a@b>. */
static void envelope_from(char *out, size_t n, const char *from)
{
    const char *lt = strchr(from, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;

    if (lt != NULL && gt != NULL)
        snprintf(out, n, "<%.*s>", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(out, n, "<%s>", from);
}

int tx_smtp_send(const struct ums_config *cfg, const struct mail *m, struct tx_result *res)
{
    struct curl_slist *rcpt = NULL;
    struct buf msg;
    struct upload up;
    char from[300], to[300];
    long code = 0;
    CURLcode cc;
    int rc = TX_RETRY;

    memset(res, 0, sizeof(*res));
    if (handle == NULL && (handle = curl_easy_init()) == NULL)
        return TX_RETRY;
    curl_easy_reset(handle); /* keeps the connection cache */
    buf_init(&msg, 4 << 20);
    if (mail_render(&msg, m) != UMS_OK) {
        snprintf(res->error, sizeof(res->error), "smtp: message rendering failed");
        buf_free(&msg);
        return TX_RETRY;
    }
    envelope_from(from, sizeof(from), cfg->email.from);
    snprintf(to, sizeof(to), "<%s>", m->to);
    rcpt = curl_slist_append(rcpt, to);
    up.p = msg.p;
    up.left = msg.len;
    curl_easy_setopt(handle, CURLOPT_URL, cfg->email.smtp_url);
    curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (strcmp(cfg->email.smtp_tls, "none") != 0)
        curl_easy_setopt(handle, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->email.smtp_ca_file[0] != '\0')
        curl_easy_setopt(handle, CURLOPT_CAINFO, cfg->email.smtp_ca_file);
    if (cfg->email.smtp_username[0] != '\0') {
        curl_easy_setopt(handle, CURLOPT_USERNAME, cfg->email.smtp_username);
        curl_easy_setopt(handle, CURLOPT_PASSWORD, cfg->email.smtp_password);
    }
    curl_easy_setopt(handle, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(handle, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(handle, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(handle, CURLOPT_READDATA, &up);
    curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, (long)cfg->email.timeout_ms);
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->email.timeout_ms);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    cc = curl_easy_perform(handle);
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK) {
        rc = TX_OK;
    } else {
        snprintf(res->error, sizeof(res->error), "smtp: %s (reply %ld)", curl_easy_strerror(cc),
                 code);
        rc = cc == CURLE_LOGIN_DENIED || (code >= 500 && code < 600) ? TX_PERMANENT : TX_RETRY;
    }
    curl_slist_free_all(rcpt);
    buf_free(&msg);
    return rc;
}
