/* tx_sendgrid.c - the sendgrid email transport: POST {sendgrid_url}/v3/mail/send
 * with libcurl, [email] connections requests at once over kept connections.
 * Any 2xx is success (202 is SendGrid's usual answer); 429 and 5xx, timeouts
 * and connection failures are retried (with the server's Retry-After or
 * X-RateLimit-Reset); every other status is a permanent failure. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "../core/config.h"
#include "../util/log.h"
#include "../util/ums.h"
#include "mail.h"
#include "tx_http.h"

static struct tx_pool pool; /* kept connections to the provider */

/* The v3 mail/send body: personalizations, from, subject, text and HTML. */
static char *request_body(const struct mail *m)
{
    struct json_object *o = json_object_new_object(), *pers = json_object_new_array();
    struct json_object *p = json_object_new_object(), *to = json_object_new_array();
    struct json_object *addr = json_object_new_object(), *from = json_object_new_object();
    struct json_object *content = json_object_new_array(), *t = json_object_new_object();
    struct json_object *args = json_object_new_object();
    char idbuf[32];
    char *out;

    json_object_object_add(addr, "email", json_object_new_string(m->to));
    if (m->to_name != NULL && m->to_name[0] != '\0')
        json_object_object_add(addr, "name", json_object_new_string(m->to_name));
    json_object_array_add(to, addr);
    json_object_object_add(p, "to", to);
    json_object_array_add(pers, p);
    json_object_object_add(o, "personalizations", pers);
    tx_file_split_from(m->from, from);
    json_object_object_add(o, "from", from);
    json_object_object_add(o, "subject", json_object_new_string(m->subject));
    json_object_object_add(t, "type", json_object_new_string("text/plain"));
    json_object_object_add(t, "value", json_object_new_string(m->text));
    json_object_array_add(content, t);
    t = json_object_new_object();
    json_object_object_add(t, "type", json_object_new_string("text/html"));
    json_object_object_add(t, "value", json_object_new_string(m->html));
    json_object_array_add(content, t);
    json_object_object_add(o, "content", content);
    /* The event id travels along, so the provider's webhooks can be matched. */
    snprintf(idbuf, sizeof(idbuf), "%lld", m->event_id);
    json_object_object_add(args, "ums_event_id", json_object_new_string(idbuf));
    json_object_object_add(o, "custom_args", args);
    out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

/* What an answer means for the message. */
static int judge(const struct http_call *c, struct tx_result *res)
{
    char start[201] = "";

    if (c->status == 0) {
        snprintf(res->error, sizeof(res->error), "sendgrid: %s", curl_easy_strerror(c->cc));
        return TX_RETRY;
    }
    if (c->status >= 200 && c->status < 300)
        return TX_OK;
    /* The answer's start, without line breaks, for deliveries.last_error. */
    snprintf(start, sizeof(start), "%s", c->ans.body.p != NULL ? c->ans.body.p : "");
    for (char *p = start; *p != '\0'; p++)
        if (!isprint((unsigned char)*p))
            *p = ' ';
    snprintf(res->error, sizeof(res->error), "sendgrid: HTTP %ld %s", c->status, start);
    res->retry_after = (int)c->ans.retry_after;
    return c->status == 429 || c->status >= 500 ? TX_RETRY : TX_PERMANENT;
}

void tx_sendgrid_send_all(const struct ums_config *cfg, const struct mail *const *m, size_t n,
                          struct tx_result *res, int *out)
{
    char url[1024], auth[1100];
    struct curl_slist *hdr = NULL;
    struct http_call *calls;

    memset(res, 0, n * sizeof(*res));
    for (size_t i = 0; i < n; i++)
        out[i] = TX_RETRY;
    if (cfg->email.sendgrid_api_key[0] == '\0') {
        for (size_t i = 0; i < n; i++) {
            snprintf(res[i].error, sizeof(res[i].error), "[email] sendgrid_api_key is not set");
            out[i] = TX_PERMANENT;
        }
        return;
    }
    calls = calloc(n, sizeof(*calls));
    if (calls == NULL) {
        for (size_t i = 0; i < n; i++)
            snprintf(res[i].error, sizeof(res[i].error), "out of memory");
        return;
    }
    snprintf(url, sizeof(url), "%s/v3/mail/send", cfg->email.sendgrid_url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->email.sendgrid_api_key);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    for (size_t i = 0; i < n; i++) {
        calls[i].url = url;
        calls[i].hdr = hdr;
        calls[i].body = request_body(m[i]);
        tx_http_answer_init(&calls[i].ans);
    }
    tx_http_post_all(&pool, calls, n, cfg->email.connections, cfg->email.timeout_ms);
    for (size_t i = 0; i < n; i++) {
        if (calls[i].body != NULL)
            out[i] = judge(&calls[i], &res[i]);
        else
            snprintf(res[i].error, sizeof(res[i].error), "out of memory");
        tx_http_answer_free(&calls[i].ans);
        free((char *)calls[i].body);
    }
    curl_slist_free_all(hdr);
    free(calls);
}
