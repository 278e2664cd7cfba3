/* apikey: see apikey.h. */
#include "auth/apikey.h"
#include "core/buf.h"
#include "core/util.h"

#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int pb_apikey_generate(char *out, size_t outlen)
{
    unsigned char rnd[64];
    size_t n = 0;
    if (outlen < PB_KEY_LEN + 1) return PB_EINVAL;
    memcpy(out, "pb_", 3);
    /* Rejection sampling: bytes >= 248 (= 4 * 62) are dropped so every character is uniform. */
    while (n < PB_KEY_BODY_LEN) {
        if (pb_random_bytes(rnd, sizeof rnd)) return PB_EIO;
        for (size_t i = 0; i < sizeof rnd && n < PB_KEY_BODY_LEN; i++)
            if (rnd[i] < 248) out[3 + n++] = b62[rnd[i] % 62];
    }
    out[PB_KEY_LEN] = '\0';
    memset(rnd, 0, sizeof rnd);
    return 0;
}

static int is_b62(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int pb_apikey_well_formed(const char *s, size_t len)
{
    if (!s || len != PB_KEY_LEN || memcmp(s, "pb_", 3) != 0) return 0;
    for (size_t i = 3; i < len; i++)
        if (!is_b62((unsigned char)s[i])) return 0;
    return 1;
}

static int trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t l = *n;
    while (l && (*p == ' ' || *p == '\t')) p++, l--;
    while (l && (p[l - 1] == ' ' || p[l - 1] == '\t')) l--;
    *s = p;
    *n = l;
    return l > 0;
}

int pb_apikey_from_headers(const char *x_api_key, const char *authorization, const char **tok, size_t *toklen)
{
    *tok = NULL;
    *toklen = 0;
    if (x_api_key) {
        const char *p = x_api_key;
        size_t n = strlen(p);
        if (trim(&p, &n)) {
            *tok = p;
            *toklen = n;
            return 1;
        }
    }
    if (authorization) {
        const char *p = authorization;
        size_t n = strlen(p);
        if (!trim(&p, &n) || n < 7 || strncasecmp(p, "bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
            return 0;
        p += 7;
        n -= 7;
        if (trim(&p, &n)) {
            *tok = p;
            *toklen = n;
            return 1;
        }
    }
    return 0;
}

void pb_apikey_hash(const char *tok, size_t len, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)tok, len, md);
    pb_hex_encode(md, sizeof md, out);
}

static void fill_secret(pb_key_row *k, const char *key)
{
    pb_apikey_hash(key, strlen(key), k->key_hash);
    memcpy(k->prefix, key, PB_KEY_PREFIX_LEN);
    k->prefix[PB_KEY_PREFIX_LEN] = '\0';
}

int pb_apikey_create(pb_db *db, const pb_key_spec *spec, char *key_out, size_t key_outlen, pb_key_row *row,
                     pb_error *err)
{
    pb_key_row k;
    pb_user_row u;
    pb_scopes sc = 0;
    const char *bad = NULL;
    int role = 0, rc;
    memset(&k, 0, sizeof k);
    if (!spec->user_email || !*spec->user_email) return pb_error_field(err, PB_EINVAL, "user", "a user is required");
    if (pb_scope_parse(spec->scopes, &sc, &bad))
        return pb_error_field(err, PB_EINVAL, "scopes", "unknown scope '%s'", bad ? bad : "");
    if (spec->rate_limit < 0 || spec->rate_limit > 1000000)
        return pb_error_field(err, PB_EINVAL, "rate_limit", "rate limit must be between 1 and 1000000 per minute");
    if (spec->expires_at && spec->expires_at <= pb_now_us())
        return pb_error_field(err, PB_EINVAL, "expires", "expiry is in the past");
    if (spec->project_id && strlen(spec->project_id) >= sizeof k.project_id)
        return pb_error_field(err, PB_EINVAL, "project", "project id too long");
    if ((rc = pb_as_user_get_by_email(db, spec->user_email, &u, err))) {
        if (rc == PB_ENOTFOUND) pb_error_field(err, rc, "user", "no user with that email");
        return rc;
    }
    if (spec->workspace && *spec->workspace) {
        pb_workspace_row w;
        if ((rc = pb_as_workspace_get(db, spec->workspace, &w, err))) return rc;
        rc = pb_as_member_role(db, spec->workspace, u.id, &role, err);
        if (rc == PB_ENOTFOUND)
            return pb_error_field(err, PB_EFORBIDDEN, "workspace", "the user is not a member of '%s'",
                                  spec->workspace);
    } else {
        rc = pb_as_member_max_role(db, u.id, &role, err);
        if (rc == PB_ENOTFOUND)
            return pb_error_field(err, PB_EFORBIDDEN, "user", "the user is not a member of any workspace");
    }
    if (rc) return rc;
    /* Explicitly named scopes may not exceed the role; wildcards are capped at request time. */
    {
        const char *p = spec->scopes;
        while (*p) {
            while (*p == ',' || *p == ' ' || *p == '\t') p++;
            const char *s = p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
            char one[64];
            size_t n = (size_t)(p - s);
            if (n == 0 || n >= sizeof one) continue;
            memcpy(one, s, n);
            one[n] = '\0';
            pb_scopes b = pb_scope_bit(one);
            if (b && !(pb_scope_ceiling(role) & b))
                return pb_error_field(err, PB_EFORBIDDEN, "scopes", "scope %s exceeds the user's role (%d)", one,
                                      role);
        }
    }
    if (pb_uuid4(k.id)) return pb_error_set(err, PB_EIO, "no randomness");
    pb_strlcpy(k.user_id, u.id, sizeof k.user_id);
    pb_strlcpy(k.user_email, u.email, sizeof k.user_email);
    pb_strlcpy(k.name, spec->name ? spec->name : "", sizeof k.name);
    pb_scope_format(sc, k.scopes, sizeof k.scopes);
    pb_strlcpy(k.workspace_slug, spec->workspace ? spec->workspace : "", sizeof k.workspace_slug);
    pb_strlcpy(k.project_id, spec->project_id ? spec->project_id : "", sizeof k.project_id);
    k.rate_limit = spec->rate_limit;
    k.created_at = pb_now_us();
    k.expires_at = spec->expires_at;
    if (pb_apikey_generate(key_out, key_outlen)) return pb_error_set(err, PB_EIO, "no randomness");
    fill_secret(&k, key_out);
    rc = pb_as_key_insert(db, &k, err);
    if (rc) {
        memset(key_out, 0, key_outlen);
        return rc;
    }
    if (row) *row = k;
    return 0;
}

