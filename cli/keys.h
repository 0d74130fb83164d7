/* keys.h - umsctl keys: the folder of signing keys ([auth] jwt_keys_dir). */
#ifndef UMS_CLI_KEYS_H
#define UMS_CLI_KEYS_H

/*
 * umsctl keys list|add|activate|rotate|retire|import ...; config_path is
 * read for [auth] jwt_keys_dir (unless --dir) and access_token_ttl. Returns
 * the exit status: 0, 1 on failure, 2 on bad usage.
 */
int cmd_keys(int argc, char **argv, const char *config_path);

/* --bits N of keygen and keys: 2048 to 8192 into *bits; else a message, -1. */
int keys_parse_bits(const char *arg, int *bits);

#define KEYS_USAGE                                                                                 \
    "  keys list [--dir DIR]   the signing keys of [auth] jwt_keys_dir (or DIR): kid,\n"           \
    "                          the active one, and whether ums-fcgi would load them\n"             \
    "  keys add [--dir DIR] [--bits N]\n"                                                          \
    "                          a new key that verifies but does not sign yet (publish it\n"        \
    "                          to every host first); prints its kid\n"                             \
    "  keys activate KID [--dir DIR]\n"                                                            \
    "                          KID signs from the next reload (SIGHUP) on\n"                       \
    "  keys rotate [--dir DIR] [--bits N]\n"                                                       \
    "                          add and activate in one step (a single host)\n"                     \
    "  keys retire KID [--dir DIR] [--force]\n"                                                    \
    "                          move KID to DIR/retired: its tokens are refused after the\n"        \
    "                          reload; refused while a token it signed may be unexpired\n"         \
    "  keys import FILE [--kid KID] [--dir DIR]\n"                                                 \
    "                          copy the PEM key FILE (jwt_private_key_file) into the\n"            \
    "                          folder under its kid, so its tokens keep verifying\n"

#endif
