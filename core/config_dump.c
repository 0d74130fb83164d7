/* config_dump.c - umsctl config: every key with its value, secrets and the
 * passwords inside URLs masked. */
#include "config_schema.h"

#include <stdio.h>
#include <string.h>

#include "../util/ums.h"

/* name = value, with the password of a URL's user info (scheme://user:pw@)
 * and of a libpq key/value string (password=...) masked. */
static void print_redacted(const char *name, const char *v)
{
    const char *scheme = strstr(v, "://"), *at, *colon, *pw = strstr(v, "password=");

    if (scheme != NULL && (at = strchr(scheme + 3, '@')) != NULL &&
        (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) != NULL) {
        printf("%s = %.*s:(set)%s\n", name, (int)(colon - v), v, at);
        return;
    }
    if (scheme == NULL && pw != NULL) {
        size_t tail = strcspn(pw + 9, " ");
        printf("%s = %.*spassword=(set)%s\n", name, (int)(pw - v), v, pw + 9 + tail);
        return;
    }
    printf("%s = %s\n", name, v);
}

void config_dump(const struct ums_config *cfg)
{
    struct ums_config *c = (struct ums_config *)cfg;
    const char *section = "";

    for (size_t i = 0; i < config_keys_len; i++) {
        const struct config_key *k = &config_keys[i];
        if (strcmp(section, k->section) != 0) {
            printf("%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        switch (k->type) {
        case CT_ENUM:
        case CT_URL:
        case CT_STR:
            if (k->secret)
                printf("%s = %s\n", k->name, **config_key_str(c, k) ? "(set)" : "");
            else
                print_redacted(k->name, *config_key_str(c, k));
            break;
        case CT_INT:
            printf("%s = %d\n", k->name, *config_key_int(c, k));
            break;
        case CT_MODE:
            printf("%s = %04o\n", k->name, (unsigned)*config_key_int(c, k));
            break;
        case CT_BOOL:
            printf("%s = %s\n", k->name, *config_key_int(c, k) ? "true" : "false");
            break;
        case CT_LEVEL: {
            static const char *const names[] = {"debug", "info", "warn", "error"};
            printf("%s = %s\n", k->name, names[*config_key_int(c, k)]);
            break;
        }
        }
    }
}
