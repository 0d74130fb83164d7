/* mail.h - RFC 5322 messages and the email transports. */
#ifndef UMS_MAIL_H
#define UMS_MAIL_H

#include "../core/buf.h"

struct mail {
    const char *from;
    const char *to;
    const char *subject; /* UTF-8; encoded per RFC 2047 when not ASCII */
    const char *text;
    const char *html;
    const char *event_type;
    long long event_id;
};

/* Renders a multipart/alternative message with Date and Message-ID. */
int mail_render(struct buf *out, const struct mail *m);

/* The file transport: one message per file in the Maildir dir (tmp/ then
 * rename into new/). 0 or UMS_ERR. */
int tx_file_send(const char *maildir, const struct mail *m);

#endif
