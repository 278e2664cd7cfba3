/* auth_store: every SQL statement of the security core (users, workspaces, members, API
 * keys, usage rows, rate buckets, vault rows, OAuth state). Schema: migrations 0002_auth.
 *
 * Data model (shared with other modules):
 *   - a workspace is a row of work_plane.installations (auth_kind 'none' for a standalone,
 *     local workspace) with a display `name`;
 *   - ops.users(id uuid, email unique lower-case, first/last/display name);
 *   - ops.workspace_members(workspace_slug, user_id, role) with Plane's roles
 *     20 admin, 15 member, 5 guest (PB_ROLE_*);
 *   - ops.api_keys: only the SHA-256 (hex) of a key and a display prefix are stored.
 *
 * Contract: functions take a pb_db (they acquire and release a connection themselves) unless
 * they take a pb_conn (then they run inside the caller's transaction). Row structs are plain
 * value types with fixed-size fields; lists are malloc'd arrays the caller free()s.
 * Missing rows return PB_ENOTFOUND; duplicates PB_ECONFLICT. */
#ifndef PB_STORE_AUTH_STORE_H
#define PB_STORE_AUTH_STORE_H

#include "core/err.h"
#include "store/db.h"

#include <stddef.h>
#include <stdint.h>

#define PB_ROLE_ADMIN 20
#define PB_ROLE_MEMBER 15
#define PB_ROLE_GUEST 5

#define PB_SLUG_MAX 128
#define PB_EMAIL_MAX 256
#define PB_NAME_MAX 256
#define PB_ID_MAX 64

typedef struct pb_workspace_row {
    char id[PB_ID_MAX];
    char slug[PB_SLUG_MAX];
    char name[PB_NAME_MAX];
    char auth_kind[16];
    int64_t created_at;
} pb_workspace_row;

typedef struct pb_user_row {
    char id[PB_ID_MAX];
    char email[PB_EMAIL_MAX];
    char first_name[PB_NAME_MAX];
    char last_name[PB_NAME_MAX];
    char display_name[PB_NAME_MAX];
    int64_t created_at, updated_at;
} pb_user_row;

typedef struct pb_member_row {
    pb_user_row user;
    char workspace_slug[PB_SLUG_MAX];
    int role;
    int64_t created_at;
} pb_member_row;

#define PB_SCOPES_TEXT_MAX 512

typedef struct pb_key_row {
    char id[PB_ID_MAX];
    char user_id[PB_ID_MAX];
    char user_email[PB_EMAIL_MAX]; /* filled by the getters (join), ignored on insert */
    char name[PB_NAME_MAX];
    char prefix[16];               /* "pb_AbCdEf" shown in listings */
    char key_hash[65];             /* hex SHA-256 of the whole key */
    char scopes[PB_SCOPES_TEXT_MAX]; /* normalized, comma-separated */
    char workspace_slug[PB_SLUG_MAX]; /* "" = every workspace of the user */
    char project_id[PB_ID_MAX];    /* "" = any project */
    int rate_limit;                /* per minute; 0 = configured default */
    int64_t created_at;
    int64_t expires_at;            /* 0 = never */
    int64_t revoked_at;            /* 0 = active */
    char rotated_to[PB_ID_MAX];    /* key that replaced this one, "" if none */
    char rotated_from[PB_ID_MAX];  /* key this one replaced, "" if none */
    int64_t last_used_at;          /* 0 = never */
} pb_key_row;

typedef struct pb_usage_row {
    char key_id[PB_ID_MAX];
    int64_t at;           /* microseconds UTC */
    char method[8];
    char route[160];      /* the route pattern, not the concrete path */
    int status;
    int64_t latency_us;
    char user_agent[160];
    char client_ip[48];
} pb_usage_row;

typedef struct pb_key_stats {
    int64_t last_used_at; /* 0 = never */
    int64_t calls_1h, calls_24h;
    int64_t errors_24h;   /* status >= 400 */
    double error_rate_24h;/* errors_24h / calls_24h, 0 when no calls */
    double mean_latency_us_24h;
    int64_t p95_latency_us_24h;
} pb_key_stats;

typedef struct pb_vault_row {
    char name[PB_NAME_MAX];
    char *blob;         /* base64(nonce || ciphertext || tag), malloc'd */
    char key_fp[17];    /* master key fingerprint (hex of 8 bytes of SHA-256(key)) */
    int64_t created_at, updated_at;
} pb_vault_row;

/* --- workspaces, users, members --- */
int pb_as_workspace_create(pb_db *db, const char *slug, const char *name, pb_workspace_row *out,
                           pb_error *err);
int pb_as_workspace_get(pb_db *db, const char *slug, pb_workspace_row *out, pb_error *err);
int pb_as_workspace_list(pb_db *db, pb_workspace_row **out, size_t *n, pb_error *err);

/* email is stored lower-case; first/last/display may be NULL (display defaults to the
 * local part of the email). */
int pb_as_user_create(pb_db *db, const char *email, const char *first_name, const char *last_name,
                      const char *display_name, pb_user_row *out, pb_error *err);
int pb_as_user_get(pb_db *db, const char *id, pb_user_row *out, pb_error *err);
int pb_as_user_get_by_email(pb_db *db, const char *email, pb_user_row *out, pb_error *err);

