/* preflight.c - every file the configuration names, checked before start-up
 * and before a reload (preflight.h). */
#include "preflight.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "auth.h"
#include "config.h"
#include "../util/file.h"
#include "../util/privs.h"
#include "service_account.h"
#include "template.h"
#include "tokens.h"
#include "../util/ums.h"

#define CA_MAX_BYTES (4 * 1024 * 1024)

/* "key: path: why" into err; UMS_EINVALID. */
static int fail(char *err, size_t errlen, const char *key, const char *path, const char *why)
{
    snprintf(err, errlen, "%s: %s: %s", key, path, why);
    return UMS_EINVALID;
}

/* A folder this process must write into: it exists, is a folder, and can be
 * entered and written. With may_create, a missing folder whose parent can
 * be written is fine too (the transport creates it). */
static int folder_writable(const char *key, const char *dir, int may_create, char *err,
                           size_t errlen)
{
    struct stat st;
    char parent[4096];
    char *slash;

    if (dir[0] != '/')
        return fail(err, errlen, key, dir, "not an absolute path");
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || !may_create)
            return fail(err, errlen, key, dir, strerror(errno));
        snprintf(parent, sizeof(parent), "%s", dir);
        slash = strrchr(parent, '/');
        if (slash == parent)
            slash++;
        *slash = '\0';
        if (access(parent, W_OK | X_OK) != 0)
            return fail(err, errlen, key, dir, "missing, and its folder cannot be written");
        return UMS_OK;
    }
    if (!S_ISDIR(st.st_mode))
        return fail(err, errlen, key, dir, "not a folder");
    if (access(dir, W_OK | X_OK) != 0)
        return fail(err, errlen, key, dir, "cannot be written by this user");
    return UMS_OK;
}

/* A CA bundle: readable, and at least one PEM certificate in it. */
static int ca_file(const char *key, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    BIO *bio;
    X509 *x;
    int n = 0, rc = file_read(path, CA_MAX_BYTES, &text, &len);

    if (rc != UMS_OK)
        return rc == UMS_ERR ? rc : fail(err, errlen, key, path, file_why(errno));
    bio = BIO_new_mem_buf(text, (int)len);
    while (bio != NULL && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    ERR_clear_error();
    BIO_free(bio);
    free(text);
    if (n == 0)
        return fail(err, errlen, key, path, "holds no PEM certificate");
    return UMS_OK;
}

static int check_fcgi(const struct ums_config *cfg, char *err, size_t errlen)
{
    struct tokens *t = NULL;
    int rc;

    /* The signing key as a worker loads it (tokens_open), then the secrets. */
    rc = tokens_open(&t, cfg, err, errlen);
    tokens_close(t);
    if (rc == UMS_OK)
        rc = auth_config_check(cfg, err, errlen);
    if (rc == UMS_OK && strcmp(cfg->storage.backend, "local") == 0)
        rc = folder_writable("[storage] local_dir", cfg->storage.local_dir, 0, err, errlen);
    if (rc == UMS_OK && cfg->oauth.ca_file[0] != '\0' &&
        (cfg->google.enabled || cfg->github.enabled))
        rc = ca_file("[oauth] ca_file", cfg->oauth.ca_file, err, errlen);
    return rc;
}

static int check_notifier(const struct ums_config *cfg, char *err, size_t errlen)
{
    struct templates tpl;
    int rc;

    memset(&tpl, 0, sizeof(tpl));
    rc = template_load(&tpl, cfg->email.templates_dir, err, errlen);
    template_free(&tpl);
    if (rc != UMS_OK) {
        char inner[512];
        snprintf(inner, sizeof(inner), "%s", err);
        snprintf(err, errlen, "[email] templates_dir: %s", inner);
        return rc;
    }
    if (strcmp(cfg->email.transport, "file") == 0)
        rc = folder_writable("[email] maildir", cfg->email.maildir, 1, err, errlen);
    else if (strcmp(cfg->email.transport, "smtp") == 0 && cfg->email.smtp_ca_file[0] != '\0')
        rc = ca_file("[email] smtp_ca_file", cfg->email.smtp_ca_file, err, errlen);
    if (rc != UMS_OK)
        return rc;
    if (strcmp(cfg->push.transport, "file") == 0) {
        rc = folder_writable("[push] dir", cfg->push.dir, 0, err, errlen);
    } else if (strcmp(cfg->push.transport, "fcm") == 0) {
        struct service_account sa;
        char inner[512];
        rc = service_account_load(&sa, cfg->push.fcm_service_account_file, cfg->push.fcm_project_id,
                                  inner, sizeof(inner));
        service_account_free(&sa);
        if (rc != UMS_OK)
            snprintf(err, errlen, "[push] fcm_service_account_file: %s", inner);
    }
    return rc;
}

int preflight_check(const struct ums_config *cfg, unsigned parts, char *err, size_t errlen)
{
    int rc = UMS_OK;

    if (parts & PREFLIGHT_FCGI)
        rc = check_fcgi(cfg, err, errlen);
    if (rc == UMS_OK && (parts & PREFLIGHT_NOTIFIER))
        rc = check_notifier(cfg, err, errlen);
    return rc;
}

/* The child: switch, load again, check; the problem goes up the pipe. */
static void child(const struct ums_config *cfg, const char *config_path, unsigned parts, uid_t uid,
                  gid_t gid, int fd)
{
    struct ums_config *again = NULL;
    char err[1024] = "";
    int rc = UMS_EINVALID;
    ssize_t w;

    if (privs_drop(cfg->server.user, uid, gid) != 0)
        snprintf(err, sizeof(err), "[server] user: cannot switch to %s", cfg->server.user);
    else if (config_path != NULL && config_load(&again, config_path, err, sizeof(err)) != UMS_OK)
        ;
    else
        rc = preflight_check(again != NULL ? again : cfg, parts, err, sizeof(err));
    config_free(again);
    if (rc != UMS_OK && err[0] == '\0')
        snprintf(err, sizeof(err), "out of memory");
    w = write(fd, err, strlen(err));
    (void)w;
    _exit(rc == UMS_OK ? 0 : 1);
}

int preflight_as_service_user(const struct ums_config *cfg, const char *config_path, unsigned parts,
                              char *err, size_t errlen)
{
    uid_t uid;
    gid_t gid;
    int pfd[2], status = 0;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    if (privs_lookup(cfg->server.user, &uid, &gid) != 0) {
        snprintf(err, errlen, "[server] user: no such user '%s'", cfg->server.user);
        return UMS_EINVALID;
    }
    if (uid == (uid_t)-1)
        return preflight_check(cfg, parts, err, errlen);
    if (pipe(pfd) != 0)
        return UMS_ERR;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return UMS_ERR;
    }
    if (pid == 0) {
        close(pfd[0]);
        child(cfg, config_path, parts, uid, gid, pfd[1]);
    }
    close(pfd[1]);
    while (got + 1 < errlen && (n = read(pfd[0], err + got, errlen - 1 - got)) != 0) {
        if (n < 0 && errno != EINTR)
            break;
        if (n > 0)
            got += (size_t)n;
    }
    if (errlen > 0)
        err[got] = '\0';
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return UMS_OK;
    if (got == 0)
        snprintf(err, errlen, "the check did not finish");
    if (got + 1 < errlen)
        snprintf(err + got, errlen - got, " (as [server] user %s)", cfg->server.user);
    return UMS_EINVALID;
}
