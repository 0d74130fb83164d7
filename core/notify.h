/* notify.h - the user side of notifications (/api/v1): the in-app inbox,
 * per kind x channel preferences, and push devices. The notifier reads the
 * same tables (docs/ARCHITECTURE.md "Notifications"). */
#ifndef UMS_NOTIFY_H
#define UMS_NOTIFY_H

#include <stddef.h>

struct ums_ctx;
struct ums_err;
struct buf;
struct json_object;

#define DEVICE_TOKEN_MAX 4096

/* The kinds a user may switch per channel. Security mail (recovery, email
 * change, account locked) ignores preferences and is not listed. */
extern const char *const notify_kinds[];
extern const size_t notify_kinds_len;
extern const char *const notify_channels[];
extern const size_t notify_channels_len;

/* {"preferences":{kind:{channel:bool}}} with defaults filled in: email and
 * in-app on, push on when the user has a device. *json malloc'd. */
int notify_prefs_get(struct ums_ctx *c, const char *uid, char **json);

/* Stores the object `prefs` ({kind:{channel:bool}}, as GET returns it, or
 * the whole GET answer). UMS_EDENIED with the record naming the field ("kind", "channel" or
 * the value's path) for unknown names or non-booleans. */
int notify_prefs_put(struct ums_ctx *c, const char *uid, struct json_object *prefs,
                     struct ums_err *err);

/* Marks one notification read (UMS_ENOTFOUND if it is not uid's), or all
 * when nid is NULL (*count marked). */
int notify_mark_read(struct ums_ctx *c, const char *uid, const char *nid, long *count);

/* Registers a push token for uid (a token moves to its newest owner);
 * *json (malloc'd) is the device. UMS_EDENIED with the record naming the field. */
int notify_device_add(struct ums_ctx *c, const char *uid, const char *token, size_t token_len,
                      const char *platform, char **json, struct ums_err *err);

/* Removes device did of uid. UMS_ENOTFOUND if it is not theirs. */
int notify_device_remove(struct ums_ctx *c, const char *uid, const char *did);

/* A push device of a user, as the notifier sends to it. */
struct notify_device {
    char *id;    /* the devices row (a UUID) */
    char *token; /* the push token */
};

struct notify_devices {
    struct notify_device *v; /* malloc'd, n of them (NULL when n is 0) */
    size_t n;
};

/* The push devices of uid, oldest first, at most 20 (the per-user cap).
 * *out is the caller's, freed with notify_devices_free (also after a
 * failure). 0, a UMS_E* code, or UMS_ERR out of memory. */
int notify_devices_list(struct ums_ctx *c, const char *uid, struct notify_devices *out);
void notify_devices_free(struct notify_devices *d);

/* Removes device did, whoever has it (FCM reported its token unregistered). */
int notify_device_gone(struct ums_ctx *c, const char *did);

/* Limits of an admin message, in characters. */
#define ADMIN_TITLE_MAX   120
#define ADMIN_MESSAGE_MAX 4000

/* The rules of a device and of an admin's message, for core and for the
 * route declarations in fcgi/routes.c; each with its message. */
#define NOTIFY_TOKEN_RULE    "token must be 1 to 4096 bytes of text"
#define NOTIFY_PLATFORM_RULE "platform must be android, ios or web"
#define NOTIFY_TITLE_RULE    "title must be 1 to 120 characters on one line"
#define NOTIFY_MESSAGE_RULE  "message must be 1 to 4000 characters of text"
int notify_token_valid(const char *s, size_t len);
int notify_platform_valid(const char *s, size_t len);
int notify_title_valid(const char *s, size_t len);
int notify_message_valid(const char *s, size_t len);

/* Sends an admin's message to user uid (email, in-app and push, as the
 * user's admin_message preferences say): validates title (one line) and
 * message (lines), writes the outbox event and the audit row together and
 * publishes the event. actor NULL: the service key. UMS_EDENIED with
 * the record naming the field, UMS_ENOTFOUND for an unknown user. *event_id: the outbox id. */
int notify_admin_message(struct ums_ctx *c, const char *actor, const char *uid, const char *ip,
                         const char *title, size_t title_len, const char *message,
                         size_t message_len, long long *event_id, struct ums_err *err);

#endif
