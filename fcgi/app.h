/* app.h - what a worker owns for its whole life, created once after fork(). */
#ifndef UMS_APP_H
#define UMS_APP_H

struct ums_config;
struct db;
struct kv;

struct app {
    const struct ums_config *cfg; /* borrowed from main */
    struct db *db;
    struct kv *kv;
};

#endif
