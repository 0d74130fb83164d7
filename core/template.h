/* template.h - email templates: NAME.txt ("Subject: ..." line, blank line,
 * text body) and NAME.html, with {{placeholder}} fields. */
#ifndef UMS_TEMPLATE_H
#define UMS_TEMPLATE_H

#include <stddef.h>

#include "../util/buf.h"

enum tmpl_id {
    T_WELCOME,
    T_RECOVERY,
    T_EMAIL_CHANGE,
    T_ACCOUNT_LOCKED,
    T_ROLE_CHANGED,
    T_NEW_SIGN_IN,
    T_ADMIN_MESSAGE,
    T_CONFIRM,
    T_REAUTHENTICATE,
    T_EMAIL_CHANGE_NOTICE,
    T_MAGICLINK,
    T__MAX
};

struct tmpl {
    char *subject;
    char *text;
    char *html;
};

struct templates {
    struct tmpl t[T__MAX];
};

struct tvar {
    const char *name;
    const char *value;
};

/* Loads every template from dir. A missing file, or a placeholder that the
 * template's event does not provide, is an error at start-up (err says
 * which), never at send time. */
int template_load(struct templates *out, const char *dir, char *err, size_t errlen);
void template_free(struct templates *t);

/* Renders src with vars into out; html escapes the values. */
int template_render(struct buf *out, const char *src, const struct tvar *vars, size_t nvars,
                    int html);

#endif
