/* keygen.c - RSA key pair generation with OpenSSL 3. */
#include "keygen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../util/b64.h"
#include "../util/ums.h"

static int open_new(const char *path, int mode, FILE **out, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

    *out = NULL;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return errno == EEXIST ? UMS_ECONFLICT : UMS_EINVALID;
    }
    *out = fdopen(fd, "w");
    if (*out == NULL) {
        close(fd);
        return UMS_ERR;
    }
    return UMS_OK;
}

int keygen_kid(char kid[23], EVP_PKEY *key)
{
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int derlen = i2d_PUBKEY(key, &der);
    int ok = derlen > 0 && EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL);

    OPENSSL_free(der);
    if (!ok)
        return UMS_ERR;
    b64_url_encode(kid, md, 16);
    return UMS_OK;
}

int keygen_rsa(const char *priv_path, const char *pub_path, int bits, char kid[23], char *err,
               size_t errlen)
{
    EVP_PKEY *key = NULL;
    FILE *fpriv = NULL, *fpub = NULL;
    int rc = UMS_ERR;

    if (bits < 2048 || bits > 8192) {
        snprintf(err, errlen, "key size must be 2048 to 8192 bits");
        return UMS_EINVALID;
    }
    key = EVP_RSA_gen((unsigned)bits);
    if (key == NULL) {
        snprintf(err, errlen, "RSA key generation failed");
        goto out;
    }
    rc = open_new(priv_path, 0600, &fpriv, err, errlen);
    if (rc != UMS_OK)
        goto out;
    rc = open_new(pub_path, 0644, &fpub, err, errlen);
    if (rc != UMS_OK) {
        fclose(fpriv);
        fpriv = NULL;
        unlink(priv_path);
        goto out;
    }
    rc = UMS_ERR;
    if (!PEM_write_PrivateKey(fpriv, key, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_PUBKEY(fpub, key)) {
        snprintf(err, errlen, "cannot write PEM files");
        goto out;
    }
    rc = keygen_kid(kid, key);
out:
    if (fpriv != NULL && fclose(fpriv) != 0 && rc == UMS_OK)
        rc = UMS_ERR;
    if (fpub != NULL && fclose(fpub) != 0 && rc == UMS_OK)
        rc = UMS_ERR;
    if (rc != UMS_OK && rc != UMS_ECONFLICT && fpub != NULL) {
        unlink(priv_path);
        unlink(pub_path);
    }
    EVP_PKEY_free(key);
    return rc;
}
