/* stack.h - helpers for black-box tests against the running local stack. */
#ifndef UMS_TEST_STACK_H
#define UMS_TEST_STACK_H

#include <stddef.h>
#include <sys/types.h>

struct http_resp {
    long status;
    char *body;
    size_t len;
    char *headers; /* raw response headers, lower-cased names kept as sent */
};

/* An environment variable from .stack/env; exits the test program if unset. */
const char *env_need(const char *name);

/* 1 when the stack runs behind Apache (UMS_SERVER apache or apache-fcgid),
 * 0 behind nginx. */
int behind_apache(void);

/* Runs a shell command from the repository root; returns its exit status. */
int sh(const char *cmd);

/* Runs a shell command (from the current folder) and puts the start of its
 * output, NUL-terminated, in out; 0 when it exited with 0. */
int sh_out(const char *cmd, char *out, size_t n);

/* One HTTP request to UMS_URL + path. headers is NULL-terminated ("Name: value").
 * source_ip, when not NULL, binds the client to that loopback address.
 * Returns 0 when a response arrived. */
int http_req(const char *method, const char *path, const char *const *headers, const char *body,
             size_t len, const char *source_ip, struct http_resp *out);
int http_get(const char *path, struct http_resp *out);
void http_resp_free(struct http_resp *r);

/* Value of a response header (case-insensitive name) copied into out; 0 if found. */
int resp_header(const struct http_resp *r, const char *name, char *out, size_t outlen);

/* The pid in .stack/run/NAME.pid (redis and nginx: their own folders), or 0. */
pid_t stack_pid(const char *name);

/* Children of parent whose command name is comm; returns how many (at most max). */
int children(pid_t parent, const char *comm, pid_t *out, int max);

/* Processes whose command name is comm and whose command line contains needle
 * (NULL: any); with masters_only, only those whose parent has another name. */
int count_procs(const char *comm, const char *needle, int masters_only);

/* Polls GET path every 100 ms until it answers status, at most secs seconds. */
int wait_status(const char *path, long status, int secs);

/* A second ums-fcgi in spawned mode: spawn-fcgi gives it the listening
 * socket .stack/run/NAME.sock on fd 0, with env_assign (e.g. "UMS_X=1" or
 * "") in its environment. Fills sock (the socket path) and returns the pid,
 * or -1. */
pid_t spawn_ums(const char *name, const char *env_assign, char *sock, size_t socklen);

/* SIGTERM to a spawned ums-fcgi; waits up to 5 s, removes its socket.
 * Returns 0 when it exited. */
int stop_spawned(pid_t pid, const char *sock);

/* Sleeps ms milliseconds. */
void sleep_ms(int ms);

#endif