int pb_apikey_rotate(pb_db *db, const char *old_id, int64_t grace_s, char *key_out, size_t key_outlen, pb_key_row *row,
                     pb_error *err)
{
    pb_key_row old, k;
    int rc = pb_as_key_get(db, old_id, &old, err);
    if (rc) return rc;
    k = old;
    if (pb_uuid4(k.id)) return pb_error_set(err, PB_EIO, "no randomness");
    k.created_at = pb_now_us();
    k.revoked_at = 0;
    k.last_used_at = 0;
    k.rotated_to[0] = '\0';
    pb_strlcpy(k.rotated_from, old.id, sizeof k.rotated_from);
    if (pb_apikey_generate(key_out, key_outlen)) return pb_error_set(err, PB_EIO, "no randomness");
    fill_secret(&k, key_out);
    rc = pb_as_key_rotate(db, old_id, &k, k.created_at + grace_s * 1000000, err);
    if (rc) {
        memset(key_out, 0, key_outlen);
        return rc;
    }
    if (row) *row = k;
    return 0;
}

int pb_apikey_parse_expiry(const char *s, int64_t now_us, int64_t *out_us)
{
    int64_t secs = 0;
    if (!s || !*s) return PB_EINVAL;
    if (strcmp(s, "never") == 0) {
        *out_us = 0;
        return 0;
    }
    if (pb_parse_duration_s(s, &secs) == 0 && secs > 0) {
        /* Bounded so the microsecond arithmetic cannot overflow (signed overflow is UB). */
        if (now_us < 0 || secs > (INT64_MAX - now_us) / 1000000) return PB_EINVAL;
        *out_us = now_us + secs * 1000000;
        return 0;
    }
    return pb_time_parse(s, out_us) == 0 ? 0 : PB_EINVAL;
}

const char *pb_apikey_state(const pb_key_row *k, int64_t now)
{
    if (k->revoked_at) return "revoked";
    if (k->expires_at && k->expires_at <= now) return "expired";
    if (k->rotated_to[0]) return "rotated";
    return "active";
}

static void put_time(pb_buf *b, const char *name, int64_t us)
{
    char t[40];
    pb_buf_printf(b, ",\"%s\":", name);
    if (!us) {
        pb_buf_puts(b, "null");
        return;
    }
    pb_time_iso(us, t, sizeof t);
    pb_buf_json_str(b, t);
}

static void put_str(pb_buf *b, const char *name, const char *v, int nullable)
{
    pb_buf_printf(b, ",\"%s\":", name);
    if (nullable && (!v || !*v))
        pb_buf_puts(b, "null");
    else
        pb_buf_json_str(b, v ? v : "");
}

int pb_apikey_row_json(pb_buf *b, const pb_key_row *k, int64_t now)
{
    pb_buf_puts(b, "{\"id\":");
    pb_buf_json_str(b, k->id);
    put_str(b, "name", k->name, 0);
    put_str(b, "prefix", k->prefix, 0);
    put_str(b, "user_id", k->user_id, 0);
    put_str(b, "user_email", k->user_email, 0);
    pb_buf_puts(b, ",\"scopes\":[");
    {
        const char *p = k->scopes;
        int first = 1;
        while (*p) {
            const char *s = p;
            while (*p && *p != ',') p++;
            if (!first) pb_buf_putc(b, ',');
            pb_buf_json_strn(b, s, (size_t)(p - s));
            first = 0;
            if (*p) p++;
        }
    }
    pb_buf_putc(b, ']');
    put_str(b, "workspace", k->workspace_slug, 1);
    put_str(b, "project_id", k->project_id, 1);
    pb_buf_printf(b, ",\"rate_limit\":%d", k->rate_limit);
    put_time(b, "created_at", k->created_at);
    put_time(b, "expires_at", k->expires_at);
    put_time(b, "revoked_at", k->revoked_at);
    put_time(b, "last_used_at", k->last_used_at);
    put_str(b, "rotated_to", k->rotated_to, 1);
    put_str(b, "rotated_from", k->rotated_from, 1);
    put_str(b, "state", pb_apikey_state(k, now), 0);
    return pb_buf_putc(b, '}');
}
