/* tx_smtp.c - the smtp email transport: libcurl's SMTP client, for any
 * provider. [email] smtp_url is smtp://host:port (STARTTLS is required
 * unless smtp_tls = none) or smtps://host:port (TLS from the start).
 * A batch goes out over up to [email] connections connections at once.
 * SMTP 4xx answers, timeouts and connection failures are retried; 5xx
 * answers and refused logins are permanent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../util/buf.h"
#include "../core/config.h"
#include "../util/ums.h"
#include "mail.h"
#include "tx_multi.h"

static struct tx_pool pool; /* kept connections to the server */

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

/* One message of a run, and the run. */
struct smtp_call {
    struct buf msg;
    struct upload up;
    struct curl_slist *rcpt;
};

struct smtp_run {
    const struct ums_config *cfg;
    const struct mail *const *m;
    struct smtp_call *calls;
    struct tx_result *res;
    int *out;
    char from[300];
};

static int smtp_setup(CURL *h, size_t i, void *ud)
{
    struct smtp_run *run = ud;
    const struct ums_config *cfg = run->cfg;
    struct smtp_call *c = &run->calls[i];
    char to[300];

    buf_init(&c->msg, 4 << 20);
    if (tx_file_render(&c->msg, run->m[i]) != UMS_OK) {
        snprintf(run->res[i].error, sizeof(run->res[i].error), "smtp: message rendering failed");
        return -1;
    }
    snprintf(to, sizeof(to), "<%s>", run->m[i]->to);
    c->rcpt = curl_slist_append(NULL, to);
    c->up.p = c->msg.p;
    c->up.left = c->msg.len;
    curl_easy_setopt(h, CURLOPT_URL, cfg->email.smtp_url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (strcmp(cfg->email.smtp_tls, "none") != 0)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->email.smtp_ca_file[0] != '\0')
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->email.smtp_ca_file);
    if (cfg->email.smtp_username[0] != '\0') {
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->email.smtp_username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->email.smtp_password);
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, run->from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, c->rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &c->up);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cfg->email.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->email.timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    return 0;
}

static void smtp_done(CURL *h, size_t i, CURLcode cc, void *ud)
{
    struct smtp_run *run = ud;
    long code = 0;

    if (h != NULL)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (cc == CURLE_OK) {
        run->out[i] = TX_OK;
        return;
    }
    snprintf(run->res[i].error, sizeof(run->res[i].error), "smtp: %s (reply %ld)",
             curl_easy_strerror(cc), code);
    run->out[i] = cc == CURLE_LOGIN_DENIED || (code >= 500 && code < 600) ? TX_PERMANENT : TX_RETRY;
}

void tx_smtp_send_all(const struct ums_config *cfg, const struct mail *const *m, size_t n,
                      struct tx_result *res, int *out)
{
    struct smtp_run run;

    memset(res, 0, n * sizeof(*res));
    for (size_t i = 0; i < n; i++)
        out[i] = TX_RETRY;
    memset(&run, 0, sizeof(run));
    run.cfg = cfg;
    run.m = m;
    run.res = res;
    run.out = out;
    run.calls = calloc(n > 0 ? n : 1, sizeof(*run.calls));
    if (run.calls == NULL) {
        for (size_t i = 0; i < n; i++)
            snprintf(res[i].error, sizeof(res[i].error), "out of memory");
        return;
    }
    envelope_from(run.from, sizeof(run.from), cfg->email.from);
    tx_multi_run(&pool, n, cfg->email.connections, smtp_setup, smtp_done, &run, M_PROVIDER_EMAIL);
    for (size_t i = 0; i < n; i++) {
        curl_slist_free_all(run.calls[i].rcpt);
        buf_free(&run.calls[i].msg);
    }
    free(run.calls);
}
