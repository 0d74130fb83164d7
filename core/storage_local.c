/* storage_local.c - the local backend: objects under [storage] local_dir,
 * written to a temporary file, fsync'd and renamed into place. */
#include "storage_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"

/* path = local_dir "/" key, after checking that local_dir is a directory. */
static int local_path(char *path, size_t size, const struct ums_config *cfg, const char *key)
{
    const char *dir = cfg->storage.local_dir;
    struct stat st;
    int n;

    if (dir == NULL || dir[0] != '/') {
        log_error("storage: local_dir must be an absolute path");
        return UMS_EINVALID;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        log_error("storage: local_dir %s is not a directory", dir);
        return UMS_EINVALID;
    }
    n = snprintf(path, size, "%.*s/%s", (int)storage_trim_len(dir), dir, key);
    if (n < 0 || (size_t)n >= size) {
        log_error("storage: path under %s too long", dir);
        return UMS_EINVALID;
    }
    return UMS_OK;
}

/* Creates the missing folders of path from byte `from` on (mode 0755 whatever
 * the umask). 0 or UMS_ERR (logged). */
static int make_parents(char *path, size_t from)
{
    for (size_t i = from; path[i] != '\0'; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0755) == 0) {
            chmod(path, 0755);
        } else if (errno != EEXIST) {
            log_error("storage: mkdir %s: %s", path, strerror(errno));
            path[i] = '/';
            return UMS_ERR;
        }
        path[i] = '/';
    }
    return UMS_OK;
}

/* Writes all of data to fd. 0 or -1 with errno set. */
static int write_all(int fd, const unsigned char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Flushes the folder holding path so a rename into it survives a crash. 0 or -1. */
static int sync_parent(char *path)
{
    char *slash = strrchr(path, '/');
    int fd, rc;

    *slash = '\0';
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *slash = '/';
    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

/*
 * Writes local_dir/key through ".<name>.XXXXXX" in the same folder: written,
 * made 0644, fsync'd, then renamed over the final name, so readers see the
 * old file or the whole new one. On success *url is public_url/key.
 */
int storage_local_put(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                      char **url)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    const char *name;
    size_t dirlen;
    int fd = -1, rc, n;

    tmp[0] = '\0';
    if (cfg->storage.public_url == NULL || cfg->storage.public_url[0] == '\0') {
        log_error("storage: public_url is not set");
        rc = UMS_EINVALID;
        goto out;
    }
    rc = local_path(path, sizeof(path), cfg, key);
    if (rc != UMS_OK)
        goto out;
    rc = UMS_ERR;
    name = strrchr(path, '/') + 1;
    dirlen = (size_t)(name - path);
    if (make_parents(path, storage_trim_len(cfg->storage.local_dir) + 1) != UMS_OK)
        goto out;
    n = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)dirlen, path, name);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        tmp[0] = '\0';
        log_error("storage: path under %s too long", cfg->storage.local_dir);
        rc = UMS_EINVALID;
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        log_error("storage: create %s: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        goto out;
    }
    if (fchmod(fd, 0644) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        log_error("storage: write %s: %s", tmp, strerror(errno));
        goto out;
    }
    n = close(fd);
    fd = -1;
    if (n != 0) {
        log_error("storage: close %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        log_error("storage: rename to %s: %s", path, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    if (sync_parent(path) != 0) {
        log_error("storage: fsync folder of %s: %s", path, strerror(errno));
        goto out;
    }
    rc = storage_url_join(url, cfg->storage.public_url, NULL, key);
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0] != '\0')
        unlink(tmp);
    return rc;
}

/* Unlinks local_dir/key; a file that is not there is success. */
int storage_local_delete(const struct ums_config *cfg, const char *key)
{
    char path[PATH_MAX];
    int rc = local_path(path, sizeof(path), cfg, key);

    if (rc != UMS_OK)
        return rc;
    if (unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR) {
        log_error("storage: unlink %s: %s", path, strerror(errno));
        return UMS_ERR;
    }
    return UMS_OK;
}
