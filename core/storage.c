/* storage.c - avatar objects in a local folder (temporary file, fsync, rename)
 * or in S3-compatible storage (path-style requests signed by libcurl's SigV4). */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "../util/crypto.h"
#include "../util/log.h"
#include "../util/ums.h"

#define KEY_MAX     200
#define CTYPE_MAX   100
#define ERRBODY_MAX 1024 /* bytes of an error response kept to find its <Code> */

/* One easy handle per process, so curl keeps connections open between requests. */
static CURL *curl_handle;
static pid_t curl_pid;

/*
 * 1 when key is at most KEY_MAX bytes of [a-z0-9._/-] without "..", made of
 * non-empty segments (no leading, trailing or doubled '/') none of which
 * starts with '.': no "." segments, and no name that could clash with the
 * local backend's temporary files or be a hidden file to the web server.
 */
static int key_valid(const char *key)
{
    size_t n;

    if (key == NULL)
        return 0;
    n = strnlen(key, KEY_MAX + 1);
    if (n == 0 || n > KEY_MAX || strstr(key, "..") != NULL || key[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if ((i == 0 || key[i - 1] == '/') && (c == '/' || c == '.'))
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

/* 1 when s is 1..max bytes of printable ASCII (nothing that could end a header). */
static int printable(const char *s, size_t max)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* 1 when every byte of s is in [a-z0-9] or in extra. */
static int lower_alnum(const char *s, const char *extra)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s) != NULL))
            return 0;
    return 1;
}

/* Length of s without its trailing slashes. */
static size_t trim_len(const char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/')
        n--;
    return n;
}

/* *out = base (trailing '/' dropped) "/" [mid "/"] key, malloc'd. 0 or UMS_ERR. */
static int url_join(char **out, const char *base, const char *mid, const char *key)
{
    size_t blen = trim_len(base);
    size_t size = blen + 1 + (mid != NULL ? strlen(mid) + 1 : 0) + strlen(key) + 1;
    char *p = malloc(size);
    int n;

    *out = NULL;
    if (p == NULL)
        return UMS_ERR;
    n = snprintf(p, size, "%.*s/%s%s%s", (int)blen, base, mid != NULL ? mid : "",
                 mid != NULL ? "/" : "", key);
    if (n < 0 || (size_t)n != size - 1) {
        free(p);
        return UMS_ERR;
    }
    *out = p;
    return UMS_OK;
}

/* ---- local folder ---- */

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
    n = snprintf(path, size, "%.*s/%s", (int)trim_len(dir), dir, key);
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
static int local_put(const struct ums_config *cfg, const char *key, const void *data, size_t len,
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
    if (make_parents(path, trim_len(cfg->storage.local_dir) + 1) != UMS_OK)
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
    rc = url_join(url, cfg->storage.public_url, NULL, key);
out:
    if (fd >= 0)
        close(fd);
    if (tmp[0] != '\0')
        unlink(tmp);
    return rc;
}

/* Unlinks local_dir/key; a file that is not there is success. */
static int local_delete(const struct ums_config *cfg, const char *key)
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

/* ---- S3 ---- */

struct reply {
    char body[ERRBODY_MAX + 1];
    size_t len;
};

/* Keeps the first ERRBODY_MAX bytes of the response and drops the rest. */
static size_t on_write(char *src, size_t size, size_t nmemb, void *arg)
{
    struct reply *r = arg;
    size_t n = size * nmemb, room = ERRBODY_MAX - r->len;

    if (n < room)
        room = n;
    memcpy(r->body + r->len, src, room);
    r->len += room;
    r->body[r->len] = '\0';
    return n;
}

/* The <Code> of an S3 error body, copied into out as [A-Za-z0-9]; "" if none. */
static void error_code(char *out, size_t size, const char *body)
{
    const char *p = strstr(body, "<Code>");
    size_t n = 0;

    if (p != NULL)
        for (p += 6; n + 1 < size && ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                                      (*p >= '0' && *p <= '9'));
             p++)
            out[n++] = *p;
    out[n] = '\0';
}

