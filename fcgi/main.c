/* main.c - ums-fcgi: arguments, the listening socket, the master that
 * pre-forks and supervises workers (the php-fpm model), and spawned mode. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netdb.h>

#include "../core/config.h"
#include "../util/log.h"
#include "../util/metrics.h"
#include "../util/pidfile.h"
#include "../core/preflight.h"
#include "../util/privs.h"
#include "../util/ums.h"
#include "http.h"
#include "routes.h"
#include "worker.h"

#ifndef UMS_CONFIG_FILE
#define UMS_CONFIG_FILE "/etc/ums/ums.conf" /* configure sets $(sysconfdir)/ums/ums.conf */
#endif

#define CHILDREN_MAX  512
#define BACKOFF_MIN   0.1
#define BACKOFF_MAX   30.0
#define HEALTHY_AFTER 5.0  /* a worker that lived this long resets the back-off */
#define LISTEN_WAIT   10.0 /* seconds to wait for a dead master's workers to leave */

struct child {
    pid_t pid;
    unsigned gen; /* generation; older generations are retiring */
    double started;
};

struct slot {
    pid_t pid;
    double respawn_at; /* when pid == 0: monotonic time to fork again */
};

static volatile sig_atomic_t got_term, got_hup, got_chld;
static int sig_w = -1;
static pid_t master_pid;
static int authz_fd = -1; /* [server] authorizer_listen, or -1 */
static struct ums_config *cfg;
static const char *config_path;

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;

    if (sig == SIGTERM || sig == SIGINT)
        got_term = 1;
    else if (sig == SIGHUP)
        got_hup = 1;
    else if (sig == SIGCHLD)
        got_chld = 1;
    if (sig_w >= 0 && write(sig_w, &c, 1) < 0) {
        /* pipe full: a wake-up is pending anyway */
    }
    errno = saved;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ums-fcgi [--config FILE] [--daemon] [--check]\n"
               "  --config FILE  configuration (default: $UMS_CONFIG, then ums.conf beside\n"
               "                 this program, then " UMS_CONFIG_FILE ")\n"
               "  --daemon       detach from the terminal after start-up\n"
               "  --check        validate the configuration and exit\n"
               "Started with a listening socket on fd 0 (spawn-fcgi, mod_fcgid) it serves\n"
               "that socket directly in this one process. Started by a systemd .socket\n"
               "unit (LISTEN_FDS=1) the pool of workers serves the socket systemd passed.\n");
}

/* ums.conf in the folder of the program as it was started (argv[0], not
 * /proc/self/exe: a web-space ums.fcgi may be a link), when it exists: how
 * a process that Apache's mod_fcgid spawns, with no command line of ours,
 * finds its configuration on shared hosting. NULL when there is none. */
static const char *beside_binary(const char *argv0, char *buf, size_t size)
{
    const char *slash = argv0 != NULL ? strrchr(argv0, '/') : NULL;
    int n;

    if (slash == NULL)
        return NULL;
    n = snprintf(buf, size, "%.*s/ums.conf", (int)(slash - argv0), argv0);
    if (n < 0 || (size_t)n >= size || access(buf, F_OK) != 0)
        return NULL;
    return buf;
}

/* fd 0 is a listening socket when a process manager started us. */
static int spawned_mode(void)
{
    int listening = 0;
    socklen_t len = sizeof(listening);

    return getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening;
}

/* systemd socket activation (the protocol of sd_listen_fds(3)): when
 * LISTEN_PID is ours, LISTEN_FDS sockets start at fd 3. ums takes exactly
 * one, a listening stream socket. Returns 3, -1 when not activated, or -2
 * (logged) for a set of sockets it cannot serve. */
static int activated_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    int type = 0, listening = 0, rc = -1;
    socklen_t len = sizeof(type);
    char *end;
    long p, n;

    if (pid == NULL || fds == NULL)
        return -1;
    errno = 0;
    p = strtol(pid, &end, 10);
    if (errno != 0 || *end != '\0' || p != (long)getpid())
        return -1;
    n = strtol(fds, &end, 10);
    if (errno != 0 || *end != '\0' || n != 1) {
        log_error("LISTEN_FDS=%s: ums-fcgi takes exactly one socket from systemd", fds);
        rc = -2;
    } else if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
               (len = sizeof(listening),
                getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) ||
               !listening) {
        log_error("the socket systemd passed (fd 3) is not a listening stream socket");
        rc = -2;
    } else if (fcntl(3, F_SETFD, FD_CLOEXEC) != 0) {
        log_error("fd 3: %s", strerror(errno));
        rc = -2;
    } else {
        rc = 3;
    }
    /* Not for anything this process starts. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return rc;
}

/* A unix socket file is stale when nothing accepts on it. */
static int unix_socket_in_use(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    if (fd < 0)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    return rc == 0;
}

