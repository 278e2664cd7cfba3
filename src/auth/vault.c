/* vault: see vault.h. */
#include "auth/vault.h"
#include "core/log.h"
#include "core/util.h"
#include "store/auth_store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SECRET_MAX (1u << 20)

struct pb_vault {
    pb_db *db;
    pthread_rwlock_t mu; /* write-held only while the master key changes */
    unsigned char key[KEY_LEN];
    char fp[17];
    char path[1024];
};

static void fingerprint(const unsigned char key[KEY_LEN], char out[17])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(key, KEY_LEN, md);
    pb_hex_encode(md, 8, out);
}

void pb_vault_fingerprint(const pb_vault *v, char out[17])
{
    memcpy(out, v->fp, 17);
}

static int write_key_file(const char *path, const unsigned char key[KEY_LEN], int excl, pb_error *err)
{
    char hex[2 * KEY_LEN + 2];
    pb_hex_encode(key, KEY_LEN, hex);
    hex[2 * KEY_LEN] = '\n';
    hex[2 * KEY_LEN + 1] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC), 0600);
    if (fd < 0) {
        int e = errno;
        OPENSSL_cleanse(hex, sizeof hex);
        if (e == EEXIST) return pb_error_field(err, PB_ECONFLICT, "master_key_file", "%s already exists", path);
        return pb_error_field(err, PB_EIO, "master_key_file", "cannot create %s: %s", path, strerror(e));
    }
    int rc = 0;
    /* umask may have widened nothing, but an existing file (O_TRUNC) keeps its mode. */
    if (fchmod(fd, 0600) != 0 || write(fd, hex, 2 * KEY_LEN + 1) != 2 * KEY_LEN + 1 || fsync(fd) != 0)
        rc = pb_error_field(err, PB_EIO, "master_key_file", "cannot write %s: %s", path, strerror(errno));
    OPENSSL_cleanse(hex, sizeof hex);
    if (close(fd) != 0 && !rc) rc = pb_error_field(err, PB_EIO, "master_key_file", "cannot write %s", path);
    if (rc) unlink(path);
    return rc;
}

