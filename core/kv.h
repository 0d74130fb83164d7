/* kv.h - one hiredis connection per process with reconnection. Redis is a
 * cache and a transport: callers treat UMS_EUNAVAILABLE as "degrade". */
#ifndef UMS_KV_H
#define UMS_KV_H

#include <hiredis/hiredis.h>

struct kv;

/* Creates a handle and tries to connect; a failed first connection is not an
 * error (the handle reconnects on use). Returns 0 or UMS_ERR out of memory. */
int kv_open(struct kv **out, const char *host, int port, const char *password, int db,
            int timeout_ms);

/* Makes sure the connection is usable, reconnecting at most once a second.
 * Returns 0 or UMS_EUNAVAILABLE. */
int kv_ensure(struct kv *kv);

/*
 * Runs one command given as argv. On success *out is the reply (the caller
 * frees it with freeReplyObject) and 0 is returned; a Redis error reply is
 * UMS_ERR (logged), a dead connection UMS_EUNAVAILABLE.
 */
int kv_cmd(struct kv *kv, redisReply **out, int argc, const char **argv, const size_t *lens);

#define KV_SENTINELS_MAX 8

struct kv_addr {
    char host[256];
    int port;
};

/*
 * [redis] sentinels: "host:port,host:port,..." into addrs (may be NULL to
 * check only), *n entries. "" is none. UMS_OK, or UMS_EINVALID with err
 * naming the bad entry.
 */
int kv_sentinels_parse(const char *list, struct kv_addr *addrs, int *n, char *err, size_t errlen);

struct ums_config;

/*
 * kv_open for the configuration's [redis]: with sentinels set, the master
 * is whatever the sentinels say ([redis] master_name), checked with ROLE
 * before use, and asked again after a lost connection or a READONLY or
 * MASTERDOWN reply; host and port are then unused. Returns as kv_open.
 */
int kv_open_config(struct kv **out, const struct ums_config *cfg, int timeout_ms);

/* PING: 0 or UMS_EUNAVAILABLE. */
int kv_ping(struct kv *kv);

void kv_close(struct kv *kv);

#endif