static int bind_unix(const char *path, int mode, uid_t uid, gid_t gid)
{
    struct sockaddr_un sa;
    struct stat st;
    mode_t old;
    int fd, rc, warned = 0;

    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("%s exists and is not a socket", path);
            return -1;
        }
        /* No live master owns the pid file (checked before): what still
         * accepts are the workers of a master that was killed, leaving
         * after their parent-death signal. */
        for (double t0 = now_s(); unix_socket_in_use(path); poll(NULL, 0, 100)) {
            if (now_s() - t0 >= LISTEN_WAIT) {
                log_error("%s is in use by another process", path);
                return -1;
            }
            if (!warned++)
                log_warn("%s is still served by an old pool; waiting for it to leave", path);
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    /* Never let the socket exist with looser permissions, not even briefly. */
    old = umask(0777 & ~(mode_t)mode);
    rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    /* The mode came from the umask at bind(); the owner is set without
     * following a link that may have replaced the path since. */
    if (rc != 0 || (uid != (uid_t)-1 && lchown(path, uid, gid) != 0) || listen(fd, 1024) != 0) {
        log_error("cannot listen on %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int bind_tcp(const char *spec)
{
    struct addrinfo hints, *ai = NULL;
    char host[256];
    const char *colon = strrchr(spec, ':');
    int fd = -1, one = 1, bound = 0;
    size_t hl = (size_t)(colon - spec);

    if (hl >= sizeof(host))
        return -1;
    memcpy(host, spec, hl);
    host[hl] = '\0';
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
        log_error("[server] listen: %s is not a numeric address and port", spec);
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0) {
        /* As for a unix socket: a killed master's workers may still hold it. */
        double t0 = now_s();
        while (!(bound = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) && errno == EADDRINUSE &&
               now_s() - t0 < LISTEN_WAIT)
            poll(NULL, 0, 100);
    }
    if (!bound || listen(fd, 1024) != 0) {
        log_error("cannot listen on %s: %s", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid > 0)
        _exit(0);
    setsid();
    pid = fork();
    if (pid < 0)
        exit(1);
    if (pid > 0)
        _exit(0);
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        if (cfg->log.file[0] != '\0')
            dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
}

static int install_signals(int pfd[2])
{
    struct sigaction sa;

    if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    sig_w = pfd[1];
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    return 0;
}

static struct child children[CHILDREN_MAX];
static struct slot *slots;
static int nslots;
static unsigned generation;

static int child_add(pid_t pid)
{
    for (int i = 0; i < CHILDREN_MAX; i++) {
        if (children[i].pid == 0) {
            children[i].pid = pid;
            children[i].gen = generation;
            children[i].started = now_s();
            return i;
        }
    }
    return -1;
}

static int live_children(void)
{
    int n = 0;

    for (int i = 0; i < CHILDREN_MAX; i++)
        n += children[i].pid != 0;
    return n;
}

static pid_t spawn(int listen_fd, int pfd[2])
{
    sigset_t all, old;
    pid_t pid;

    /* Signals stay blocked until the child has installed its own handlers. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid != 0)
        sigprocmask(SIG_SETMASK, &old, NULL);

    if (pid < 0) {
        log_error("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int status;
        /* A worker must not outlive its master: it would keep the socket,
         * and a new master could not take it. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != master_pid)
            _exit(0);
        /* The master's metrics file is the master's alone. */
        metrics_after_fork();
        close(pfd[0]);
        close(pfd[1]);
        sig_w = -1;
        status = worker_run(listen_fd, authz_fd, cfg, MK_WORKER);
        config_free(cfg);
        log_close();
        /* exit, not _exit: sanitizer builds check the worker for leaks here. */
        exit(status);
    }
    child_add(pid);
    return pid;
}

static void signal_generation(unsigned gen_below, int sig)
{
    for (int i = 0; i < CHILDREN_MAX; i++)
        if (children[i].pid != 0 && children[i].gen < gen_below)
            kill(children[i].pid, sig);
}

/* Collects exited workers; schedules replacements with a crash back-off. */
static void reap(double *backoff)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int ci = -1;
        double lived = 0;

        for (int i = 0; i < CHILDREN_MAX; i++)
            if (children[i].pid == pid)
                ci = i;
        if (ci < 0)
            continue;
        lived = now_s() - children[ci].started;
        /* Crashed, recycled after max_requests, or told to stop. */
        if (WIFSIGNALED(status) ? WTERMSIG(status) != SIGTERM : WEXITSTATUS(status) != 0)
            metrics_inc(M_WORKER_EXIT_CRASH);
        else if (got_term || children[ci].gen < generation || WIFSIGNALED(status))
            metrics_inc(M_WORKER_EXIT_STOPPED);
        else
            metrics_inc(M_WORKER_EXIT_RECYCLED);
        children[ci].pid = 0;
        if (WIFSIGNALED(status))
            log_warn("worker %ld killed by signal %d after %.1f s", (long)pid, WTERMSIG(status),
                     lived);
        else if (WEXITSTATUS(status) != 0)
            log_warn("worker %ld exited with status %d after %.1f s", (long)pid,
                     WEXITSTATUS(status), lived);
        for (int s = 0; s < nslots; s++) {
            if (slots[s].pid != pid)
                continue;
            slots[s].pid = 0;
            if (got_term)
                break;
            if (lived < HEALTHY_AFTER && (WIFSIGNALED(status) || WEXITSTATUS(status) != 0)) {
                *backoff = *backoff < BACKOFF_MIN ? BACKOFF_MIN : *backoff * 2;
                if (*backoff > BACKOFF_MAX)
                    *backoff = BACKOFF_MAX;
                log_warn("respawning in %.1f s", *backoff);
            } else {
                *backoff = 0;
            }
            slots[s].respawn_at = now_s() + *backoff;
        }
    }
}

