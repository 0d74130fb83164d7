/* mail.h - RFC 5322 messages and the email transports. */
#ifndef UMS_MAIL_H
#define UMS_MAIL_H

#include <stddef.h>

#include "../util/buf.h"

struct ums_config;

struct mail {
    const char *from;
    const char *to;
    const char *to_name; /* the recipient's name, or NULL */
    const char *subject; /* UTF-8; encoded per RFC 2047 when not ASCII */
    const char *text;
    const char *html;
    const char *event_type;
    long long event_id;
};

/* What a transport made of one message. */
enum { TX_OK = 0, TX_RETRY = 1, TX_PERMANENT = 2, TX_GONE = 3 /* push: the device is gone */ };
struct tx_result {
    int retry_after; /* seconds the provider asked for, or 0 */
    char error[256]; /* for deliveries.last_error; never holds secrets */
};

struct json_object;

/* Splits a From value ("Name <a@b>" or "a@b") into {"email", "name"} of o. */
void tx_file_split_from(const char *from, struct json_object *o);

/* The sendgrid transport (v3 mail/send): sends the n messages m[], at most
 * [email] connections at once; out[i] is TX_OK, TX_RETRY or TX_PERMANENT. */
void tx_sendgrid_send_all(const struct ums_config *cfg, const struct mail *const *m, size_t n,
                          struct tx_result *res, int *out);

/* The smtp transport (libcurl, STARTTLS and AUTH): sends the n messages
 * m[], at most [email] connections at once; out[i] is TX_OK, TX_RETRY or
 * TX_PERMANENT. */
void tx_smtp_send_all(const struct ums_config *cfg, const struct mail *const *m, size_t n,
                      struct tx_result *res, int *out);

/* Push through FCM HTTP v1 to one device token. TX_OK, TX_RETRY,
 * TX_PERMANENT, or TX_GONE when FCM reports the token unregistered. */
int tx_fcm_send(const struct ums_config *cfg, const char *device, const char *title,
                const char *body, long long event_id, struct tx_result *res);

/* Renders a multipart/alternative message with Date and Message-ID; names
 * and subjects that are not short ASCII as RFC 2047 encoded words. */
int tx_file_render(struct buf *out, const struct mail *m);

/* The file transport: one message per file in the Maildir dir (tmp/ then
 * rename into new/). 0 or UMS_ERR. */
int tx_file_send(const char *maildir, const struct mail *m);

#endif
