/* test_storage.c - core/storage.c: the local folder backend, key validation,
 * and the S3 backend against s3rver (tests/storage/run.sh starts it and sets
 * UMS_TEST_S3_ENDPOINT; without it the s3 cases fail, they do not skip). */
#define CTEST_MAIN
#include "../ctest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../../core/config.h"
#include "../../core/storage.h"
#include "../../util/ums.h"

#define BUCKET  "ums-test"
#define GET_MAX (1 << 20)

/* ---- helpers ---- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh folder for the local backend; the caller removes it with rm_rf. */
static int make_dir(char dir[64])
{
    snprintf(dir, 64, "/tmp/ums-storage-XXXXXX");
    return mkdtemp(dir) != NULL;
}

static struct ums_config local_cfg(char *dir)
{
    struct ums_config c;

    memset(&c, 0, sizeof(c));
    c.storage.backend = "local";
    c.storage.local_dir = dir;
    c.storage.public_url = "https://cdn.example.test/avatars/";
    c.storage.timeout_ms = 2000;
    return c;
}

/* The s3rver endpoint, or NULL (the caller fails the case). */
static const char *endpoint(void)
{
    const char *e = getenv("UMS_TEST_S3_ENDPOINT");

    return e != NULL && *e != '\0' ? e : NULL;
}

#define NEED_ENDPOINT()                                                                            \
    do {                                                                                           \
        if (endpoint() == NULL)                                                                    \
            CTEST_FAIL_("UMS_TEST_S3_ENDPOINT is not set: run tests/storage/run.sh");              \
    } while (0)

static struct ums_config s3_cfg(const char *ep)
{
    struct ums_config c;

    memset(&c, 0, sizeof(c));
    c.storage.backend = "s3";
    c.storage.s3_endpoint = (char *)ep;
    c.storage.s3_bucket = BUCKET;
    c.storage.s3_region = "us-east-1";
    c.storage.s3_access_key = "S3RVER";
    c.storage.s3_secret_key = "S3RVER";
    c.storage.public_url = "";
    c.storage.timeout_ms = 5000;
    return c;
}

static int read_file(const char *path, unsigned char *out, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return -1;
    *len = fread(out, 1, cap, f);
    fclose(f);
    return 0;
}

/* Names in dir, '\n'-joined, so a leftover temporary file shows up. */
static void list_dir(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    out[0] = '\0';
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s\n", e->d_name);
        if (n >= cap)
            break;
    }
    closedir(d);
}

struct got {
    unsigned char *p;
    size_t len;
};

static size_t on_get(char *src, size_t size, size_t nmemb, void *arg)
{
    struct got *g = arg;
    size_t n = size * nmemb;

    if (g->len + n > GET_MAX)
        return 0;
    memcpy(g->p + g->len, src, n);
    g->len += n;
    return n;
}

/* GETs url anonymously (as a browser would read the public object); returns
 * the HTTP status (0 on a transport error) and the body in *g (caller frees). */
static long http_get(const char *url, struct got *g)
{
    CURL *c = curl_easy_init();
    long status = 0;

    g->p = malloc(GET_MAX);
    g->len = 0;
    if (c == NULL || g->p == NULL)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_get);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
    if (c != NULL)
        curl_easy_cleanup(c);
    return status;
}

/* The object's path-style URL on s3rver. */
static void object_url(char *out, size_t cap, const char *key)
{
    snprintf(out, cap, "%s/%s/%s", endpoint(), BUCKET, key);
}

/* A loopback port with nothing listening: bound, so no one else takes it
 * while the case runs, but never listen()ed, so connections are refused. */
static int closed_port(int *fd_out)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *fd_out = fd;
    return ntohs(a.sin_port);
}

/* Reads one HTTP request (head and Content-Length body) from fd into buf. */
static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t n = 0, want = 0;
    char *end;

    buf[0] = '\0';
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL && want == 0) {
            char *cl = strcasestr(buf, "\r\ncontent-length:");
            want =
                (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (want != 0 && n >= want)
            break;
    }
    return n;
}