/* Re-reads the configuration and checks the files it names, as the
 * workers will load them; 0, or -1 when a bad file keeps the running
 * configuration and workers. */
static int reload(void)
{
    struct ums_config *next = NULL;
    char err[1024];

    if (config_load(&next, config_path, err, sizeof(err)) != UMS_OK ||
        preflight_check(next, PREFLIGHT_FCGI, err, sizeof(err)) != UMS_OK) {
        log_error("reload refused, the running configuration stays: %s", err);
        config_free(next);
        return -1;
    }
    if (strcmp(next->server.listen, cfg->server.listen) != 0)
        log_warn("[server] listen changed; restart ums-fcgi to move the socket");
    if (log_open(next->log.file, next->log.level) != 0)
        log_error("reload: cannot open the new log file; keeping the old one");
    config_free(cfg);
    cfg = next;
    return 0;
}

static int master(int listen_fd, int pfd[2])
{
    double backoff = 0;
    struct pollfd p = {pfd[0], POLLIN, 0};
    double deadline = 0;

    nslots = cfg->server.workers;
    slots = calloc((size_t)nslots, sizeof(*slots));
    if (slots == NULL)
        return 1;
    log_info("ums-fcgi master started: %d workers on %s", nslots, cfg->server.listen);
    for (;;) {
        char drain[64];
        int timeout = -1;
        double t = now_s();

        while (read(pfd[0], drain, sizeof(drain)) > 0)
            ;
        if (got_chld) {
            got_chld = 0;
            reap(&backoff);
        }
        if (got_term) {
            if (deadline == 0) {
                log_info("stopping: waiting for %d workers", live_children());
                deadline = t + cfg->server.graceful_timeout;
                signal_generation(generation + 1, SIGTERM);
            }
            if (live_children() == 0)
                break;
            if (t >= deadline) {
                log_warn("graceful timeout: killing %d workers", live_children());
                signal_generation(generation + 1, SIGKILL);
                deadline = t + 3600;
            }
            timeout = 200;
        } else if (got_hup) {
            got_hup = 0;
            if (reload() != 0)
                continue;
            generation++;
            free(slots);
            nslots = cfg->server.workers;
            slots = calloc((size_t)nslots, sizeof(*slots));
            if (slots == NULL)
                return 1;
            /* New workers first, then the old ones finish what they hold and exit. */
            for (int s = 0; s < nslots; s++)
                slots[s].pid = spawn(listen_fd, pfd);
            signal_generation(generation, SIGTERM);
            log_info("reloaded: %d workers, generation %u", nslots, generation);
        } else {
            for (int s = 0; s < nslots; s++) {
                if (slots[s].pid > 0)
                    continue;
                if (slots[s].respawn_at <= t) {
                    slots[s].pid = spawn(listen_fd, pfd);
                    if (slots[s].pid < 0) {
                        slots[s].pid = 0;
                        slots[s].respawn_at = t + 1;
                    }
                }
                if (slots[s].pid == 0) {
                    int ms = (int)((slots[s].respawn_at - t) * 1000) + 1;
                    if (timeout < 0 || ms < timeout)
                        timeout = ms;
                }
            }
        }
        if (poll(&p, 1, timeout) < 0 && errno != EINTR)
            break;
    }
    free(slots);
    log_info("ums-fcgi master stopped");
    return 0;
}