static void fsync_dir(const char *path)
{
    char tmp[1024];
    pb_strlcpy(tmp, path, sizeof tmp);
    int fd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

int pb_vault_create_key_file(const char *path, pb_error *err)
{
    unsigned char key[KEY_LEN];
    if (!path || !*path) return pb_error_field(err, PB_ECONFIG, "master_key_file", "no master key file configured");
    if (pb_random_bytes(key, sizeof key)) return pb_error_set(err, PB_EIO, "no randomness");
    int rc = write_key_file(path, key, 1, err);
    OPENSSL_cleanse(key, sizeof key);
    if (!rc) fsync_dir(path);
    return rc;
}

/* Reads a key file: 64 hex chars (surrounding whitespace ignored) or exactly 32 raw bytes.
 * Refuses files that are not regular or that group/others may access. */
static int read_key_file(const char *path, unsigned char key[KEY_LEN], pb_error *err)
{
    char buf[256];
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return pb_error_field(err, e == ENOENT ? PB_ENOTFOUND : PB_ECONFIG, "master_key_file",
                              "cannot open master key file %s: %s%s", path, strerror(e),
                              e == ENOENT ? " (run `planebridge init`)" : "");
    }
    int rc = 0;
    size_t n = 0;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = pb_error_field(err, PB_ECONFIG, "master_key_file", "%s is not a regular file", path);
    } else if (!pb_vault_key_owner_ok((unsigned)st.st_uid, (unsigned)geteuid())) {
        rc = pb_error_field(err, PB_ECONFIG, "master_key_file",
                            "%s is owned by uid %u, not by this user (uid %u); refusing it", path,
                            (unsigned)st.st_uid, (unsigned)geteuid());
    } else if (st.st_mode & 077) {
        rc = pb_error_field(err, PB_ECONFIG, "master_key_file",
                            "%s is accessible by group or others (mode %03o); run chmod 600", path,
                            (unsigned)(st.st_mode & 0777));
    } else {
        ssize_t got = read(fd, buf, sizeof buf - 1);
        if (got < 0)
            rc = pb_error_field(err, PB_EIO, "master_key_file", "cannot read %s", path);
        else
            n = (size_t)got;
    }
    close(fd);
    if (rc) return rc;
    buf[n] = '\0';
    if (n == KEY_LEN && memchr(buf, '\0', KEY_LEN)) { /* raw bytes containing NUL */
        memcpy(key, buf, KEY_LEN);
    } else {
        const char *p = buf;
        size_t l = n;
        while (l && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++, l--;
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\n' || p[l - 1] == '\r' || p[l - 1] == '\t')) l--;
        if (l == 2 * KEY_LEN && pb_hex_decode(p, l, key, KEY_LEN) == 0)
            ;
        else if (n == KEY_LEN)
            memcpy(key, buf, KEY_LEN);
        else
            rc = pb_error_field(err, PB_ECONFIG, "master_key_file", "%s does not hold a 32-byte key (64 hex chars)",
                                path);
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

int pb_vault_open(pb_db *db, const char *key_file, pb_vault **out, pb_error *err)
{
    *out = NULL;
    if (!key_file || !*key_file) return pb_error_field(err, PB_ECONFIG, "master_key_file", "no master key file configured");
    if (strlen(key_file) + 8 >= sizeof((pb_vault *)0)->path)
        return pb_error_field(err, PB_ECONFIG, "master_key_file", "path too long");
    pb_vault *v = calloc(1, sizeof *v);
    if (!v) return pb_error_set(err, PB_ENOMEM, "out of memory");
    v->db = db;
    pthread_rwlock_init(&v->mu, NULL);
    pb_strlcpy(v->path, key_file, sizeof v->path);
    int rc = read_key_file(key_file, v->key, err);
    if (!rc) {
        fingerprint(v->key, v->fp);
        /* A rotation that committed but crashed before its rename leaves KEY.new behind:
         * finish it if the store already uses that key, else discard the leftover. */
        char np[1040];
        unsigned char nk[KEY_LEN];
        snprintf(np, sizeof np, "%s.new", key_file);
        if (access(np, F_OK) == 0) {
            if (read_key_file(np, nk, NULL) == 0) {
                char nfp[17];
                int used = 0;
                fingerprint(nk, nfp);
                int qrc = pb_as_vault_has_fp(db, nfp, &used, err);
                if (qrc) {
                    /* Unknown whether the rotation committed: KEY.new may be the only copy
                     * of the key the store uses. Keep it and refuse to open. */
                    rc = pb_error_field(err, qrc, "master_key_file",
                                        "%s exists (an interrupted key rotation) and the store cannot tell "
                                        "which key it uses; leaving both files in place",
                                        np);
                } else if (used) {
                    /* The store uses the new key: use it even if the rename fails (the next
                     * open retries the rename). */
                    if (rename(np, key_file) == 0) fsync_dir(key_file);
                    memcpy(v->key, nk, KEY_LEN);
                    memcpy(v->fp, nfp, sizeof nfp);
                } else {
                    unlink(np);
                }
            }
            OPENSSL_cleanse(nk, sizeof nk);
        }
    }
    if (rc) {
        pb_vault_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void pb_vault_free(pb_vault *v)
{
    if (!v) return;
    OPENSSL_cleanse(v->key, sizeof v->key);
    pthread_rwlock_destroy(&v->mu);
    free(v);
}

/* base64(nonce || ciphertext || tag), AAD = name. *out malloc'd. */
static int seal(const unsigned char key[KEY_LEN], const char *name, const unsigned char *pt, size_t len, char **out)
{
    unsigned char *raw = NULL;
    char *b64 = NULL;
    int rc = PB_ECRYPTO, outl = 0, fl = 0;
    size_t rawlen = NONCE_LEN + len + TAG_LEN;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    raw = malloc(rawlen);
    b64 = malloc(4 * ((rawlen + 2) / 3) + 1);
    if (!ctx || !raw || !b64) {
        rc = PB_ENOMEM;
        goto out;
    }
    if (pb_random_bytes(raw, NONCE_LEN)) goto out;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)name, (int)strlen(name)) != 1 ||
        EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &outl, pt, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + outl, &fl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + len) != 1)
        goto out;
    pb_base64_encode(raw, rawlen, b64);
    *out = b64;
    b64 = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (raw) OPENSSL_cleanse(raw, rawlen);
    free(raw);
    free(b64);
    return rc;
}