/*
 * A one-connection HTTP server in a child process on a loopback port: it reads
 * one request, copies it to the file `save` (if not NULL), answers `response`
 * and exits. Returns the port, or -1; *child is the process to wait for.
 */
static int canned_server(const char *response, const char *save, pid_t *child)
{
    int fd = -1, port = closed_port(&fd);

    if (port < 0 || listen(fd, 1) != 0)
        return -1;
    *child = fork();
    if (*child < 0)
        return -1;
    if (*child == 0) {
        char req[8192];
        struct timeval tv = {5, 0};
        int c = accept(fd, NULL, NULL);
        size_t n;

        if (c < 0)
            _exit(1);
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        n = read_request(c, req, sizeof(req));
        if (save != NULL) {
            FILE *f = fopen(save, "wb");
            if (f != NULL) {
                fwrite(req, 1, n, f);
                fclose(f);
            }
        }
        if (write(c, response, strlen(response)) < 0)
            _exit(1);
        close(c);
        _exit(0);
    }
    close(fd);
    return port;
}

/* The put or delete result against a server that answers `response` once. */
static int against(const char *response, int is_delete)
{
    struct ums_config c;
    char ep[64], *url = NULL;
    pid_t child = -1;
    int port = canned_server(response, NULL, &child), rc;

    if (port < 0)
        return 99;
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    c = s3_cfg(ep);
    rc = is_delete ? storage_delete(&c, "a/b.png")
                   : storage_put(&c, "a/b.png", "x", 1, "image/png", &url);
    free(url);
    waitpid(child, NULL, 0);
    return rc;
}

/* ---- keys ---- */

CTEST(keys, bad_keys_rejected)
{
    char long_key[301], dir[64];
    static const char *const bad[] = {
        "../x",  "a/../b", "a..b", "/abs", "a//b",  "a/",      "A.png", "avatars/X",
        "a b",   " a",     "a\nb", "a\\b", "a%2eb", ".hidden", "a/.b",  "./a",
        "a/./b", "é.png",  "a:b",  "a?b",  "a#b",   "a+b",     "",
    };
    struct ums_config c;
    char *url = (char *)"sentinel", names[256];

    ASSERT_TRUE(make_dir(dir));
    c = local_cfg(dir);
    memset(long_key, 'a', 300);
    long_key[300] = '\0';
    for (size_t i = 0; i < UMS_ARRAY_LEN(bad); i++) {
        if (storage_put(&c, bad[i], "x", 1, "image/png", &url) != UMS_EINVALID || url != NULL)
            CTEST_FAIL_("put accepted key \"%s\"", bad[i]);
        if (storage_delete(&c, bad[i]) != UMS_EINVALID)
            CTEST_FAIL_("delete accepted key \"%s\"", bad[i]);
    }
    ASSERT_EQ(storage_put(&c, long_key, "x", 1, "image/png", &url), UMS_EINVALID);
    long_key[201] = '\0';
    ASSERT_EQ(storage_put(&c, long_key, "x", 1, "image/png", &url), UMS_EINVALID);
    ASSERT_EQ(storage_put(&c, NULL, "x", 1, "image/png", &url), UMS_EINVALID);
    ASSERT_EQ(storage_delete(&c, NULL), UMS_EINVALID);
    list_dir(dir, names, sizeof(names));
    ASSERT_STR_EQ(names, "");
    /* 200 bytes is the ceiling, and it is allowed. */
    long_key[200] = '\0';
    ASSERT_EQ(storage_put(&c, long_key, "x", 1, "image/png", &url), UMS_OK);
    free(url);
    rm_rf(dir);
}

CTEST(keys, bad_content_type_rejected)
{
    char dir[64], *url = NULL;
    struct ums_config c;

    ASSERT_TRUE(make_dir(dir));
    c = local_cfg(dir);
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png\r\nX-Evil: 1", &url), UMS_EINVALID);
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "", &url), UMS_EINVALID);
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, NULL, &url), UMS_EINVALID);
    ASSERT_EQ(storage_put(&c, "a.png", NULL, 1, "image/png", &url), UMS_EINVALID);
    ASSERT_NULL(url);
    rm_rf(dir);
}

