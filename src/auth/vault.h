/* vault: secrets encrypted at rest (AES-256-GCM, OpenSSL EVP) under a 32-byte master key.
 *
 * The master key lives in a file (config master_key_file / PB_MASTER_KEY_FILE) holding 64
 * hex characters (or 32 raw bytes); it must be a regular file readable by nobody but the
 * owner: a key file with group/other permission bits, or owned by another user (unless the
 * process runs as root), is refused (PB_ECONFIG).
 * Each secret is stored by name as base64(nonce12 || ciphertext || tag16) with a fresh
 * random nonce and the name as additional authenticated data, so a row copied under another
 * name does not decrypt. Every secret read or written is registered with the log redactor.
 * Rotation (pb_vault_rotate_master) re-encrypts every row in one transaction and replaces
 * the key file safely (new file written + fsync'd, then renamed over the old one); a crash
 * between the commit and the rename is completed on the next open.
 * Thread-safe; owned by the caller (pb_vault_free). */
#ifndef PB_AUTH_VAULT_H
#define PB_AUTH_VAULT_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>

typedef struct pb_vault pb_vault;

/* Creates a new random master key file (0600, O_EXCL). PB_ECONFLICT if it exists. */
int pb_vault_create_key_file(const char *path, pb_error *err);
/* Opens the vault over a store. The key file must exist (see `planebridge init`). */
int pb_vault_open(pb_db *db, const char *key_file, pb_vault **out, pb_error *err);
void pb_vault_free(pb_vault *v); /* NULL-safe; wipes the key */

/* Stores (insert or replace) a secret of len bytes (len 0 = strlen). */
int pb_vault_put(pb_vault *v, const char *name, const char *secret, size_t len, pb_error *err);
/* *out is a malloc'd NUL-terminated copy (caller wipes and frees: pb_vault_secret_free);
 * PB_ENOTFOUND when absent, PB_ECRYPTO when it does not authenticate. */
int pb_vault_get(pb_vault *v, const char *name, char **out, size_t *len, pb_error *err);
/* Wipes the whole allocation (not only up to a NUL: a secret may contain one) and frees. */
void pb_vault_secret_free(char *secret);
/* The same for a secret whose length is known (pb_vault_get's *len): wipes len + 1 bytes. */
void pb_vault_secret_free_len(char *secret, size_t len);
/* Wipes len bytes of a secret without freeing it. */
void pb_vault_secret_wipe(char *secret, size_t len);
/* 1 when a master key file owned by `owner` may be used by a process running as `euid`:
 * only its own files, except for root (exposed for tests; pb_vault_open applies it). */
int pb_vault_key_owner_ok(unsigned owner, unsigned euid);
int pb_vault_delete(pb_vault *v, const char *name, pb_error *err);
/* Names (malloc'd array of malloc'd strings; free with pb_vault_names_free). */
int pb_vault_list(pb_vault *v, char ***names, size_t *n, pb_error *err);
void pb_vault_names_free(char **names, size_t n);
/* Re-encrypts everything under a new random key and replaces the key file. */
int pb_vault_rotate_master(pb_vault *v, size_t *count, pb_error *err);
/* Hex fingerprint of the current master key (17 bytes). */
void pb_vault_fingerprint(const pb_vault *v, char out[17]);

#endif
