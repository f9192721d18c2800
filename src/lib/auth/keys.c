/*
 * keys.c: the P-256 keys of tandem/auth.h, read and checked with OpenSSL, and made (EVP).
 *
 * libjwt parses the PEM text itself at every signature; this file only makes sure, once at
 * tandem_auth_new, that what it will parse is what tandem expects: a P-256 ("prime256v1") EC key,
 * a private key that is not encrypted (libjwt would let OpenSSL prompt for a passphrase on the
 * terminal; our passphrase callback refuses instead), and a private key whose public half is the
 * configured public key (a service signing tokens nobody can verify is a configuration error to
 * catch at start, not at the first login).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auth_int.h"

#define PEM_FILE_MAX 65536

/* OpenSSL's passphrase callback: never a passphrase (an encrypted key fails to load). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

static EVP_PKEY *pem_load(const char *pem, size_t len, bool private_key)
{
    if (len > PEM_FILE_MAX) {
        return NULL;
    }
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    if (b == NULL) {
        return NULL;
    }
    EVP_PKEY *k = private_key ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)
                              : PEM_read_bio_PUBKEY(b, NULL, no_passphrase, NULL);
    BIO_free(b);
    if (k == NULL) {
        ERR_clear_error(); /* OpenSSL's per-thread queue: stale errors confuse its next user */
    }
    return k;
}

static bool is_p256(EVP_PKEY *k)
{
    char group[64];
    size_t n = 0;
    return EVP_PKEY_is_a(k, "EC") &&
           EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &n) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

int auth_key_check(const char *pem, size_t len, bool private_key, const char **why)
{
    EVP_PKEY *k = pem_load(pem, len, private_key);
    if (k == NULL) {
        *why = private_key ? "not a PEM private key (or an encrypted one)" : "not a PEM public key";
        return TANDEM_EINVAL;
    }
    bool ok = is_p256(k);
    EVP_PKEY_free(k);
    if (!ok) {
        *why = "not a P-256 (prime256v1) EC key: ES256 needs one";
        return TANDEM_EINVAL;
    }
    return 0;
}

int auth_keys_match(const char *priv, size_t priv_len, const char *pub, size_t pub_len)
{
    EVP_PKEY *a = pem_load(priv, priv_len, true);
    EVP_PKEY *b = pem_load(pub, pub_len, false);
    int eq = a != NULL && b != NULL ? EVP_PKEY_eq(a, b) : 0;
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    return eq == 1 ? 0 : TANDEM_EINVAL;
}

int auth_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return TANDEM_EIO;
    }
    char *buf = malloc(PEM_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, PEM_FILE_MAX + 1, f) : 0;
    int rc = buf == NULL ? TANDEM_ENOMEM : ferror(f) ? TANDEM_EIO : 0;
    fclose(f);
    if (rc == 0 && n > PEM_FILE_MAX) {
        rc = TANDEM_ETOOLARGE;
    }
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The PEM text a BIO holds, as a malloc'd string. */
static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n <= 0) {
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (s != NULL) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

int tandem_auth_keygen(char **private_pem, char **public_pem)
{
    *private_pem = *public_pem = NULL;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIO *bpriv = BIO_new(BIO_s_mem()), *bpub = BIO_new(BIO_s_mem());
    int rc = TANDEM_EIO;
    if (k == NULL || bpriv == NULL || bpub == NULL ||
        PEM_write_bio_PrivateKey(bpriv, k, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(bpub, k) != 1) {
        goto out;
    }
    *private_pem = bio_text(bpriv);
    *public_pem = bio_text(bpub);
    if (*private_pem == NULL || *public_pem == NULL) {
        free(*private_pem);
        free(*public_pem);
        *private_pem = *public_pem = NULL;
        goto out;
    }
    rc = 0;
out:
    BIO_free(bpriv);
    BIO_free(bpub);
    EVP_PKEY_free(k);
    return rc;
}

/* Creates path (O_EXCL, mode) holding text. Returns 0, TANDEM_EEXIST or TANDEM_EIO. */
static int write_new(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        return errno == EEXIST ? TANDEM_EEXIST : TANDEM_EIO;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            close(fd);
            unlink(path);
            return TANDEM_EIO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(path);
        return TANDEM_EIO;
    }
    return 0;
}

int tandem_auth_keygen_files(const char *private_path, const char *public_path)
{
    if (private_path == NULL || public_path == NULL) {
        return TANDEM_EINVAL;
    }
    if (access(private_path, F_OK) == 0 || access(public_path, F_OK) == 0) {
        return TANDEM_EEXIST;
    }
    char *priv = NULL, *pub = NULL;
    int rc = tandem_auth_keygen(&priv, &pub);
    if (rc == 0) {
        rc = write_new(private_path, priv, 0600);
    }
    if (rc == 0) {
        rc = write_new(public_path, pub, 0644);
        if (rc != 0) {
            unlink(private_path);
        }
    }
    if (priv != NULL) {
        memset(priv, 0, strlen(priv)); /* the private key does not linger in freed memory */
    }
    free(priv);
    free(pub);
    return rc;
}