/* ---- local folder ---- */

CTEST(local, put_writes_file_0644_and_returns_url)
{
    char dir[64], path[256], names[256], *url = NULL;
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 1, 2};
    const char *key = "avatars/0b7c4c4e-2f6a-4e1b-9d3e-5a8f1c2d3e4f/9f86d081.png";
    unsigned char back[64];
    struct ums_config c;
    struct stat st;
    mode_t old = umask(077); /* the modes must not depend on the umask */
    size_t n = 0;
    int rc;

    ASSERT_TRUE(make_dir(dir));
    c = local_cfg(dir);
    rc = storage_put(&c, key, png, sizeof(png), "image/png", &url);
    umask(old);
    ASSERT_EQ(rc, UMS_OK);
    ASSERT_STR_EQ(url, "https://cdn.example.test/avatars/avatars/"
                       "0b7c4c4e-2f6a-4e1b-9d3e-5a8f1c2d3e4f/9f86d081.png");
    free(url);
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    ASSERT_EQ(read_file(path, back, sizeof(back), &n), 0);
    ASSERT_EQ(n, sizeof(png));
    ASSERT_TRUE(memcmp(back, png, n) == 0);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_TRUE(S_ISREG(st.st_mode));
    ASSERT_EQ(st.st_mode & 07777, 0644);
    snprintf(path, sizeof(path), "%s/avatars/0b7c4c4e-2f6a-4e1b-9d3e-5a8f1c2d3e4f", dir);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0755);
    snprintf(path, sizeof(path), "%s/avatars", dir);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0755);
    /* No temporary file left beside it. */
    snprintf(path, sizeof(path), "%s/avatars/0b7c4c4e-2f6a-4e1b-9d3e-5a8f1c2d3e4f", dir);
    list_dir(path, names, sizeof(names));
    ASSERT_STR_EQ(names, "9f86d081.png\n");
    rm_rf(dir);
}

CTEST(local, put_replaces_whole_file)
{
    char dir[64], path[256], *url = NULL;
    unsigned char back[64];
    struct ums_config c;
    size_t n = 0;

    ASSERT_TRUE(make_dir(dir));
    c = local_cfg(dir);
    c.storage.public_url = "http://localhost:8080/avatars";
    ASSERT_EQ(storage_put(&c, "a/b.png", "a longer first version", 22, "image/png", &url), UMS_OK);
    ASSERT_STR_EQ(url, "http://localhost:8080/avatars/a/b.png");
    free(url);
    ASSERT_EQ(storage_put(&c, "a/b.png", "second", 6, "image/png", &url), UMS_OK);
    free(url);
    snprintf(path, sizeof(path), "%s/a/b.png", dir);
    ASSERT_EQ(read_file(path, back, sizeof(back), &n), 0);
    ASSERT_EQ(n, 6);
    ASSERT_TRUE(memcmp(back, "second", 6) == 0);
    /* An empty object is an object. */
    ASSERT_EQ(storage_put(&c, "a/empty.png", NULL, 0, "image/png", &url), UMS_OK);
    free(url);
    snprintf(path, sizeof(path), "%s/a/empty.png", dir);
    ASSERT_EQ(read_file(path, back, sizeof(back), &n), 0);
    ASSERT_EQ(n, 0);
    rm_rf(dir);
}

