/* service_account.h - a Google service account file (the JSON key that
 * Firebase Cloud Messaging's HTTP v1 API is reached with). */
#ifndef UMS_SERVICE_ACCOUNT_H
#define UMS_SERVICE_ACCOUNT_H

#include <stddef.h>

#include <openssl/evp.h>

struct service_account {
    EVP_PKEY *key; /* the RSA private key (private_key), owned */
    char *key_pem; /* the same key as PEM text, for libjwt; owned, zeroed when freed */
    size_t key_pem_len;
    char client_email[256];
    char token_uri[512];
    char project_id[128];
};

/*
 * Reads and checks the file at path (at most 64 KiB of strict JSON):
 * private_key must be a PEM RSA private key of at least 2048 bits, and
 * client_email, token_uri (an https or http URL) and project_id present
 * (project_override, when not empty, replaces project_id). Returns UMS_OK
 * with *out filled (free with service_account_free), or UMS_EINVALID with a
 * line in err that names the file and the problem.
 */
int service_account_load(struct service_account *out, const char *path,
                         const char *project_override, char *err, size_t errlen);

void service_account_free(struct service_account *sa);

#endif