/* Inserts or updates the member's role. */
int pb_as_member_set(pb_db *db, const char *slug, const char *user_id, int role, pb_error *err);
int pb_as_member_role(pb_db *db, const char *slug, const char *user_id, int *role, pb_error *err);
/* Highest role of the user in any workspace (PB_ENOTFOUND when in none). */
int pb_as_member_max_role(pb_db *db, const char *user_id, int *role, pb_error *err);
int pb_as_member_list(pb_db *db, const char *slug, pb_member_row **out, size_t *n, pb_error *err);
int pb_as_member_remove(pb_db *db, const char *slug, const char *user_id, pb_error *err);
/* *yes = 1 when admin_id is an admin (20) of a workspace (of `slug`, when non-NULL/"") in
 * which user_id is a member. */
int pb_as_user_admin_over(pb_db *db, const char *admin_id, const char *user_id, const char *slug, int *yes,
                          pb_error *err);

/* --- API keys --- */
int pb_as_key_insert(pb_db *db, const pb_key_row *k, pb_error *err);
int pb_as_key_get(pb_db *db, const char *id, pb_key_row *out, pb_error *err);
/* By hex SHA-256; returns the row whatever its state (caller checks expiry/revocation). */
int pb_as_key_get_by_hash(pb_db *db, const char *hash_hex, pb_key_row *out, pb_error *err);
/* user_id NULL = all keys; admin_user_id non-NULL = only keys of users who share a workspace
 * in which admin_user_id is an admin (plus admin_user_id's own keys). */
int pb_as_key_list(pb_db *db, const char *user_id, const char *admin_user_id, pb_key_row **out,
                   size_t *n, pb_error *err);
int pb_as_key_revoke(pb_db *db, const char *id, int64_t now, pb_error *err);
/* One transaction: inserts `fresh` (rotated_from = old_id) and sets the old key's
 * rotated_to and expires_at = min(expires_at, grace_until). PB_ESTATE if the old key is
 * revoked, expired or already rotated. */
int pb_as_key_rotate(pb_db *db, const char *old_id, const pb_key_row *fresh, int64_t grace_until,
                     pb_error *err);

/* --- usage --- */
int pb_as_usage_insert(pb_db *db, const pb_usage_row *rows, size_t n, pb_error *err);
int pb_as_usage_prune(pb_db *db, int64_t before_us, int64_t *deleted, pb_error *err);
int pb_as_usage_stats(pb_db *db, const char *key_id, int64_t now, pb_key_stats *out, pb_error *err);

/* --- rate buckets (shared across processes) ---
 * Atomically refills the key's bucket (capacity `limit` tokens, `limit` per minute), takes
 * `take` tokens (may go negative: the debt is what other processes over-admitted), and
 * returns the remaining micro-tokens (1 token = 1e6). */
int pb_as_rate_take(pb_db *db, const char *key_id, int limit, int64_t take, int64_t now_us,
                    int64_t *remaining_utokens, pb_error *err);

/* --- vault rows --- */
int pb_as_vault_put(pb_db *db, const char *name, const char *blob, const char *key_fp, int64_t now,
                    pb_error *err);
int pb_as_vault_get(pb_db *db, const char *name, pb_vault_row *out, pb_error *err); /* out->blob malloc'd */
int pb_as_vault_delete(pb_db *db, const char *name, pb_error *err);
/* Names only (blob NULL). */
int pb_as_vault_list(pb_db *db, pb_vault_row **out, size_t *n, pb_error *err);
/* Any row encrypted under key_fp? (1/0) */
int pb_as_vault_has_fp(pb_db *db, const char *key_fp, int *yes, pb_error *err);
/* Re-encrypts every row in ONE write transaction: fn gets each row's blob and returns a new
 * malloc'd blob (or a negative code, which rolls everything back). */
typedef int (*pb_as_vault_rewrite_fn)(const pb_vault_row *row, char **new_blob, void *ctx);
int pb_as_vault_rewrite(pb_db *db, const char *new_fp, pb_as_vault_rewrite_fn fn, void *ctx,
                        size_t *count, pb_error *err);
void pb_vault_rows_free(pb_vault_row *rows, size_t n);

/* --- tokens_ref: workspace + user + purpose -> vault name --- */
int pb_as_token_ref_set(pb_db *db, const char *slug, const char *user_ref, const char *purpose,
                        const char *vault_name, pb_error *err);
/* *vault_name is malloc'd. */
int pb_as_token_ref_get(pb_db *db, const char *slug, const char *user_ref, const char *purpose,
                        char **vault_name, pb_error *err);

/* --- OAuth authorization state (single use, expiring) --- */
typedef struct pb_oauth_state_row {
    char state_hash[65]; /* hex SHA-256 of the state value */
    char app[PB_NAME_MAX];
    char workspace_slug[PB_SLUG_MAX];
    char verifier[128];  /* PKCE code_verifier */
    char redirect_uri[512];
    int64_t expires_at;
    char user_id[PB_ID_MAX]; /* the user who started the authorization (migration 0010) */
} pb_oauth_state_row;
int pb_as_oauth_state_put(pb_db *db, const pb_oauth_state_row *s, pb_error *err);
/* Deletes and returns the row (single use). PB_ENOTFOUND if absent, PB_EEXPIRED if expired. */
int pb_as_oauth_state_take(pb_db *db, const char *state_hash, int64_t now, pb_oauth_state_row *out,
                           pb_error *err);

#endif