CTEST(local, delete_removes_and_is_idempotent)
{
    char dir[64], path[256], *url = NULL;
    struct ums_config c;

    ASSERT_TRUE(make_dir(dir));
    c = local_cfg(dir);
    ASSERT_EQ(storage_put(&c, "avatars/u/x.png", "x", 1, "image/png", &url), UMS_OK);
    free(url);
    snprintf(path, sizeof(path), "%s/avatars/u/x.png", dir);
    ASSERT_EQ(access(path, F_OK), 0);
    ASSERT_EQ(storage_delete(&c, "avatars/u/x.png"), UMS_OK);
    ASSERT_NE(access(path, F_OK), 0);
    ASSERT_EQ(storage_delete(&c, "avatars/u/x.png"), UMS_OK);
    ASSERT_EQ(storage_delete(&c, "avatars/never/was.png"), UMS_OK);
    /* A path through a file is "never there" too. */
    ASSERT_EQ(storage_delete(&c, "avatars/u/x.png/y.png"), UMS_OK);
    rm_rf(dir);
}

CTEST(local, bad_configuration)
{
    char dir[64], *url = NULL;
    struct ums_config c;

    ASSERT_TRUE(make_dir(dir));
    c = local_cfg("/nonexistent/ums-avatars");
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EINVALID);
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_EINVALID);
    c = local_cfg("relative/dir");
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EINVALID);
    c = local_cfg(dir);
    c.storage.public_url = "";
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EINVALID);
    c = local_cfg(dir);
    c.storage.backend = "ftp";
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EINVALID);
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_EINVALID);
    ASSERT_NULL(url);
    rm_rf(dir);
}

/* ---- S3 (s3rver) ---- */

CTEST(s3, endpoint_is_set)
{
    NEED_ENDPOINT();
}

CTEST(s3, put_then_get_back)
{
    static unsigned char data[70000];
    const char *key = "avatars/5d0e9a2c-1b7f-4c3a-8e6d-2f4a9b1c0d3e/c0ffee.png";
    struct ums_config c;
    char want[512], *url = NULL;
    struct got g = {NULL, 0};
    long status;
    int same;

    NEED_ENDPOINT();
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + (i >> 8)); /* every byte value, NULs included */
    c = s3_cfg(endpoint());
    ASSERT_EQ(storage_put(&c, key, data, sizeof(data), "image/png", &url), UMS_OK);
    object_url(want, sizeof(want), key);
    ASSERT_STR_EQ(url, want); /* no public_url: endpoint/bucket/key */
    free(url);
    status = http_get(want, &g);
    same = g.len == sizeof(data) && memcmp(g.p, data, sizeof(data)) == 0;
    free(g.p);
    ASSERT_EQ(status, 200);
    ASSERT_TRUE(same);

    c.storage.public_url = "https://avatars.example.test";
    ASSERT_EQ(storage_put(&c, key, "v2", 2, "image/webp", &url), UMS_OK);
    ASSERT_STR_EQ(url, "https://avatars.example.test/avatars/"
                       "5d0e9a2c-1b7f-4c3a-8e6d-2f4a9b1c0d3e/c0ffee.png");
    free(url);
    status = http_get(want, &g);
    same = g.len == 2 && memcmp(g.p, "v2", 2) == 0;
    free(g.p);
    ASSERT_EQ(status, 200);
    ASSERT_TRUE(same);
}

CTEST(s3, many_puts_on_one_handle)
{
    struct ums_config c;
    char key[64], *url = NULL;

    NEED_ENDPOINT();
    c = s3_cfg(endpoint());
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "avatars/many/%d.png", i);
        if (storage_put(&c, key, key, strlen(key), "image/png", &url) != UMS_OK)
            CTEST_FAIL_("put %d failed", i);
        free(url);
        url = NULL;
        if (storage_delete(&c, key) != UMS_OK)
            CTEST_FAIL_("delete %d failed", i);
    }
}