int main(int argc, char **argv)
{
    char err[1024], beside[4096];
    int daemon_mode = 0, check_only = 0, listen_fd = -1, pfd[2] = {-1, -1}, rc = 1;
    int activated;
    uid_t uid;
    gid_t gid, sgid;
    long owner;

    log_set_service("ums-fcgi");
    config_path = getenv("UMS_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strcmp(argv[i], "--daemon") == 0) {
            daemon_mode = 1;
        } else if (strcmp(argv[i], "--check") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (config_path == NULL || *config_path == '\0')
        config_path = beside_binary(argv[0], beside, sizeof(beside));
    if (config_path == NULL)
        config_path = UMS_CONFIG_FILE;
    if (config_load(&cfg, config_path, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "ums-fcgi: %s\n", err);
        return 2;
    }
    if (check_only) {
        /* Every file of the configuration, the notifier's too, as the
         * service user reads them. */
        rc = preflight_as_service_user(cfg, config_path, PREFLIGHT_ALL, err, sizeof(err));
        if (rc == UMS_OK)
            printf("%s: ok\n", config_path);
        else
            fprintf(stderr, "ums-fcgi: %s: %s\n", config_path, err);
        config_free(cfg);
        return rc == UMS_OK ? 0 : 2;
    }
    if (log_open(cfg->log.file, cfg->log.level) != 0)
        goto out;
    route_metrics_init(ums_routes, ums_routes_len);

    activated = activated_socket();
    if (activated == -1 && spawned_mode()) {
        if (preflight_check(cfg, PREFLIGHT_FCGI, err, sizeof(err)) != UMS_OK) {
            log_error("%s: %s", config_path, err);
            rc = 2;
            goto out;
        }
        log_info("ums-fcgi serving the inherited socket on fd 0");
        rc = worker_run(0, -1, cfg, MK_SPAWNED);
        goto out;
    }
    if (privs_lookup(cfg->server.user, &uid, &gid) != 0)
        goto out;
    /* The log is the service user's from the start, so a root start that
     * stops below leaves none of root's, and the file stays writable after
     * the switch, for reopening on SIGHUP. */
    if (log_chown(uid, gid) != 0)
        log_warn("cannot hand the log file to [server] user");
    if (activated == -2)
        goto out;
    /* A bad key or secret stops start-up here, before any worker exists. */
    if (preflight_as_service_user(cfg, config_path, PREFLIGHT_FCGI, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "ums-fcgi: %s: %s\n", config_path, err);
        if (cfg->log.file[0] != '\0')
            log_error("%s: %s", config_path, err);
        rc = 2;
        goto out;
    }
    if ((owner = pidfile_owner(cfg->server.pid_file)) > 0) {
        log_error("already running with pid %ld (%s)", owner, cfg->server.pid_file);
        goto out;
    }
    /* The socket's group is the web server's ([server] socket_group): it
     * needs the socket and nothing else of the service user's. */
    sgid = gid;
    if (privs_group(cfg->server.socket_group, &sgid) != 0)
        goto out;
    /* From systemd's .socket unit, the pool serves the socket it was given:
     * systemd owns the file (its user, group and mode), [server] listen
     * only names it in the log. */
    listen_fd = activated >= 0 ? activated
                : cfg->server.listen[0] == '/'
                    ? bind_unix(cfg->server.listen, cfg->server.socket_mode, uid, sgid)
                    : bind_tcp(cfg->server.listen);
    if (listen_fd < 0)
        goto out;
    if (cfg->server.authorizer_listen[0] != '\0' &&
        (authz_fd = bind_tcp(cfg->server.authorizer_listen)) < 0)
        goto out;
    if (daemon_mode)
        daemonize();
    /* Root hands files over through their descriptors, never by path: the
     * folders may be the service user's (symbolic links are refused). */
    if (pidfile_claim(cfg->server.pid_file, uid, gid) != 0)
        goto out;
    if (privs_drop(cfg->server.user, uid, gid) != 0)
        goto out;
    if (install_signals(pfd) != 0)
        goto out;
    /* A new pool counts from zero: the files of the processes of the last
     * one go, those of any still running stay. */
    if (cfg->metrics.enabled) {
        metrics_reset(cfg->metrics.dir);
        if (metrics_open(cfg->metrics.dir, MK_MASTER, err, sizeof(err)) != 0)
            log_warn("metrics off in the master: %s", err);
    }
    master_pid = getpid();
    rc = master(listen_fd, pfd);
    if (activated < 0 && cfg->server.listen[0] == '/')
        unlink(cfg->server.listen);
    pidfile_release(cfg->server.pid_file);
out:
    if (listen_fd >= 0)
        close(listen_fd);
    if (authz_fd >= 0)
        close(authz_fd);
    if (pfd[0] >= 0) {
        close(pfd[0]);
        close(pfd[1]);
    }
    metrics_close();
    config_free(cfg);
    log_close();
    return rc;
}
