/* worker.c - a worker owns one PostgreSQL connection, one Redis connection and
 * a per-request arena; it waits on the shared listening socket with epoll
 * (EPOLLEXCLUSIVE, so one idle worker wakes per connection) and a self-pipe
 * for signals, so SIGTERM never interrupts a request half-way. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "../util/arena.h"
#include "../core/config.h"
#include "../core/ryw.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../core/password.h"
#include "../util/ums.h"
#include "app.h"
#include "http.h"
#include "routes.h"
#include "worker.h"

#define ARENA_BLOCK     (16 * 1024)
#define ARENA_MAX       (80 * 1024 * 1024)
#define OUT_KEEP        (64 * 1024) /* output buffer kept between requests */
#define OUT_MAX         (8 * 1024 * 1024)
#define IDLE_RELEASE_MS 1000

static volatile sig_atomic_t stopping;
static int sigpipe_w = -1;

static void on_stop(int sig)
{
    int saved = errno;
    char c = (char)sig;

    stopping = 1;
    if (sigpipe_w >= 0 && write(sigpipe_w, &c, 1) < 0) {
        /* the pipe is full: a wake-up is already pending */
    }
    errno = saved;
}

static const char *io_param(void *h, const char *name)
{
    return FCGX_GetParam(name, ((FCGX_Request *)h)->envp);
}

static int io_read(void *h, char *buf, int n)
{
    return FCGX_GetStr(buf, n, ((FCGX_Request *)h)->in);
}

static int io_write(void *h, const char *buf, int n)
{
    return FCGX_PutStr(buf, n, ((FCGX_Request *)h)->out);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* db.h's freshness question for the request in progress: did its caller
 * write in an earlier request, recently enough that a replica may lack it? */
static int caller_wrote_recently(void *arg)
{
    struct req *r = arg;

    return r->authed && ryw_wrote_recently(&r->app->ctx, &r->who);
}

/* One request from accept to finish (the answer is sent, then any deferred
 * work runs); everything it allocated is released. */
static void serve(struct app *app, struct arena *arena, struct buf *out, FCGX_Request *fr,
                  int authz_only)
{
    const struct req_io io = {io_param, io_read, io_write, fr};
    struct req r;
    struct timespec t0;
    struct log_access a;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&r, 0, sizeof(r));
    r.app = app;
    r.arena = arena;
    r.io = &io;
    r.content_length = 0;
    r.authz_only = authz_only;
    buf_init(&r.headers, 16 * 1024);
    r.body_out = *out;

    ctx_request_begin(&app->ctx, caller_wrote_recently, &r);
    dispatch(&r, ums_routes, ums_routes_len);
    /* Before the answer goes out: the caller's next request, on any worker
     * or host, must find the mark. */
    ctx_request_end(&app->ctx, r.authed ? &r.who : NULL);

    log_set_request_id(r.request_id);
    log_set_trace(r.trace_id[0] != '\0' ? r.trace_id : NULL,
                  r.span_id[0] != '\0' ? r.span_id : NULL);
    a.method = r.method_name;
    a.path = r.path;
    a.route = r.route != NULL ? r.route->pattern : "-";
    a.status = r.status;
    a.duration_ms = ms_since(&t0);
    route_metrics_count(&r, a.duration_ms / 1e3);
    if (r.status == 503)
        metrics_inc(M_UNAVAILABLE_503);
    a.user_id = r.user_id;
    a.ip = r.remote_addr;
    log_request(&a);
    /* The answer goes out now (the FastCGI parameters go with it); deferred
     * work runs after, on what the handler kept in the arena. */
    FCGX_Finish_r(fr);
    if (r.after != NULL)
        r.after(r.after_data);
    log_set_request_id(NULL);
    log_set_trace(NULL, NULL);

    if (r.json != NULL)
        json_object_put(r.json);
    auth_principal_clear(&r.who);
    buf_free(&r.headers);
    *out = r.body_out;
    buf_reset(out, OUT_KEEP);
    arena_reset(arena);
}