CTEST(s3, wrong_secret_is_refused)
{
    const char *key = "avatars/wrong-secret/x.png";
    struct ums_config c;
    char want[512], *url = NULL;
    struct got g = {NULL, 0};
    long status;

    NEED_ENDPOINT();
    c = s3_cfg(endpoint());
    c.storage.s3_secret_key = "not-the-secret";
    ASSERT_EQ(storage_put(&c, key, "x", 1, "image/png", &url), UMS_ERR);
    ASSERT_NULL(url);
    object_url(want, sizeof(want), key);
    status = http_get(want, &g);
    free(g.p);
    ASSERT_EQ(status, 404);
    ASSERT_EQ(storage_delete(&c, key), UMS_ERR);

    c = s3_cfg(endpoint());
    c.storage.s3_access_key = "NOBODY";
    ASSERT_EQ(storage_put(&c, key, "x", 1, "image/png", &url), UMS_ERR);
    c = s3_cfg(endpoint());
    c.storage.s3_region = "eu-west-1"; /* signed for another region */
    ASSERT_EQ(storage_put(&c, key, "x", 1, "image/png", &url), UMS_ERR);
    ASSERT_NULL(url);
}

CTEST(s3, missing_bucket_is_an_error)
{
    struct ums_config c;
    char *url = NULL;

    NEED_ENDPOINT();
    c = s3_cfg(endpoint());
    c.storage.s3_bucket = "no-such-bucket";
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_ERR);
    ASSERT_NULL(url);
    /* A 404 on delete is "gone", unless it is the bucket that is missing. */
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_ERR);
}

CTEST(s3, not_listening_is_unavailable)
{
    struct ums_config c;
    char ep[64], *url = NULL;
    int fd = -1, port = closed_port(&fd);

    ASSERT_TRUE(port > 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    c = s3_cfg(ep);
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EUNAVAILABLE);
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_EUNAVAILABLE);
    close(fd);
    ASSERT_NULL(url);
}

CTEST(s3, silent_server_times_out_unavailable)
{
    struct ums_config c;
    char ep[64], *url = NULL;
    int fd = -1, port = closed_port(&fd);

    /* Listening but never answering: the connection opens, no reply comes. */
    ASSERT_TRUE(port > 0);
    ASSERT_EQ(listen(fd, 8), 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
    c = s3_cfg(ep);
    c.storage.timeout_ms = 300;
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EUNAVAILABLE);
    close(fd);
    ASSERT_NULL(url);
}

