/* service_account.c - a Google service account file (service_account.h). */
#include "service_account.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "../util/file.h"
#include "../util/json.h"
#include "../util/ums.h"

#define ACCOUNT_MAX_BYTES (64 * 1024)

/* A string member of o copied into out; 0 when present, non-empty and fits. */
static int member(struct json_object *o, const char *name, char *out, size_t n)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0 || (size_t)json_object_get_string_len(v) >= n)
        return -1;
    memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    return 0;
}

int service_account_load(struct service_account *out, const char *path,
                         const char *project_override, char *err, size_t errlen)
{
    struct json_object *o = NULL, *v;
    char *text = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    int rc = UMS_EINVALID;

    memset(out, 0, sizeof(*out));
    rc = file_read(path, ACCOUNT_MAX_BYTES, &text, &len);
    if (rc != UMS_OK) {
        snprintf(err, errlen, "%s: %s", path, file_why(errno));
        return rc;
    }
    rc = UMS_EINVALID;
    if (json_parse_strict(&o, text, len, 8, NULL) != UMS_OK ||
        !json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "%s: not a service account file (a JSON object)", path);
        goto out;
    }
    if (member(o, "client_email", out->client_email, sizeof(out->client_email)) != 0 ||
        member(o, "token_uri", out->token_uri, sizeof(out->token_uri)) != 0 ||
        member(o, "project_id", out->project_id, sizeof(out->project_id)) != 0) {
        snprintf(err, errlen,
                 "%s: the service account needs client_email, token_uri and "
                 "project_id (strings)",
                 path);
        goto out;
    }
    if (strncmp(out->token_uri, "https://", 8) != 0 && strncmp(out->token_uri, "http://", 7) != 0) {
        snprintf(err, errlen, "%s: token_uri is not an http(s) URL", path);
        goto out;
    }
    if (project_override != NULL && *project_override != '\0')
        snprintf(out->project_id, sizeof(out->project_id), "%s", project_override);
    if (!json_object_object_get_ex(o, "private_key", &v) ||
        !json_object_is_type(v, json_type_string) ||
        (bio = BIO_new_mem_buf(json_object_get_string(v), json_object_get_string_len(v))) == NULL ||
        (out->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
        snprintf(err, errlen, "%s: private_key is not a PEM private key", path);
        goto out;
    }
    if (EVP_PKEY_get_base_id(out->key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(out->key) < 2048) {
        snprintf(err, errlen, "%s: private_key is not an RSA key of at least 2048 bits", path);
        goto out;
    }
    out->key_pem_len = (size_t)json_object_get_string_len(v);
    out->key_pem = malloc(out->key_pem_len + 1);
    if (out->key_pem == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        rc = UMS_ERR;
        goto out;
    }
    memcpy(out->key_pem, json_object_get_string(v), out->key_pem_len + 1);
    rc = UMS_OK;
out:
    BIO_free(bio);
    json_object_put(o);
    explicit_bzero(text, len);
    free(text);
    if (rc != UMS_OK)
        service_account_free(out);
    return rc;
}

void service_account_free(struct service_account *sa)
{
    EVP_PKEY_free(sa->key);
    sa->key = NULL;
    if (sa->key_pem != NULL)
        explicit_bzero(sa->key_pem, sa->key_pem_len);
    free(sa->key_pem);
    sa->key_pem = NULL;
    sa->key_pem_len = 0;
}
