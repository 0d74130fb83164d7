/* tx_sendgrid.c - the sendgrid email transport: POST {sendgrid_url}/v3/mail/send
 * with libcurl, one handle kept per process so the connection is reused.
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
#include "../core/log.h"
#include "../core/ums.h"
#include "mail.h"
#include "tx_http.h"

static CURL *handle;

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
    json_object_array_add(to, addr);
    json_object_object_add(p, "to", to);
    json_object_array_add(pers, p);
    json_object_object_add(o, "personalizations", pers);
    mail_split_from(m->from, from);
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

int tx_sendgrid_send(const struct ums_config *cfg, const struct mail *m, struct tx_result *res)
{
    char url[1024], auth[1100];
    struct curl_slist *hdr = NULL;
    struct http_answer ans;
    char *body = NULL;
    long status;
    CURLcode cc;
    int rc = TX_RETRY;

    memset(res, 0, sizeof(*res));
    if (cfg->email.sendgrid_api_key[0] == '\0') {
        snprintf(res->error, sizeof(res->error), "[email] sendgrid_api_key is not set");
        return TX_PERMANENT;
    }
    body = request_body(m);
    if (body == NULL)
        return TX_RETRY;
    snprintf(url, sizeof(url), "%s/v3/mail/send", cfg->email.sendgrid_url);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->email.sendgrid_api_key);
    hdr = curl_slist_append(hdr, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    http_answer_init(&ans);
    status = tx_http_post(&handle, url, hdr, body, cfg->email.timeout_ms, &ans, &cc);
    if (status == 0) {
        snprintf(res->error, sizeof(res->error), "sendgrid: %s", curl_easy_strerror(cc));
    } else if (status >= 200 && status < 300) {
        rc = TX_OK;
    } else {
        /* The answer's start, without line breaks, for deliveries.last_error. */
        char start[201] = "";
        snprintf(start, sizeof(start), "%s", ans.body.p != NULL ? ans.body.p : "");
        for (char *c = start; *c != '\0'; c++)
            if (!isprint((unsigned char)*c))
                *c = ' ';
        snprintf(res->error, sizeof(res->error), "sendgrid: HTTP %ld %s", status, start);
        res->retry_after = (int)ans.retry_after;
        rc = status == 429 || status >= 500 ? TX_RETRY : TX_PERMANENT;
    }
    http_answer_free(&ans);
    curl_slist_free_all(hdr);
    free(body);
    return rc;
}
