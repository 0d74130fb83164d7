/* config_schema.h - the key table of the configuration and what config.c
 * shares with config_source.c (file text, environment, secret files) and
 * config_dump.c; private to core/. */
#ifndef UMS_CONFIG_SCHEMA_H
#define UMS_CONFIG_SCHEMA_H

#include <stddef.h>

#include "config.h"

enum config_type { CT_STR, CT_INT, CT_MODE, CT_LEVEL, CT_BOOL, CT_ENUM, CT_URL };

struct config_key {
    const char *section;
    const char *name;
    enum config_type type;
    size_t off; /* of the char * or int field in struct ums_config */
    const char *def;
    long min, max;       /* CT_INT, CT_MODE: the range; CT_STR: min 1, not empty */
    int secret;          /* may be given as name_file; masked in dumps */
    const char *choices; /* CT_ENUM: the values; CT_URL: the schemes; '|'-separated */
};

extern const struct config_key config_keys[];
extern const size_t config_keys_len;

/* The key [section] name, or NULL. */
const struct config_key *config_key_find(const char *section, const char *name);

/* The key's field in c: a string for CT_STR, CT_ENUM and CT_URL, else an int. */
int config_key_is_text(const struct config_key *k);
char **config_key_str(struct ums_config *c, const struct config_key *k);
int *config_key_int(struct ums_config *c, const struct config_key *k);

/* Checks val against the key's type and stores it; a refusal names where
 * ("file:line", "environment UMS_X") in err. UMS_OK, UMS_EINVALID or UMS_ERR. */
int config_key_set(struct ums_config *c, const struct config_key *k, const char *val,
                   const char *where, char *err, size_t errlen);

/* snprintf into err when err is not NULL. */
void config_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_source.c: applies an INI text (name for messages); seen has one
 * byte per key of config_keys and refuses a key set twice. Then the
 * UMS_SECTION_KEY (and UMS_SECTION_KEY_FILE for secrets) environment. */
int config_source_text(struct ums_config *c, const char *text, size_t len, const char *name,
                       unsigned char *seen, char *err, size_t errlen);
int config_source_env(struct ums_config *c, char *err, size_t errlen);

#endif
