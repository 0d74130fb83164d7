/* umsctl.c - administration: migrate, keygen, config check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/config.h"
#include "../core/auth.h"
#include "../core/db.h"
#include "../core/tokens.h"
#include "../core/keygen.h"
#include "../core/log.h"
#include "../core/migrate.h"
#include "../core/ums.h"

#ifndef UMS_SQLDIR
#define UMS_SQLDIR "/usr/share/ums/sql"
#endif

static const char *config_path;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: umsctl [--config FILE] COMMAND\n"
            "  config check            validate the configuration; names the bad key\n"
            "  config show             print the effective configuration (secrets masked)\n"
            "  migrate [--dir DIR]     apply pending migrations (default $UMS_SQL_DIR or %s)\n"
            "  keygen --out DIR [--bits N]\n"
            "                          write an RS256 key pair DIR/jwt-private.pem and\n"
            "                          DIR/jwt-public.pem (never overwrites) and print the kid\n"
            "The configuration is --config, else $UMS_CONFIG, else /etc/ums/ums.conf.\n",
            UMS_SQLDIR);
}

static int load(struct ums_config **cfg)
{
    char err[512];

    if (config_load(cfg, config_path, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: %s\n", err);
        return -1;
    }
    return 0;
}

static int cmd_config(int argc, char **argv)
{
    struct ums_config *cfg = NULL;

    if (argc != 1 || (strcmp(argv[0], "check") != 0 && strcmp(argv[0], "show") != 0)) {
        usage(stderr);
        return 2;
    }
    if (load(&cfg) != 0)
        return 1;
    if (strcmp(argv[0], "show") == 0) {
        config_dump(cfg);
    } else {
        /* Keys are checked as a worker would load them. */
        struct tokens *t = NULL;
        char err[512];
        if (tokens_open(&t, cfg, err, sizeof(err)) != UMS_OK ||
            auth_config_check(cfg, err, sizeof(err)) != UMS_OK) {
            fprintf(stderr, "umsctl: %s: %s\n", config_path, err);
            config_free(cfg);
            return 1;
        }
        tokens_close(t);
        printf("%s: ok\n", config_path);
    }
    config_free(cfg);
    return 0;
}

static int cmd_migrate(int argc, char **argv)
{
    struct ums_config *cfg = NULL;
    struct db *db = NULL;
    const char *dir = getenv("UMS_SQL_DIR");
    char err[1024];
    int applied = 0, rc;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (dir == NULL || *dir == '\0')
        dir = UMS_SQLDIR;
    if (load(&cfg) != 0)
        return 1;
    log_open(NULL, LL_WARN);
    rc = db_open(&db, cfg->database.url, cfg->database.password, cfg->database.connect_timeout,
                 0);
    if (rc == UMS_OK)
        rc = db_ensure(db);
    if (rc != UMS_OK) {
        fprintf(stderr, "umsctl: cannot connect to the database\n");
    } else {
        rc = migrate_run(db, dir, &applied, err, sizeof(err));
        if (rc != UMS_OK)
            fprintf(stderr, "umsctl: migrate: %s\n", err);
        else if (applied == 0)
            printf("migrations: up to date\n");
        else
            printf("migrations: applied %d\n", applied);
    }
    db_close(db);
    config_free(cfg);
    return rc == UMS_OK ? 0 : 1;
}

static int cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    char priv[4096], pub[4096], kid[23], err[512];
    int bits = 2048;

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--bits") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 2048 || v > 8192) {
                fprintf(stderr, "umsctl: --bits must be 2048 to 8192\n");
                return 2;
            }
            bits = (int)v;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (out == NULL) {
        usage(stderr);
        return 2;
    }
    snprintf(priv, sizeof(priv), "%s/jwt-private.pem", out);
    snprintf(pub, sizeof(pub), "%s/jwt-public.pem", out);
    if (keygen_rsa(priv, pub, bits, kid, err, sizeof(err)) != UMS_OK) {
        fprintf(stderr, "umsctl: keygen: %s\n", err);
        return 1;
    }
    printf("kid %s\nprivate key %s\npublic key %s\n", kid, priv, pub);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1;

    config_path = getenv("UMS_CONFIG");
    if (i + 1 < argc && strcmp(argv[i], "--config") == 0) {
        config_path = argv[i + 1];
        i += 2;
    }
    if (config_path == NULL || *config_path == '\0')
        config_path = "/etc/ums/ums.conf";
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "config") == 0)
        return cmd_config(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "migrate") == 0)
        return cmd_migrate(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "keygen") == 0)
        return cmd_keygen(argc - i - 1, argv + i + 1);
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return 0;
    }
    usage(stderr);
    return 2;
}
