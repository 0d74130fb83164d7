/* keygen.h - RS256 signing key pairs for access tokens. */
#ifndef UMS_KEYGEN_H
#define UMS_KEYGEN_H

#include <stddef.h>

/*
 * Generates an RSA key pair of `bits` (2048..8192) and writes the private key
 * (PKCS#8 PEM, mode 0600, never overwritten) and the public key (SPKI PEM,
 * 0644). kid receives a key id: the first 16 bytes of the SHA-256 of the DER
 * public key, base64url (22 characters + NUL). Returns 0, UMS_ECONFLICT when
 * a file exists, UMS_EINVALID for bad arguments, UMS_ERR otherwise; err says why.
 */
int keygen_rsa(const char *priv_path, const char *pub_path, int bits, char kid[23], char *err,
               size_t errlen);

#include <openssl/evp.h>

/* The key id of a public key: base64url of the first 16 bytes of the SHA-256
 * of its DER SubjectPublicKeyInfo. 0 or UMS_ERR. */
int keygen_kid(char kid[23], EVP_PKEY *key);

#endif