static int unseal(const unsigned char key[KEY_LEN], const char *name, const char *b64, char **out, size_t *outlen)
{
    size_t bl = strlen(b64);
    size_t cap = bl / 4 * 3 + 3;
    unsigned char *raw = malloc(cap);
    char *pt = NULL;
    size_t clen = 0;
    int rc = PB_ECRYPTO, outl = 0, fl = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!raw || !ctx) {
        rc = PB_ENOMEM;
        goto out;
    }
    long rl = pb_base64_decode(b64, bl, raw, cap);
    if (rl < NONCE_LEN + TAG_LEN) goto out;
    clen = (size_t)rl - NONCE_LEN - TAG_LEN;
    pt = calloc(1, clen + 1);
    if (!pt) {
        rc = PB_ENOMEM;
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key, raw) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)name, (int)strlen(name)) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)pt, &outl, raw + NONCE_LEN, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + clen) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)pt + outl, &fl) != 1)
        goto out;
    pt[clen] = '\0';
    *out = pt;
    *outlen = clen;
    pt = NULL;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (raw) OPENSSL_cleanse(raw, cap);
    free(raw);
    if (pt) { /* unauthenticated plaintext: wipe all of it */
        OPENSSL_cleanse(pt, clen);
        free(pt);
    }
    return rc;
}

static int name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= PB_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return 0;
    return 1;
}

int pb_vault_put(pb_vault *v, const char *name, const char *secret, size_t len, pb_error *err)
{
    char *b = NULL;
    if (!name_ok(name)) return pb_error_field(err, PB_EINVAL, "name", "invalid secret name");
    if (!secret) return pb_error_field(err, PB_EINVAL, "secret", "no secret");
    if (!len) len = strlen(secret);
    if (len > SECRET_MAX) return pb_error_field(err, PB_ETOOBIG, "secret", "secret too large");
    /* Register before anything can fail and log it. */
    if (memchr(secret, '\0', len) == NULL) {
        char *z = strndup(secret, len);
        if (z) {
            pb_redact_register(z);
            pb_vault_secret_free(z);
        }
    }
    pthread_rwlock_rdlock(&v->mu);
    int rc = seal(v->key, name, (const unsigned char *)secret, len, &b);
    char fp[17];
    memcpy(fp, v->fp, sizeof fp);
    pthread_rwlock_unlock(&v->mu);
    if (rc) return pb_error_set(err, rc, "sealing secret '%s' failed", name);
    rc = pb_as_vault_put(v->db, name, b, fp, pb_now_us(), err);
    free(b);
    return rc;
}

int pb_vault_get(pb_vault *v, const char *name, char **out, size_t *len, pb_error *err)
{
    pb_vault_row row;
    size_t l = 0;
    *out = NULL;
    int rc = pb_as_vault_get(v->db, name, &row, err);
    if (rc) return rc;
    pthread_rwlock_rdlock(&v->mu);
    rc = unseal(v->key, name, row.blob, out, &l);
    pthread_rwlock_unlock(&v->mu);
    free(row.blob);
    if (rc) return pb_error_set(err, rc, "secret '%s' does not decrypt under the current master key", name);
    pb_redact_register(*out);
    if (len) *len = l;
    return 0;
}

