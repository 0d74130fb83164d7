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

#include "ums.h"

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

static void b64url(char *out, const unsigned char *in, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
    }
    out[o] = '\0';
}

int keygen_rsa(const char *priv_path, const char *pub_path, int bits, char kid[23], char *err,
               size_t errlen)
{
    EVP_PKEY *key = NULL;
    FILE *fpriv = NULL, *fpub = NULL;
    unsigned char *der = NULL, md[32];
    unsigned int mdlen = 0;
    int derlen, rc = UMS_ERR;

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
    derlen = i2d_PUBKEY(key, &der);
    if (derlen <= 0 || !EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL))
        goto out;
    b64url(kid, md, 16);
    rc = UMS_OK;
out:
    if (fpriv != NULL && fclose(fpriv) != 0 && rc == UMS_OK)
        rc = UMS_ERR;
    if (fpub != NULL && fclose(fpub) != 0 && rc == UMS_OK)
        rc = UMS_ERR;
    if (rc != UMS_OK && rc != UMS_ECONFLICT && fpub != NULL) {
        unlink(priv_path);
        unlink(pub_path);
    }
    OPENSSL_free(der);
    EVP_PKEY_free(key);
    return rc;
}