/* 0 when the [storage] s3_* settings can be used; UMS_EINVALID (logged) if not. */
static int s3_config_valid(const struct ums_config *cfg)
{
    const char *ep = cfg->storage.s3_endpoint, *bucket = cfg->storage.s3_bucket;
    const char *region = cfg->storage.s3_region;

    /* No user info, query or fragment: the object path is appended to it. */
    if (!printable(ep, 2048) || strpbrk(ep, " @?#") != NULL ||
        (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)) {
        log_error("storage: s3_endpoint must be an http:// or https:// URL");
        return UMS_EINVALID;
    }
    if (bucket == NULL || strlen(bucket) < 3 || strlen(bucket) > 63 || !lower_alnum(bucket, ".-")) {
        log_error("storage: s3_bucket must be 3 to 63 characters of [a-z0-9.-]");
        return UMS_EINVALID;
    }
    if (region == NULL || region[0] == '\0' || strlen(region) > 32 || !lower_alnum(region, "-")) {
        log_error("storage: s3_region must be 1 to 32 characters of [a-z0-9-]");
        return UMS_EINVALID;
    }
    if (!printable(cfg->storage.s3_access_key, 128) ||
        !printable(cfg->storage.s3_secret_key, 256)) {
        log_error("storage: s3_access_key and s3_secret_key must be set");
        return UMS_EINVALID;
    }
    if (cfg->storage.timeout_ms <= 0) {
        log_error("storage: timeout_ms must be positive");
        return UMS_EINVALID;
    }
    return UMS_OK;
}

/*
 * The process's easy handle, created on first use and reset before each
 * request (curl_easy_reset keeps the open connections). A handle inherited
 * through fork() is abandoned, not cleaned up: its connections are the
 * parent's. NULL when out of memory.
 */
static CURL *handle_get(void)
{
    pid_t pid = getpid();

    if (curl_handle != NULL && curl_pid != pid)
        curl_handle = NULL;
    if (curl_handle != NULL) {
        curl_easy_reset(curl_handle);
        return curl_handle;
    }
    curl_handle = curl_easy_init();
    curl_pid = pid;
    return curl_handle;
}

/* Appends one header line to *list (copied). 0 or UMS_ERR; *list is kept either way. */
static int header_add(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (l == NULL)
        return UMS_ERR;
    *list = l;
    return UMS_OK;
}

/* What a failed transfer means to the caller. */
static int transfer_rc(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
        return UMS_EUNAVAILABLE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return UMS_EINVALID;
    default:
        return UMS_ERR;
    }
}

/*
 * Sends one signed request for key: a PUT of data[0..len) with Content-Type
 * ctype when ctype is not NULL, else a DELETE. Returns UMS_OK for a 2xx (and
 * for a 404 other than NoSuchBucket when gone_ok), UMS_EUNAVAILABLE for a 5xx or a transport
 * failure, UMS_EINVALID for bad settings, UMS_ERR otherwise; failures are logged without secrets.
 */