static int setup_signals(int pfd[2])
{
    struct sigaction sa;

    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    sigpipe_w = pfd[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a request being read or written is not cut short by SIGTERM;
     * epoll_wait() is never restarted, so an idle worker still wakes at once. */
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    /* The master forks with every signal blocked; handlers are ready now. */
    {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
    }
    return 0;
}

/* Adds a listening socket to the epoll set, non-blocking: a worker that
 * loses the race for a connection gets EAGAIN instead of blocking in
 * accept(); EPOLLEXCLUSIVE wakes one idle worker per connection. */
static int watch_listener(int ep, int fd)
{
    struct epoll_event ev;
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return -1;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = fd;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int worker_run(int listen_fd, int authz_fd, const struct ums_config *cfg, enum metrics_kind kind)
{
    struct app app;
    char err[512];
    struct arena *arena = NULL;
    struct buf out;
    FCGX_Request fr, fa;
    struct epoll_event ev, got[3];
    int pfd[2] = {-1, -1}, ep = -1, status = 1, fa_ready = 0;
    long served = 0;

    memset(&app, 0, sizeof(app));
    if (cfg->metrics.enabled && metrics_open(cfg->metrics.dir, kind, err, sizeof(err)) != 0)
        log_warn("metrics off in this process: %s", err);
    password_init();
    buf_init(&out, OUT_MAX);
    if (setup_signals(pfd) != 0 || FCGX_Init() != 0)
        goto out;
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0 || watch_listener(ep, listen_fd) != 0)
        goto out;
    if (authz_fd >= 0 && watch_listener(ep, authz_fd) != 0)
        goto out;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.fd = pfd[0];
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev) != 0)
        goto out;
    if (ctx_open(&app.ctx, cfg, 1, err, sizeof(err)) != UMS_OK) {
        log_error("worker cannot start: %s", err);
        goto out;
    }
    arena = arena_new(ARENA_BLOCK, ARENA_MAX);
    if (arena == NULL)
        goto out;
    if (FCGX_InitRequest(&fr, listen_fd, 0) != 0)
        goto out;
    if (authz_fd >= 0) {
        if (FCGX_InitRequest(&fa, authz_fd, 0) != 0)
            goto out;
        fa_ready = 1;
    }

    log_debug("worker ready");
    while (!stopping) {
        /* While argon2's area is held, wake after a second of quiet to give
         * it back; otherwise sleep until there is work. */
        int n = epoll_wait(ep, got, 3, password_holding() ? IDLE_RELEASE_MS : -1);
        int ready = 0, authz = 0;

        if (n < 0 && errno != EINTR)
            break;
        if (n == 0) {
            password_release();
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (got[i].data.fd == listen_fd)
                ready = 1;
            else if (got[i].data.fd == authz_fd)
                authz = 1;
        }
        /* The authorizer port: one connection per wake-up, then the loop. */
        if (authz && FCGX_Accept_r(&fa) >= 0) {
            serve(&app, arena, &out, &fa, 1);
            served++;
        }
        /* EPOLLEXCLUSIVE woke this worker alone for the new connection: it
         * must take it even when it is about to stop, or the connection
         * waits in the backlog until another one arrives. */
        while (ready) {
            if (FCGX_Accept_r(&fr) < 0)
                break; /* EAGAIN: another worker took it */
            serve(&app, arena, &out, &fr, 0);
            served++;
            if (cfg->server.max_requests > 0 && served >= cfg->server.max_requests) {
                log_info("worker served %ld requests; recycling", served);
                stopping = 1;
            }
            /* A stopping worker drains what is already queued, then leaves. */
            ready = stopping;
        }
    }
    FCGX_Free(&fr, 0);
    if (fa_ready)
        FCGX_Free(&fa, 0);
    status = 0;
out:
    if (status != 0)
        log_error("worker could not start: %s", strerror(errno));
    ctx_close(&app.ctx);
    metrics_close();
    arena_free(arena);
    buf_free(&out);
    password_release();
    if (ep >= 0)
        close(ep);
    if (pfd[0] >= 0)
        close(pfd[0]);
    if (pfd[1] >= 0)
        close(pfd[1]);
    sigpipe_w = -1;
    return status;
}
