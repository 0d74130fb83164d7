/* channels.c - the sends of one batch: emails (in parallel over kept
 * connections with sendgrid and smtp, one by one into a Maildir), in-app
 * rows (one statement), push to each device (FCM or files)
 * (docs/ARCHITECTURE.md "Notifications", steps 3 and 4). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "../util/buf.h"
#include "../core/config.h"
#include "../core/delivery.h"
#include "../util/log.h"
#include "../core/notify.h"
#include "../util/ums.h"
#include "mail.h"
#include "deliver.h"

/* Renders the email of a job into j->mail. */
static int render_email(struct notifier *n, struct job *j)
{
    const struct ums_config *cfg = n->cfg;
    const char *th = j->link[0] != '\0' ? j->link : NULL;
    const char *redirect = plan_event_str(j, "redirect_to", NULL);
    struct buf link;
    int rc;

    buf_init(&link, 8192);
    buf_init(&j->subject, 4096);
    buf_init(&j->text, 256 * 1024);
    buf_init(&j->html, 256 * 1024);
    if (th != NULL) {
        buf_printf(&link, "%s/verify?token=%s&type=%s&redirect_to=", cfg->auth.external_url, th,
                   plan_event_str(j, "verify_type", "signup"));
        buf_add_urlencoded(&link, redirect != NULL ? redirect : cfg->auth.site_url);
    }
    {
        const struct tvar vars[] = {
            {"email", j->email},
            {"name", j->name[0] != '\0' ? j->name : "there"},
            {"link", link.p != NULL ? link.p : ""},
            {"otp", j->otp[0] != '\0' ? j->otp : NULL},
            {"site_url", cfg->auth.site_url},
            {"minutes", plan_event_str(j, "minutes", "15")},
            {"role", plan_event_str(j, "role", "")},
            {"device", plan_event_str(j, "device", "unknown")},
            {"ip", plan_event_str(j, "ip", "unknown")},
            {"time", plan_event_str(j, "at", "")},
            {"title", plan_event_str(j, "title", "")},
            {"message", plan_event_str(j, "message", "")},
            {"new_email", plan_event_str(j, "new_email", "")},
        };
        size_t nv = sizeof(vars) / sizeof(vars[0]);
        const struct tmpl *t = &n->tpl.t[j->plan->tpl];
        rc = template_render(&j->subject, t->subject, vars, nv, 0) != 0 ||
                     template_render(&j->text, t->text, vars, nv, 0) != 0 ||
                     template_render(&j->html, t->html, vars, nv, 1) != 0
                 ? UMS_ERR
                 : UMS_OK;
    }
    buf_free(&link);
    if (rc != UMS_OK || j->subject.p == NULL)
        return UMS_ERR;
    /* A subject is one header line, whatever the values held. */
    for (char *c = j->subject.p; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    j->mail.from = cfg->email.from;
    j->mail.to = j->email;
    j->mail.to_name = j->name;
    j->mail.subject = j->subject.p;
    j->mail.text = j->text.p != NULL ? j->text.p : "";
    j->mail.html = j->html.p != NULL ? j->html.p : "";
    j->mail.event_type = j->plan->type;
    j->mail.event_id = j->id;
    return UMS_OK;
}

static void free_email(struct job *j)
{
    buf_free(&j->subject);
    buf_free(&j->text);
    buf_free(&j->html);
}

/* The email channel of the batch. */
void channels_email(struct batch *b)
{
    struct notifier *n = b->n;
    struct job **list = calloc(b->njobs, sizeof(*list));
    const struct mail **mails = calloc(b->njobs, sizeof(*mails));
    struct tx_result *res = calloc(b->njobs, sizeof(*res));
    int *out = calloc(b->njobs, sizeof(*out)), *attempts = calloc(b->njobs, sizeof(*attempts));
    size_t k = 0;

    if (list == NULL || mails == NULL || res == NULL || out == NULL || attempts == NULL) {
        for (size_t i = 0; i < b->njobs; i++)
            b->jobs[i].open++; /* nothing was sent: all later */
        goto out;
    }
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        /* A welcome mail that carries the confirmation link is needed to confirm. */
        if (j->plan->tpl < 0 || j->email[0] == '\0' ||
            !(j->plan->security || j->email_on || j->link[0] != '\0'))
            continue;
        if (!deliver_due(b, j, "email", &attempts[k]))
            continue;
        if (render_email(n, j) != UMS_OK) {
            struct tx_result tr = {0, "template rendering failed"};
            free_email(j);
            deliver_outcome(b, j, "email", attempts[k], TX_RETRY, &tr);
            continue;
        }
        list[k] = j;
        mails[k++] = &j->mail;
    }
    if (k > 0 && strcmp(n->cfg->email.transport, "sendgrid") == 0) {
        tx_sendgrid_send_all(n->cfg, mails, k, res, out);
    } else if (k > 0 && strcmp(n->cfg->email.transport, "smtp") == 0) {
        tx_smtp_send_all(n->cfg, mails, k, res, out);
    } else {
        for (size_t i = 0; i < k; i++) {
            memset(&res[i], 0, sizeof(res[i]));
            if (notifier_stopping) {
                out[i] = -1; /* not sent: stays pending for a restart */
            } else {
                out[i] = tx_file_send(n->cfg->email.maildir, mails[i]) == UMS_OK ? TX_OK : TX_RETRY;
                if (out[i] != TX_OK)
                    snprintf(res[i].error, sizeof(res[i].error), "maildir write failed");
            }
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (out[i] < 0)
            list[i]->open++;
        else
            deliver_outcome(b, list[i], "email", attempts[i], out[i], &res[i]);
        free_email(list[i]);
    }
out:
    free(list);
    free(mails);
    free(res);
    free(out);
    free(attempts);
}

/* The in-app channel of the batch: one statement writes the rows and their
 * delivery records, so an in-app notification is never written twice. */
void channels_in_app(struct batch *b)
{
    struct text {
        char title[512], body[512];
    } *text = calloc(b->njobs, sizeof(*text));
    struct delivery_in_app *rows = calloc(b->njobs, sizeof(*rows));
    struct job **list = calloc(b->njobs, sizeof(*list));
    int *attempts = calloc(b->njobs, sizeof(*attempts));
    size_t k = 0;

    if (text == NULL || rows == NULL || list == NULL || attempts == NULL) {
        for (size_t i = 0; i < b->njobs; i++)
            b->jobs[i].open++;
        goto out;
    }
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        if (j->plan->title == NULL || j->uid == NULL || j->user_gone || !j->in_app_on ||
            !deliver_due(b, j, "in_app", &attempts[k]))
            continue;
        plan_text(j, text[k].body, sizeof(text[k].body));
        rows[k].event_id = j->id;
        rows[k].user_id = j->uid;
        rows[k].kind = j->plan->kind;
        rows[k].title = plan_title(j, text[k].title, sizeof(text[k].title));
        rows[k].body = text[k].body;
        list[k++] = j;
    }
    if (k > 0) {
        if (delivery_in_app_write(b->n->ctx.db, rows, k) == UMS_OK) {
            for (size_t i = 0; i < k; i++)
                log_info("event %s (%s): in_app sent", list[i]->entry->oid, list[i]->plan->type);
        } else {
            /* One row at a time: a row that cannot be written fails alone. */
            for (size_t i = 0; i < k; i++) {
                if (delivery_in_app_write(b->n->ctx.db, &rows[i], 1) == UMS_OK) {
                    log_info("event %s (%s): in_app sent", list[i]->entry->oid,
                             list[i]->plan->type);
                } else {
                    struct tx_result tr = {0, "in-app insert failed"};
                    deliver_outcome(b, list[i], "in_app", attempts[i], TX_RETRY, &tr);
                }
            }
        }
    }
out:
    free(text);
    free(rows);
    free(list);
    free(attempts);
}

