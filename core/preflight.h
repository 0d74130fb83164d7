/* preflight.h - every file the configuration names, loaded and checked
 * before a process starts (and before a reload is taken): signing keys,
 * secret files, templates, CA files, the service account, and the folders
 * ums writes. An operator's typo stops start-up with a line naming the key,
 * the file and the problem, instead of a pool of workers that keep dying. */
#ifndef UMS_PREFLIGHT_H
#define UMS_PREFLIGHT_H

#include <stddef.h>

struct ums_config;

/* Which process's files. */
enum preflight_part {
    PREFLIGHT_FCGI = 1 << 0,     /* signing key, auth secrets and roles, avatar folder */
    PREFLIGHT_NOTIFIER = 1 << 1, /* templates, Maildir, SMTP CA file, push folder, FCM account */
    PREFLIGHT_ALL = PREFLIGHT_FCGI | PREFLIGHT_NOTIFIER,
};

/*
 * Loads and checks the files of `parts` as the calling process sees them,
 * with the same code the workers and the notifier use. Returns UMS_OK, or
 * UMS_EINVALID (UMS_ERR when memory runs out) with the first problem in err.
 */
int preflight_check(const struct ums_config *cfg, unsigned parts, char *err, size_t errlen);

/*
 * preflight_check as the service user: when this process is root and
 * [server] user is set, in a child process that switches to that user and,
 * when config_path is not NULL, loads the configuration again from it, so
 * secret files are read as the user reads them on a reload. Otherwise in
 * this process. Same return rule as preflight_check.
 */
int preflight_as_service_user(const struct ums_config *cfg, const char *config_path, unsigned parts,
                              char *err, size_t errlen);

#endif