static int s3_send(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                   const char *ctype, int gone_ok)
{
    const char *method = ctype != NULL ? "PUT" : "DELETE";
    char sigv4[64], ctype_hdr[sizeof("Content-Type: ") + CTYPE_MAX], sha_hdr[96], hash[65];
    char errbuf[CURL_ERROR_SIZE], code[64];
    struct curl_slist *hdrs = NULL;
    struct reply *reply = NULL;
    char *url = NULL;
    CURL *curl;
    CURLcode c;
    long status = 0;
    int rc;

    rc = s3_config_valid(cfg);
    if (rc != UMS_OK)
        goto out;
    rc = UMS_ERR;
    reply = calloc(1, sizeof(*reply));
    if (reply == NULL ||
        url_join(&url, cfg->storage.s3_endpoint, cfg->storage.s3_bucket, key) != UMS_OK)
        goto out;
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", cfg->storage.s3_region);
    /* curl 7.88 signs the x-amz-content-sha256 it is given but never adds one
     * (S3 requires it), so the body's hash is sent and signed explicitly. */
    if (data == NULL)
        data = "";
    crypto_sha256_hex(hash, data, len);
    snprintf(sha_hdr, sizeof(sha_hdr), "x-amz-content-sha256: %s", hash);
    if (header_add(&hdrs, sha_hdr) != UMS_OK)
        goto out;
    if (ctype != NULL) {
        snprintf(ctype_hdr, sizeof(ctype_hdr), "Content-Type: %s", ctype);
        if (header_add(&hdrs, ctype_hdr) != UMS_OK)
            goto out;
    }
    curl = handle_get();
    if (curl == NULL)
        goto out;
    errbuf[0] = '\0';
    if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)cfg->storage.timeout_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->storage.timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_USERNAME, cfg->storage.s3_access_key) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg->storage.s3_secret_key) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK) {
        log_error("storage: libcurl lacks an option the s3 backend needs");
        goto out;
    }
    /* The body goes as POSTFIELDS under the PUT method, not as an upload: curl
     * then resends it by itself on a dead reused connection, and sends no
     * "Expect: 100-continue" below 1 MiB. (Removing Expect with an empty
     * "Expect:" header is no way out: curl 7.88 signs that header anyway.) */
    if (curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK ||
        (ctype != NULL &&
         (curl_easy_setopt(curl, CURLOPT_POSTFIELDS, data) != CURLE_OK ||
          curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) != CURLE_OK)))
        goto out;
    c = curl_easy_perform(curl);
    if (c == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    /* The handle outlives this call: it keeps its connections, but neither
     * pointers into this frame nor (freed here) its copy of the secret. */
    curl_easy_reset(curl);
    if (c != CURLE_OK) {
        rc = transfer_rc(c);
        log_warn("storage: s3 %s %s: %s", method, url, errbuf[0] ? errbuf : curl_easy_strerror(c));
        goto out;
    }
    error_code(code, sizeof(code), reply->body);
    /* A missing object is gone; a missing bucket is a configuration error. */
    if ((status >= 200 && status < 300) ||
        (gone_ok && status == 404 && strcmp(code, "NoSuchBucket") != 0)) {
        rc = UMS_OK;
        goto out;
    }
    rc = status >= 500 ? UMS_EUNAVAILABLE : UMS_ERR;
    log_warn("storage: s3 %s %s: HTTP %ld %s", method, url, status, code);
out:
    curl_slist_free_all(hdrs);
    free(reply);
    free(url);
    return rc;
}

/* ---- entry points ---- */

/* The configured backend: 0 local, 1 s3, -1 (logged) anything else. */
static int backend(const struct ums_config *cfg)
{
    const char *b = cfg->storage.backend;

    if (b != NULL && strcmp(b, "local") == 0)
        return 0;
    if (b != NULL && strcmp(b, "s3") == 0)
        return 1;
    log_error("storage: unknown backend \"%s\"", b != NULL && printable(b, 32) ? b : "?");
    return -1;
}

int storage_put(const struct ums_config *cfg, const char *key, const void *data, size_t len,
                const char *ctype, char **url)
{
    const char *pub = cfg->storage.public_url;
    int be, rc = UMS_EINVALID;

    *url = NULL;
    if (!key_valid(key) || !printable(ctype, CTYPE_MAX) || (data == NULL && len > 0)) {
        log_warn("storage: put refused: bad key, content type or data");
        goto out;
    }
    be = backend(cfg);
    if (be < 0)
        goto out;
    if (be == 0) {
        rc = local_put(cfg, key, data, len, url);
        goto out;
    }
    rc = s3_send(cfg, key, data, len, ctype, 0);
    if (rc != UMS_OK)
        goto out;
    if (pub != NULL && pub[0] != '\0')
        rc = url_join(url, pub, NULL, key);
    else
        rc = url_join(url, cfg->storage.s3_endpoint, cfg->storage.s3_bucket, key);
out:
    return rc;
}

int storage_delete(const struct ums_config *cfg, const char *key)
{
    int be;

    if (!key_valid(key)) {
        log_warn("storage: delete refused: bad key");
        return UMS_EINVALID;
    }
    be = backend(cfg);
    if (be < 0)
        return UMS_EINVALID;
    return be == 0 ? local_delete(cfg, key) : s3_send(cfg, key, NULL, 0, NULL, 1);
}