void pb_vault_secret_wipe(char *secret, size_t len)
{
    if (secret && len) OPENSSL_cleanse(secret, len);
}

void pb_vault_secret_free_len(char *secret, size_t len)
{
    if (!secret) return;
    OPENSSL_cleanse(secret, len + 1);
    free(secret);
}

void pb_vault_secret_free(char *secret)
{
    if (!secret) return;
    size_t n = strlen(secret) + 1;
#ifdef __GLIBC__
    /* The whole block: bytes past an embedded NUL are part of the secret too. */
    size_t u = malloc_usable_size(secret);
    if (u > n) n = u;
#endif
    OPENSSL_cleanse(secret, n);
    free(secret);
}

int pb_vault_key_owner_ok(unsigned owner, unsigned euid)
{
    return euid == 0 || owner == euid;
}

int pb_vault_delete(pb_vault *v, const char *name, pb_error *err)
{
    return pb_as_vault_delete(v->db, name, err);
}

int pb_vault_list(pb_vault *v, char ***names, size_t *n, pb_error *err)
{
    pb_vault_row *rows = NULL;
    size_t cnt = 0;
    *names = NULL;
    *n = 0;
    int rc = pb_as_vault_list(v->db, &rows, &cnt, err);
    if (rc) return rc;
    char **arr = calloc(cnt ? cnt : 1, sizeof *arr);
    for (size_t i = 0; arr && i < cnt; i++)
        if (!(arr[i] = strdup(rows[i].name))) {
            pb_vault_names_free(arr, i);
            arr = NULL;
        }
    pb_vault_rows_free(rows, cnt);
    if (!arr) return pb_error_set(err, PB_ENOMEM, "out of memory");
    *names = arr;
    *n = cnt;
    return 0;
}

void pb_vault_names_free(char **names, size_t n)
{
    if (!names) return;
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

typedef struct {
    const unsigned char *old_key, *new_key;
} rekey_ctx;

static int rekey_one(const pb_vault_row *row, char **new_blob, void *vctx)
{
    rekey_ctx *c = vctx;
    char *pt = NULL;
    size_t len = 0;
    int rc = unseal(c->old_key, row->name, row->blob, &pt, &len);
    if (rc) return rc;
    rc = seal(c->new_key, row->name, (const unsigned char *)pt, len, new_blob);
    OPENSSL_cleanse(pt, len);
    free(pt);
    return rc;
}

int pb_vault_rotate_master(pb_vault *v, size_t *count, pb_error *err)
{
    unsigned char nk[KEY_LEN];
    char nfp[17], np[1040];
    int rc;
    if (pb_random_bytes(nk, sizeof nk)) return pb_error_set(err, PB_EIO, "no randomness");
    fingerprint(nk, nfp);
    snprintf(np, sizeof np, "%s.new", v->path);
    pthread_rwlock_wrlock(&v->mu);
    /* 1. the new key is durable on disk before any row uses it */
    rc = write_key_file(np, nk, 0, err);
    if (!rc) {
        fsync_dir(np);
        /* 2. every row re-encrypted in one transaction */
        rekey_ctx c = {v->key, nk};
        rc = pb_as_vault_rewrite(v->db, nfp, rekey_one, &c, count, err);
        if (rc) {
            unlink(np);
        } else {
            /* Committed: from here on the store uses the new key, whatever happens to the file
             * (if the rename fails, the next open completes it from KEY.new). */
            memcpy(v->key, nk, KEY_LEN);
            memcpy(v->fp, nfp, sizeof nfp);
            if (rename(np, v->path) != 0)
                rc = pb_error_field(err, PB_EIO, "master_key_file", "re-encrypted, but replacing %s failed: %s",
                                    v->path, strerror(errno));
            else
                fsync_dir(v->path);
        }
    }
    pthread_rwlock_unlock(&v->mu);
    OPENSSL_cleanse(nk, sizeof nk);
    return rc;
}