/* Writes one push message as a JSON file into [push] dir (the file transport). */
static int push_file(const struct notifier *n, const struct job *j, const char *device,
                     const char *body, struct tx_result *res)
{
    char path[1024], tmp[1040], title[512];
    struct json_object *o = json_object_new_object();
    FILE *f;
    int ok, fd;

    snprintf(path, sizeof(path), "%s/%lld-%.40s.json", n->cfg->push.dir, j->id, device);
    for (char *c = path + strlen(n->cfg->push.dir) + 1; *c != '\0'; c++)
        if (*c == '/')
            *c = '_';
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    json_object_object_add(o, "token", json_object_new_string(device));
    json_object_object_add(o, "title", json_object_new_string(plan_title(j, title, sizeof(title))));
    json_object_object_add(o, "body", json_object_new_string(body));
    /* The message may name the user's activity: the owner's alone. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL && fd >= 0)
        close(fd);
    ok = f != NULL && fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), f) >= 0;
    ok = (f != NULL && fclose(f) == 0) && ok && rename(tmp, path) == 0;
    json_object_put(o);
    if (!ok)
        snprintf(res->error, sizeof(res->error), "push file write failed");
    return ok ? TX_OK : TX_RETRY;
}

/* Push to the devices of one job's user that did not get it yet; each
 * device's success is recorded as 'push:<device id>', devices FCM reports
 * gone are removed. The 'push' record carries the attempts: a retry while
 * any device should be tried again. */
static void push_job(struct batch *b, struct job *j, int attempts)
{
    struct notifier *n = b->n;
    struct notify_devices devs;
    struct tx_result tr;
    char body[512], title[512];
    int rc = TX_OK;

    memset(&tr, 0, sizeof(tr));
    if (notify_devices_list(&n->ctx, j->uid, &devs) != UMS_OK) {
        notify_devices_free(&devs);
        snprintf(tr.error, sizeof(tr.error), "cannot read devices");
        deliver_outcome(b, j, "push", attempts, TX_RETRY, &tr);
        return;
    }
    plan_text(j, body, sizeof(body));
    for (size_t i = 0; i < devs.n && !notifier_stopping; i++) {
        const char *dev = devs.v[i].id, *token = devs.v[i].token;
        char channel[48];
        struct tx_result dr;
        int dummy, out;
        snprintf(channel, sizeof(channel), "push:%s", dev);
        if (deliver_state_of(b, j, channel, &dummy) == S_SENT)
            continue; /* this device got it on an earlier attempt */
        memset(&dr, 0, sizeof(dr));
        out =
            strcmp(n->cfg->push.transport, "fcm") == 0
                ? tx_fcm_send(n->cfg, token, plan_title(j, title, sizeof(title)), body, j->id, &dr)
                : push_file(n, j, token, body, &dr);
        if (out == TX_OK) {
            deliver_record(b, j, channel, DELIVERY_SENT, NULL, -1);
        } else if (out == TX_GONE) {
            notify_device_gone(&n->ctx, dev);
            log_info("event %s: device %s is unregistered; removed", j->entry->oid, dev);
        } else {
            if (rc != TX_RETRY)
                tr = dr;
            rc = out == TX_RETRY || rc == TX_RETRY ? TX_RETRY : TX_PERMANENT;
        }
    }
    if (notifier_stopping && rc == TX_OK && devs.n > 0) {
        /* Stopped between devices: the rest later, without using up an attempt. */
        notify_devices_free(&devs);
        j->open++;
        return;
    }
    notify_devices_free(&devs);
    deliver_outcome(b, j, "push", attempts, rc, &tr);
}

void channels_push(struct batch *b)
{
    if (strcmp(b->n->cfg->push.transport, "none") == 0)
        return;
    for (size_t i = 0; i < b->njobs; i++) {
        struct job *j = &b->jobs[i];
        int attempts;
        if (j->plan->title == NULL || j->uid == NULL || j->user_gone || !j->push_on ||
            !j->has_device || !deliver_due(b, j, "push", &attempts))
            continue;
        push_job(b, j, attempts);
    }
}