CTEST(s3, status_codes)
{
    static const char s503[] = "HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    static const char s500[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml"
                               "\r\nContent-Length: 48\r\nConnection: close\r\n\r\n"
                               "<Error><Code>InternalError</Code></Error>\n      ";
    static const char s301[] = "HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:1/x"
                               "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    static const char s403[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    static const char s204[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    static const char s404_bucket[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 40\r\n"
                                      "Connection: close\r\n\r\n"
                                      "<Error><Code>NoSuchBucket</Code></Error>";
    static const char s404[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";

    ASSERT_EQ(against(s503, 0), UMS_EUNAVAILABLE);
    ASSERT_EQ(against(s500, 1), UMS_EUNAVAILABLE);
    ASSERT_EQ(against(s301, 0), UMS_ERR); /* not followed */
    ASSERT_EQ(against(s403, 0), UMS_ERR);
    ASSERT_EQ(against(s404, 0), UMS_ERR);
    ASSERT_EQ(against(s204, 1), UMS_OK);
    ASSERT_EQ(against(s404, 1), UMS_OK);
    ASSERT_EQ(against(s404_bucket, 1), UMS_ERR);
}

/* What goes on the wire: a path-style PUT signed with SigV4 that carries and
 * signs the SHA-256 of its body (curl 7.88 adds no x-amz-content-sha256). */
CTEST(s3, request_on_the_wire)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    char saved[] = "/tmp/ums-storage-req-XXXXXX", ep[64], req[8192], *url = NULL;
    struct ums_config c;
    size_t n = 0;
    pid_t child = -1;
    int fd = mkstemp(saved), port, rc;

    ASSERT_TRUE(fd >= 0);
    close(fd);
    port = canned_server(ok, saved, &child);
    ASSERT_TRUE(port > 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", port);
    c = s3_cfg(ep);
    c.storage.s3_region = "eu-central-1";
    c.storage.s3_access_key = "AKIDEXAMPLE";
    c.storage.s3_secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    rc = storage_put(&c, "avatars/u/abc.png", "hello", 5, "image/png", &url);
    waitpid(child, NULL, 0);
    read_file(saved, (unsigned char *)req, sizeof(req) - 1, &n);
    unlink(saved);
    req[n] = '\0';
    ASSERT_EQ(rc, UMS_OK);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/ums-test/avatars/u/abc.png", port);
    ASSERT_STR_EQ(url, ep);
    free(url);
    ASSERT_STR_CONTAINS(req, "PUT /ums-test/avatars/u/abc.png HTTP/1.1\r\n");
    ASSERT_STR_CONTAINS(req, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/");
    ASSERT_STR_CONTAINS(req, "/eu-central-1/s3/aws4_request, SignedHeaders=cache-control;"
                             "content-type;host;x-amz-content-sha256;x-amz-date, Signature=");
    /* Kept with the object: a key names one image for ever. */
    ASSERT_STR_CONTAINS(req, "Cache-Control: public, max-age=31536000, immutable\r\n");
    /* sha256("hello") */
    ASSERT_STR_CONTAINS(req,
                        "x-amz-content-sha256: "
                        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\r\n");
    ASSERT_STR_CONTAINS(req, "Content-Type: image/png\r\n");
    ASSERT_STR_CONTAINS(req, "Content-Length: 5\r\n");
    ASSERT_TRUE(strcasestr(req, "\r\nExpect:") == NULL);
    ASSERT_TRUE(strstr(req, "wJalrXUtnFEMI") == NULL);
    ASSERT_TRUE(strstr(req, "\r\n\r\nhello") != NULL);
}

CTEST(s3, bad_configuration)
{
    static const char *const endpoints[] = {
        "",
        "ftp://127.0.0.1:1",
        "file:///etc",
        "127.0.0.1:4569",
        "http://u:p@127.0.0.1:1",
        "http://127.0.0.1:1/?x=1",
    };
    struct ums_config c;
    char *url = NULL;

    for (size_t i = 0; i < UMS_ARRAY_LEN(endpoints); i++) {
        c = s3_cfg(endpoints[i]);
        if (storage_put(&c, "a.png", "x", 1, "image/png", &url) != UMS_EINVALID)
            CTEST_FAIL_("accepted endpoint \"%s\"", endpoints[i]);
    }
    c = s3_cfg("http://127.0.0.1:1");
    c.storage.s3_bucket = "";
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EINVALID);
    c = s3_cfg("http://127.0.0.1:1");
    c.storage.s3_bucket = "Upper_Case";
    ASSERT_EQ(storage_put(&c, "a.png", "x", 1, "image/png", &url), UMS_EINVALID);
    c = s3_cfg("http://127.0.0.1:1");
    c.storage.s3_secret_key = "";
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_EINVALID);
    c = s3_cfg("http://127.0.0.1:1");
    c.storage.s3_region = "us:east";
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_EINVALID);
    c = s3_cfg("http://127.0.0.1:1");
    c.storage.timeout_ms = 0;
    ASSERT_EQ(storage_delete(&c, "a.png"), UMS_EINVALID);
    ASSERT_NULL(url);
}

CTEST(s3, delete_removes_and_is_idempotent)
{
    const char *key = "avatars/delete-me/x.png";
    struct ums_config c;
    char want[512], *url = NULL;
    struct got g = {NULL, 0};
    long status;

    NEED_ENDPOINT();
    c = s3_cfg(endpoint());
    ASSERT_EQ(storage_put(&c, key, "bytes", 5, "image/png", &url), UMS_OK);
    free(url);
    object_url(want, sizeof(want), key);
    status = http_get(want, &g);
    free(g.p);
    ASSERT_EQ(status, 200);
    ASSERT_EQ(storage_delete(&c, key), UMS_OK);
    status = http_get(want, &g);
    free(g.p);
    ASSERT_EQ(status, 404);
    ASSERT_EQ(storage_delete(&c, key), UMS_OK);
    ASSERT_EQ(storage_delete(&c, "avatars/never/there.png"), UMS_OK);
}
