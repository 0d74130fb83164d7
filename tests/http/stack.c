/* stack.c - libcurl, /proc and shell helpers for the HTTP suite. */
#include "stack.h"

#include <ctype.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "../../util/buf.h"

const char *env_need(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || *v == '\0') {
        fprintf(stderr, "%s is not set: run the suite through scripts/check or source .stack/env\n",
                name);
        exit(2);
    }
    return v;
}

int behind_apache(void)
{
    const char *s = getenv("UMS_SERVER");

    return s != NULL && strncmp(s, "apache", 6) == 0;
}

int sh(const char *cmd)
{
    struct buf b;
    int rc;

    buf_init(&b, 8192);
    buf_printf(&b, "cd '%s' && %s", env_need("UMS_ROOT"), cmd);
    rc = system(b.p);
    buf_free(&b);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

int sh_out(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    size_t got;

    if (p == NULL)
        return -1;
    got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    return pclose(p) == 0 ? 0 : -1;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    return buf_add(ud, p, size * n) == 0 ? size * n : 0;
}

int http_req(const char *method, const char *path, const char *const *headers, const char *body,
             size_t len, const char *source_ip, struct http_resp *out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    struct buf b, h;
    char url[4096];
    CURLcode rc;

    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return -1;
    buf_init(&b, 64 << 20);
    buf_init(&h, 1 << 20);
    snprintf(url, sizeof(url), "%s%s", env_need("UMS_URL"), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    for (int i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (source_ip != NULL)
        curl_easy_setopt(c, CURLOPT_INTERFACE, source_ip);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = b.p != NULL ? b.p : calloc(1, 1);
    out->len = b.len;
    out->headers = h.p != NULL ? h.p : calloc(1, 1);
    return rc == CURLE_OK ? 0 : -1;
}

int http_get(const char *path, struct http_resp *out)
{
    return http_req("GET", path, NULL, NULL, 0, NULL, out);
}

void http_resp_free(struct http_resp *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

int resp_header(const struct http_resp *r, const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);
    const char *p = r->headers;

    while (p != NULL && *p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol != NULL ? (size_t)(eol - p) : strlen(p);
        if (ll > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(ll - (size_t)(v - p)), v);
            return 0;
        }
        p = eol != NULL ? eol + 2 : NULL;
    }
    return -1;
}

pid_t stack_pid(const char *name)
{
    char path[4096];
    long pid = 0;
    FILE *f;

    /* Redis and nginx keep their pid files in their own folders. */
    if (strcmp(name, "redis") == 0 || strcmp(name, "nginx") == 0)
        snprintf(path, sizeof(path), "%s/%s/%s.pid", env_need("UMS_STACK"), name, name);
    else
        snprintf(path, sizeof(path), "%s/run/%s.pid", env_need("UMS_STACK"), name);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return (pid_t)pid;
}

/* Reads comm and ppid of pid from /proc/PID/stat. */
static int proc_stat(pid_t pid, char *comm, size_t commlen, pid_t *ppid)
{
    char path[64], line[1024];
    FILE *f;
    char *l, *r;
    long pp;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fgets(line, sizeof(line), f) == NULL) {
        fclose(f);
        return -1;
    }
    fclose(f);
    l = strchr(line, '(');
    r = strrchr(line, ')');
    if (l == NULL || r == NULL || sscanf(r + 2, "%*c %ld", &pp) != 1)
        return -1;
    snprintf(comm, commlen, "%.*s", (int)(r - l - 1), l + 1);
    *ppid = (pid_t)pp;
    return 0;
}

static int cmdline_has(pid_t pid, const char *needle)
{
    char path[64], buf[8192];
    size_t n;
    FILE *f;

    if (needle == NULL)
        return 1;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* Calls fn for every process. */
static int scan(int (*fn)(pid_t, const char *, pid_t, void *), void *ud)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char comm[64];
        pid_t ppid;
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
        if (proc_stat(pid, comm, sizeof(comm), &ppid) == 0)
            n += fn(pid, comm, ppid, ud);
    }
    closedir(d);
    return n;
}

struct child_q {
    pid_t parent;
    const char *comm;
    pid_t *out;
    int max, n;
};

static int child_fn(pid_t pid, const char *comm, pid_t ppid, void *ud)
{
    struct child_q *q = ud;

    if (ppid != q->parent || strcmp(comm, q->comm) != 0)
        return 0;
    if (q->n < q->max)
        q->out[q->n++] = pid;
    return 1;
}

int children(pid_t parent, const char *comm, pid_t *out, int max)
{
    struct child_q q = {parent, comm, out, max, 0};

    scan(child_fn, &q);
    return q.n;
}

struct count_q {
    const char *comm, *needle;
    int masters_only;
};

static int count_fn(pid_t pid, const char *comm, pid_t ppid, void *ud)
{
    struct count_q *q = ud;
    char pcomm[64];
    pid_t pp;

    if (strcmp(comm, q->comm) != 0 || !cmdline_has(pid, q->needle))
        return 0;
    if (q->masters_only && proc_stat(ppid, pcomm, sizeof(pcomm), &pp) == 0 &&
        strcmp(pcomm, q->comm) == 0)
        return 0;
    return 1;
}

int count_procs(const char *comm, const char *needle, int masters_only)
{
    struct count_q q = {comm, needle, masters_only};

    return scan(count_fn, &q);
}

int wait_status(const char *path, long status, int secs)
{
    for (int i = 0; i < secs * 10; i++) {
        struct http_resp r;
        int ok = http_get(path, &r) == 0 && r.status == status;
        http_resp_free(&r);
        if (ok)
            return 0;
        sleep_ms(100);
    }
    return -1;
}

pid_t spawn_ums(const char *name, const char *env_assign, char *sock, size_t socklen)
{
    char pidf[1024], cmd[16384];
    long pid = 0;
    FILE *f;

    snprintf(sock, socklen, "%s/run/%s.sock", env_need("UMS_STACK"), name);
    snprintf(pidf, sizeof(pidf), "%s/run/%s.pid", env_need("UMS_STACK"), name);
    snprintf(cmd, sizeof(cmd),
             "rm -f '%s' && %s spawn-fcgi -s '%s' -M 0600 -P '%s' -- '%s/fcgi/ums-fcgi' "
             "--config '%s' >/dev/null",
             sock, env_assign, sock, pidf, env_need("UMS_BUILD_DIR"), env_need("UMS_CONFIG"));
    if (sh(cmd) != 0)
        return -1;
    f = fopen(pidf, "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = -1;
    fclose(f);
    unlink(pidf);
    return (pid_t)pid;
}

int stop_spawned(pid_t pid, const char *sock)
{
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 50 && kill(pid, 0) == 0; i++)
        sleep_ms(100);
    unlink(sock);
    return kill(pid, 0) == 0 ? -1 : 0;
}
