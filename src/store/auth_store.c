/* auth_store: SQL of the security core. See auth_store.h. */
#include "store/auth_store.h"
#include "core/util.h"
#include "store/rows.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cp(char *dst, size_t n, const char *src)
{
    pb_strlcpy(dst, src ? src : "", n);
}

static void lower_copy(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++) dst[i] = (char)tolower((unsigned char)src[i]);
    if (n) dst[i] = '\0';
}

/* exec with a pooled connection */
static int exec1(pb_db *db, const char *sql, const pb_val *p, int np, int64_t *changes, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_exec(c, sql, p, np, changes, err);
    pb_db_release(db, c);
    return rc;
}

/* Runs a query with a pooled connection and reads every row through fill (rows.h) into *out
 * (malloc'd, caller frees) and *n; read_msg names the rows in a read error. */
static int list_rows(pb_db *db, const char *sql, const pb_val *p, int np, size_t elem, pb_store_fill_fn fill,
                     void **out, size_t *n, const char *read_msg, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    *out = NULL;
    *n = 0;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_query(c, sql, p, np, &r, err);
    if (!rc) rc = pb_store_read_all(r, elem, 8, fill, NULL, NULL, out, n, "out of memory", read_msg, err);
    pb_db_release(db, c);
    return rc;
}

/* ---------------- workspaces ---------------- */

#define WS_COLS "id, workspace_slug, name, auth_kind, created_at"

/* Reads a workspace row (a pb_store_fill_fn). */
static int ws_from_row(pb_rows *r, void *rec, void *ctx)
{
    pb_workspace_row *w = rec;
    (void)ctx;
    memset(w, 0, sizeof *w);
    cp(w->id, sizeof w->id, pb_rows_text(r, 0));
    cp(w->slug, sizeof w->slug, pb_rows_text(r, 1));
    cp(w->name, sizeof w->name, pb_rows_text(r, 2));
    cp(w->auth_kind, sizeof w->auth_kind, pb_rows_text(r, 3));
    w->created_at = pb_rows_int(r, 4);
    return 0;
}

static int slug_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= PB_SLUG_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || ch == '-' || ch == '_')) return 0;
    }
    return 1;
}

int pb_as_workspace_create(pb_db *db, const char *slug, const char *name, pb_workspace_row *out,
                           pb_error *err)
{
    char id[37], space[37];
    if (!slug_ok(slug))
        return pb_error_field(err, PB_EINVAL, "slug", "workspace slug must be 1-127 letters, digits, '-' or '_'");
    if (pb_uuid4(id) || pb_uuid4(space)) return pb_error_set(err, PB_EIO, "no randomness");
    int64_t now = pb_now_us();
    const char *nm = name && *name ? name : slug;
    pb_val p[] = {PB_TEXT(id), PB_TEXT(slug), PB_TEXT(space), PB_TEXT(nm), PB_INT(now)};
    int rc = exec1(db,
                   "INSERT INTO work_plane.installations (id, workspace_slug, space_id, auth_kind, name, "
                   "created_at, updated_at) VALUES ($1, $2, $3, 'none', $4, $5, $5)",
                   p, 5, NULL, err);
    if (rc == PB_ECONFLICT) return pb_error_field(err, rc, "slug", "workspace '%s' already exists", slug);
    if (rc) return rc;
    if (out) {
        memset(out, 0, sizeof *out);
        cp(out->id, sizeof out->id, id);
        cp(out->slug, sizeof out->slug, slug);
        cp(out->name, sizeof out->name, nm);
        cp(out->auth_kind, sizeof out->auth_kind, "none");
        out->created_at = now;
    }
    return 0;
}

int pb_as_workspace_get(pb_db *db, const char *slug, pb_workspace_row *out, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(slug)};
    int rc = pb_db_acquire(db, &c, err);
    if (!rc)
        rc = pb_conn_query(c, "SELECT " WS_COLS " FROM work_plane.installations WHERE workspace_slug = $1",
                           p, 1, &r, err);
    if (!rc) {
        int n = pb_rows_next(r);
        if (n == 1)
            ws_from_row(r, out, NULL);
        else
            rc = n < 0 ? pb_error_set(err, PB_ESTORE, "reading workspace failed")
                       : pb_error_set(err, PB_ENOTFOUND, "no workspace '%s'", slug);
    }
    pb_rows_free(r);
    pb_db_release(db, c);
    return rc;
}

int pb_as_workspace_list(pb_db *db, pb_workspace_row **out, size_t *n, pb_error *err)
{
    void *arr = NULL;
    int rc = list_rows(db, "SELECT " WS_COLS " FROM work_plane.installations ORDER BY workspace_slug", NULL,
                       0, sizeof **out, ws_from_row, &arr, n, "reading workspaces failed", err);
    *out = arr;
    return rc;
}

/* ---------------- users ---------------- */

#define USER_COLS "u.id, u.email, u.first_name, u.last_name, u.display_name, u.created_at, u.updated_at"

static void user_from_row(pb_rows *r, int off, pb_user_row *u)
{
    memset(u, 0, sizeof *u);
    cp(u->id, sizeof u->id, pb_rows_text(r, off + 0));
    cp(u->email, sizeof u->email, pb_rows_text(r, off + 1));
    cp(u->first_name, sizeof u->first_name, pb_rows_text(r, off + 2));
    cp(u->last_name, sizeof u->last_name, pb_rows_text(r, off + 3));
    cp(u->display_name, sizeof u->display_name, pb_rows_text(r, off + 4));
    u->created_at = pb_rows_int(r, off + 5);
    u->updated_at = pb_rows_int(r, off + 6);
}

static int email_ok(const char *e)
{
    size_t n = e ? strlen(e) : 0;
    const char *at = e ? strchr(e, '@') : NULL;
    if (n < 3 || n >= PB_EMAIL_MAX || !at || at == e || !at[1] || strchr(at + 1, '@')) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)e[i] <= ' ' || e[i] == '"' || e[i] == '\\') return 0;
    return 1;
}

int pb_as_user_create(pb_db *db, const char *email, const char *first_name, const char *last_name,
                      const char *display_name, pb_user_row *out, pb_error *err)
{
    pb_user_row u;
    memset(&u, 0, sizeof u);
    if (!email_ok(email)) return pb_error_field(err, PB_EINVAL, "email", "not a valid email address");
    if (pb_uuid4(u.id)) return pb_error_set(err, PB_EIO, "no randomness");
    lower_copy(u.email, sizeof u.email, email);
    cp(u.first_name, sizeof u.first_name, first_name);
    cp(u.last_name, sizeof u.last_name, last_name);
    if (display_name && *display_name) {
        cp(u.display_name, sizeof u.display_name, display_name);
    } else {
        cp(u.display_name, sizeof u.display_name, u.email);
        char *at = strchr(u.display_name, '@');
        if (at) *at = '\0';
    }
    u.created_at = u.updated_at = pb_now_us();
    pb_val p[] = {PB_TEXT(u.id), PB_TEXT(u.email), PB_TEXT(u.first_name), PB_TEXT(u.last_name),
                  PB_TEXT(u.display_name), PB_INT(u.created_at)};
    int rc = exec1(db,
                   "INSERT INTO ops.users (id, email, first_name, last_name, display_name, created_at, "
                   "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
                   p, 6, NULL, err);
    if (rc == PB_ECONFLICT) return pb_error_field(err, rc, "email", "a user with this email already exists");
    if (!rc && out) *out = u;
    return rc;
}

static int user_get(pb_db *db, const char *sql, const char *arg, pb_user_row *out, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(arg)};
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_query(c, sql, p, 1, &r, err);
    if (!rc) {
        int n = pb_rows_next(r);
        if (n == 1)
            user_from_row(r, 0, out);
        else
            rc = n < 0 ? pb_error_set(err, PB_ESTORE, "reading user failed")
                       : pb_error_set(err, PB_ENOTFOUND, "no such user");
    }
    pb_rows_free(r);
    pb_db_release(db, c);
    return rc;
}

int pb_as_user_get(pb_db *db, const char *id, pb_user_row *out, pb_error *err)
{
    return user_get(db, "SELECT " USER_COLS " FROM ops.users u WHERE u.id = $1", id, out, err);
}

int pb_as_user_get_by_email(pb_db *db, const char *email, pb_user_row *out, pb_error *err)
{
    char low[PB_EMAIL_MAX];
    if (!email || strlen(email) >= sizeof low) return pb_error_set(err, PB_ENOTFOUND, "no such user");
    lower_copy(low, sizeof low, email);
    return user_get(db, "SELECT " USER_COLS " FROM ops.users u WHERE u.email = $1", low, out, err);
}

/* ---------------- members ---------------- */

static int role_ok(int role)
{
    return role == PB_ROLE_ADMIN || role == PB_ROLE_MEMBER || role == PB_ROLE_GUEST;
}

int pb_as_member_set(pb_db *db, const char *slug, const char *user_id, int role, pb_error *err)
{
    if (!role_ok(role)) return pb_error_field(err, PB_EINVAL, "role", "role must be 20, 15 or 5");
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(user_id), PB_INT(role), PB_INT(pb_now_us())};
    return exec1(db,
                 "INSERT INTO ops.workspace_members (workspace_slug, user_id, role, created_at) "
                 "VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_slug, user_id) DO UPDATE SET role = "
                 "excluded.role",
                 p, 4, NULL, err);
}

static int query_int1(pb_db *db, const char *sql, const pb_val *p, int np, int64_t *out, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_query_int(c, sql, p, np, out, err);
    pb_db_release(db, c);
    return rc;
}

int pb_as_member_role(pb_db *db, const char *slug, const char *user_id, int *role, pb_error *err)
{
    int64_t v = 0;
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(user_id)};
    int rc = query_int1(db, "SELECT role FROM ops.workspace_members WHERE workspace_slug = $1 AND user_id = $2",
                        p, 2, &v, err);
    if (rc == PB_ENOTFOUND) return pb_error_set(err, rc, "not a member of the workspace");
    if (!rc) *role = (int)v;
    return rc;
}

int pb_as_member_max_role(pb_db *db, const char *user_id, int *role, pb_error *err)
{
    int64_t v = 0;
    pb_val p[] = {PB_TEXT(user_id)};
    int rc = query_int1(db, "SELECT COALESCE(MAX(role), 0) FROM ops.workspace_members WHERE user_id = $1", p,
                        1, &v, err);
    if (!rc && v == 0) rc = pb_error_set(err, PB_ENOTFOUND, "not a member of any workspace");
    if (!rc) *role = (int)v;
    return rc;
}

static int member_fill(pb_rows *r, void *rec, void *ctx)
{
    pb_member_row *m = rec;
    (void)ctx;
    user_from_row(r, 0, &m->user);
    cp(m->workspace_slug, sizeof m->workspace_slug, pb_rows_text(r, 7));
    m->role = (int)pb_rows_int(r, 8);
    m->created_at = pb_rows_int(r, 9);
    return 0;
}

int pb_as_member_list(pb_db *db, const char *slug, pb_member_row **out, size_t *n, pb_error *err)
{
    pb_val p[] = {PB_TEXT(slug)};
    void *arr = NULL;
    int rc = list_rows(db,
                       "SELECT " USER_COLS ", m.workspace_slug, m.role, m.created_at FROM "
                       "ops.workspace_members m JOIN ops.users u ON u.id = m.user_id "
                       "WHERE m.workspace_slug = $1 ORDER BY m.created_at, u.email",
                       p, 1, sizeof **out, member_fill, &arr, n, "reading members failed", err);
    *out = arr;
    return rc;
}

int pb_as_member_remove(pb_db *db, const char *slug, const char *user_id, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(user_id)};
    int rc = exec1(db, "DELETE FROM ops.workspace_members WHERE workspace_slug = $1 AND user_id = $2", p, 2,
                   &ch, err);
    if (!rc && ch == 0) rc = pb_error_set(err, PB_ENOTFOUND, "not a member of the workspace");
    return rc;
}

int pb_as_user_admin_over(pb_db *db, const char *admin_id, const char *user_id, const char *slug, int *yes,
                          pb_error *err)
{
    int64_t v = 0;
    int rc;
    *yes = 0;
    if (slug && *slug) {
        pb_val p[] = {PB_TEXT(admin_id), PB_TEXT(user_id), PB_TEXT(slug)};
        rc = query_int1(db,
                        "SELECT COUNT(*) FROM ops.workspace_members a JOIN ops.workspace_members m ON "
                        "m.workspace_slug = a.workspace_slug WHERE a.user_id = $1 AND a.role = 20 AND "
                        "m.user_id = $2 AND a.workspace_slug = $3",
                        p, 3, &v, err);
    } else {
        pb_val p[] = {PB_TEXT(admin_id), PB_TEXT(user_id)};
        rc = query_int1(db,
                        "SELECT COUNT(*) FROM ops.workspace_members a JOIN ops.workspace_members m ON "
                        "m.workspace_slug = a.workspace_slug WHERE a.user_id = $1 AND a.role = 20 AND "
                        "m.user_id = $2",
                        p, 2, &v, err);
    }
    if (!rc) *yes = v > 0;
    return rc;
}

/* ---------------- API keys ---------------- */

#define KEY_COLS                                                                                  \
    "k.id, k.user_id, u.email, k.name, k.prefix, k.key_hash, k.scopes, k.workspace_slug, "       \
    "k.project_id, k.rate_limit, k.created_at, k.expires_at, k.revoked_at, k.rotated_to, "       \
    "k.rotated_from, k.last_used_at"
#define KEY_FROM " FROM ops.api_keys k LEFT JOIN ops.users u ON u.id = k.user_id"

/* Reads an API key row (a pb_store_fill_fn). */
static int key_from_row(pb_rows *r, void *rec, void *ctx)
{
    pb_key_row *k = rec;
    (void)ctx;
    memset(k, 0, sizeof *k);
    cp(k->id, sizeof k->id, pb_rows_text(r, 0));
    cp(k->user_id, sizeof k->user_id, pb_rows_text(r, 1));
    cp(k->user_email, sizeof k->user_email, pb_rows_text(r, 2));
    cp(k->name, sizeof k->name, pb_rows_text(r, 3));
    cp(k->prefix, sizeof k->prefix, pb_rows_text(r, 4));
    cp(k->key_hash, sizeof k->key_hash, pb_rows_text(r, 5));
    cp(k->scopes, sizeof k->scopes, pb_rows_text(r, 6));
    cp(k->workspace_slug, sizeof k->workspace_slug, pb_rows_text(r, 7));
    cp(k->project_id, sizeof k->project_id, pb_rows_text(r, 8));
    k->rate_limit = (int)pb_rows_int(r, 9);
    k->created_at = pb_rows_int(r, 10);
    k->expires_at = pb_rows_isnull(r, 11) ? 0 : pb_rows_int(r, 11);
    k->revoked_at = pb_rows_isnull(r, 12) ? 0 : pb_rows_int(r, 12);
    cp(k->rotated_to, sizeof k->rotated_to, pb_rows_text(r, 13));
    cp(k->rotated_from, sizeof k->rotated_from, pb_rows_text(r, 14));
    k->last_used_at = pb_rows_isnull(r, 15) ? 0 : pb_rows_int(r, 15);
    return 0;
}

static pb_val opt_int(int64_t v)
{
    return v ? PB_INT(v) : PB_NULL;
}

static pb_val opt_text(const char *s)
{
    return s && *s ? PB_TEXT(s) : PB_NULL;
}

static int key_insert_conn(pb_conn *c, const pb_key_row *k, pb_error *err)
{
    pb_val p[] = {PB_TEXT(k->id),           PB_TEXT(k->user_id),        PB_TEXT(k->name),
                  PB_TEXT(k->prefix),       PB_TEXT(k->key_hash),       PB_TEXT(k->scopes),
                  PB_TEXT(k->workspace_slug), PB_TEXT(k->project_id),   PB_INT(k->rate_limit),
                  PB_INT(k->created_at),    opt_int(k->expires_at),     opt_text(k->rotated_from)};
    return pb_conn_exec(c,
                        "INSERT INTO ops.api_keys (id, user_id, name, prefix, key_hash, scopes, "
                        "workspace_slug, project_id, rate_limit, created_at, expires_at, rotated_from) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        p, 12, NULL, err);
}

int pb_as_key_insert(pb_db *db, const pb_key_row *k, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = key_insert_conn(c, k, err);
    pb_db_release(db, c);
    return rc;
}

static int key_get_conn(pb_conn *c, const char *where, const char *arg, pb_key_row *out, pb_error *err)
{
    char sql[1024];
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(arg)};
    snprintf(sql, sizeof sql, "SELECT " KEY_COLS KEY_FROM " WHERE %s", where);
    int rc = pb_conn_query(c, sql, p, 1, &r, err);
    if (!rc) {
        int n = pb_rows_next(r);
        if (n == 1)
            key_from_row(r, out, NULL);
        else
            rc = n < 0 ? pb_error_set(err, PB_ESTORE, "reading key failed")
                       : pb_error_set(err, PB_ENOTFOUND, "no such key");
    }
    pb_rows_free(r);
    return rc;
}

static int key_get(pb_db *db, const char *where, const char *arg, pb_key_row *out, pb_error *err)
{
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = key_get_conn(c, where, arg, out, err);
    pb_db_release(db, c);
    return rc;
}

int pb_as_key_get(pb_db *db, const char *id, pb_key_row *out, pb_error *err)
{
    return key_get(db, "k.id = $1", id, out, err);
}

int pb_as_key_get_by_hash(pb_db *db, const char *hash_hex, pb_key_row *out, pb_error *err)
{
    return key_get(db, "k.key_hash = $1", hash_hex, out, err);
}

int pb_as_key_list(pb_db *db, const char *user_id, const char *admin_user_id, pb_key_row **out, size_t *n,
                   pb_error *err)
{
    pb_val p[2];
    int np = 0;
    char sql[1400];
    const char *w1 = "1 = 1", *w2 = "1 = 1";
    if (user_id) {
        p[np++] = PB_TEXT(user_id);
        w1 = np == 1 ? "k.user_id = $1" : "k.user_id = $2";
    }
    if (admin_user_id) {
        p[np++] = PB_TEXT(admin_user_id);
        w2 = np == 1 ? "(k.user_id = $1 OR k.user_id IN (SELECT m.user_id FROM ops.workspace_members m "
                       "JOIN ops.workspace_members a ON a.workspace_slug = m.workspace_slug "
                       "WHERE a.user_id = $1 AND a.role = 20))"
                     : "(k.user_id = $2 OR k.user_id IN (SELECT m.user_id FROM ops.workspace_members m "
                       "JOIN ops.workspace_members a ON a.workspace_slug = m.workspace_slug "
                       "WHERE a.user_id = $2 AND a.role = 20))";
    }
    snprintf(sql, sizeof sql, "SELECT " KEY_COLS KEY_FROM " WHERE %s AND %s ORDER BY k.created_at, k.id", w1,
             w2);
    void *arr = NULL;
    int rc = list_rows(db, sql, p, np, sizeof **out, key_from_row, &arr, n, "reading keys failed", err);
    *out = arr;
    return rc;
}

int pb_as_key_revoke(pb_db *db, const char *id, int64_t now, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(id), PB_INT(now)};
    int rc = exec1(db, "UPDATE ops.api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", p, 2, &ch,
                   err);
    if (!rc && ch == 0) {
        pb_key_row k;
        rc = pb_as_key_get(db, id, &k, err);
        if (!rc) rc = pb_error_set(err, PB_ESTATE, "key already revoked");
    }
    return rc;
}

int pb_as_key_rotate(pb_db *db, const char *old_id, const pb_key_row *fresh, int64_t grace_until, pb_error *err)
{
    pb_conn *c = NULL;
    pb_key_row old;
    int64_t now = pb_now_us();
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc) rc = key_get_conn(c, "k.id = $1", old_id, &old, err);
    if (!rc && old.revoked_at) rc = pb_error_set(err, PB_ESTATE, "key is revoked");
    if (!rc && old.expires_at && old.expires_at <= now) rc = pb_error_set(err, PB_ESTATE, "key has expired");
    if (!rc && old.rotated_to[0]) rc = pb_error_set(err, PB_ESTATE, "key was already rotated");
    if (!rc) rc = key_insert_conn(c, fresh, err);
    if (!rc) {
        int64_t exp = old.expires_at && old.expires_at < grace_until ? old.expires_at : grace_until;
        pb_val p[] = {PB_TEXT(old_id), PB_TEXT(fresh->id), PB_INT(exp)};
        rc = pb_conn_exec(c, "UPDATE ops.api_keys SET rotated_to = $2, expires_at = $3 WHERE id = $1", p, 3, NULL,
                          err);
    }
    if (!rc)
        rc = pb_conn_commit(c, err);
    else if (c)
        pb_conn_rollback(c);
    pb_db_release(db, c);
    return rc;
}

/* ---------------- usage ---------------- */

static char *sqls_ready[4];
static char *usage_sql(size_t k);
static void usage_sql_init(void)
{
    static const size_t chunks[] = {64, 16, 4, 1};
    for (int i = 0; i < 4; i++) sqls_ready[i] = usage_sql(chunks[i]);
}

/* Multi-row INSERT text for k rows ("($1..$8), ($9..$16), ..."); one prepared statement
 * per chunk size, cached by the driver. Chunks of 64/16/4/1 rows: a few statements per
 * batch instead of one per row (the per-row cost dominated the usage log). */
static char *usage_sql(size_t k)
{
    static const char head[] =
        "INSERT INTO ops.api_usage (key_id, at, method, route, status, latency_us, user_agent, client_ip) VALUES ";
    size_t cap = sizeof head + k * 64;
    char *sql = malloc(cap);
    if (!sql) return NULL;
    size_t len = pb_strlcpy(sql, head, cap);
    for (size_t r = 0; r < k; r++) {
        size_t b = r * 8;
        len += (size_t)snprintf(sql + len, cap - len, "%s($%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu, $%zu)",
                                r ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8);
    }
    return sql;
}

int pb_as_usage_insert(pb_db *db, const pb_usage_row *rows, size_t n, pb_error *err)
{
    static const size_t chunks[] = {64, 16, 4, 1};
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pb_conn *c = NULL;
    pb_val *p = NULL;
    if (n == 0) return 0;
    pthread_once(&once, usage_sql_init);
    for (int i = 0; i < 4; i++)
        if (!sqls_ready[i]) return pb_error_set(err, PB_ENOMEM, "out of memory");
    p = malloc(64 * 8 * sizeof *p);
    if (!p) return pb_error_set(err, PB_ENOMEM, "out of memory");
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    size_t i = 0;
    for (int ci = 0; !rc && ci < 4; ci++) {
        size_t k = chunks[ci];
        while (!rc && n - i >= k) {
            for (size_t r = 0; r < k; r++) {
                const pb_usage_row *u = &rows[i + r];
                pb_val *q = p + r * 8;
                q[0] = PB_TEXT(u->key_id);
                q[1] = PB_INT(u->at);
                q[2] = PB_TEXT(u->method);
                q[3] = PB_TEXT(u->route);
                q[4] = PB_INT(u->status);
                q[5] = PB_INT(u->latency_us);
                q[6] = PB_TEXT(u->user_agent);
                q[7] = PB_TEXT(u->client_ip);
            }
            rc = pb_conn_exec(c, sqls_ready[ci], p, (int)(k * 8), NULL, err);
            i += k;
        }
    }
    free(p);
    /* last_used_at: once per distinct key of the batch, with its latest time (rows are
     * time-ordered, so walk backwards and skip keys already seen). */
    const char *seen[64];
    size_t nseen = 0;
    for (size_t r = n; !rc && r-- > 0;) {
        int dup = 0;
        for (size_t j = 0; j < nseen && !dup; j++) dup = strcmp(seen[j], rows[r].key_id) == 0;
        if (dup) continue;
        if (nseen < sizeof seen / sizeof seen[0]) seen[nseen++] = rows[r].key_id;
        pb_val q[] = {PB_TEXT(rows[r].key_id), PB_INT(rows[r].at)};
        rc = pb_conn_exec(c,
                          "UPDATE ops.api_keys SET last_used_at = $2 WHERE id = $1 AND "
                          "(last_used_at IS NULL OR last_used_at < $2)",
                          q, 2, NULL, err);
    }
    if (!rc)
        rc = pb_conn_commit(c, err);
    else if (c)
        pb_conn_rollback(c);
    pb_db_release(db, c);
    return rc;
}

int pb_as_usage_prune(pb_db *db, int64_t before_us, int64_t *deleted, pb_error *err)
{
    /* Key by key through the (key_id, at) index: there is deliberately no index on `at`
     * alone (see 0002_auth.sql). Usage rows always belong to a key row (keys are revoked,
     * never deleted). */
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    char (*ids)[PB_ID_MAX] = NULL;
    size_t n = 0, cap = 0;
    int64_t total = 0;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_query(c, "SELECT id FROM ops.api_keys", NULL, 0, &r, err);
    while (!rc) {
        int k = pb_rows_next(r);
        if (k <= 0) {
            if (k < 0) rc = pb_error_set(err, PB_ESTORE, "reading keys failed");
            break;
        }
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char(*na)[PB_ID_MAX] = realloc(ids, nc * sizeof *na);
            if (!na) {
                rc = pb_error_set(err, PB_ENOMEM, "out of memory");
                break;
            }
            ids = na;
            cap = nc;
        }
        cp(ids[n++], PB_ID_MAX, pb_rows_text(r, 0));
    }
    pb_rows_free(r);
    for (size_t i = 0; !rc && i < n; i++) {
        int64_t ch = 0;
        pb_val p[] = {PB_TEXT(ids[i]), PB_INT(before_us)};
        rc = pb_conn_exec(c, "DELETE FROM ops.api_usage WHERE key_id = $1 AND at < $2", p, 2, &ch, err);
        total += ch;
    }
    pb_db_release(db, c);
    free(ids);
    if (deleted) *deleted = total;
    return rc;
}

int pb_as_usage_stats(pb_db *db, const char *key_id, int64_t now, pb_key_stats *out, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    int64_t day = now - 86400LL * 1000000, hour = now - 3600LL * 1000000;
    memset(out, 0, sizeof *out);
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) {
        pb_val p[] = {PB_TEXT(key_id), PB_INT(day)};
        rc = pb_conn_query(c,
                           "SELECT COUNT(*), CAST(COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0) AS "
                           "BIGINT), CAST(COALESCE(SUM(latency_us), 0) AS BIGINT) FROM ops.api_usage "
                           "WHERE key_id = $1 AND at >= $2",
                           p, 2, &r, err);
        if (!rc && pb_rows_next(r) == 1) {
            out->calls_24h = pb_rows_int(r, 0);
            out->errors_24h = pb_rows_int(r, 1);
            int64_t sum = pb_rows_int(r, 2);
            if (out->calls_24h) {
                out->error_rate_24h = (double)out->errors_24h / (double)out->calls_24h;
                out->mean_latency_us_24h = (double)sum / (double)out->calls_24h;
            }
        }
        pb_rows_free(r);
        r = NULL;
    }
    if (!rc) {
        pb_val p[] = {PB_TEXT(key_id), PB_INT(hour)};
        rc = pb_conn_query_int(c, "SELECT COUNT(*) FROM ops.api_usage WHERE key_id = $1 AND at >= $2", p, 2,
                               &out->calls_1h, err);
    }
    if (!rc && out->calls_24h) {
        int64_t off = (out->calls_24h * 95 + 99) / 100 - 1; /* nearest-rank p95 */
        if (off < 0) off = 0;
        pb_val p[] = {PB_TEXT(key_id), PB_INT(day), PB_INT(off)};
        rc = pb_conn_query_int(c,
                               "SELECT latency_us FROM ops.api_usage WHERE key_id = $1 AND at >= $2 "
                               "ORDER BY latency_us LIMIT 1 OFFSET $3",
                               p, 3, &out->p95_latency_us_24h, err);
        if (rc == PB_ENOTFOUND) rc = 0;
    }
    if (!rc) {
        pb_val p[] = {PB_TEXT(key_id)};
        int64_t v = 0;
        rc = pb_conn_query_int(c,
                               "SELECT COALESCE((SELECT MAX(at) FROM ops.api_usage WHERE key_id = $1), "
                               "(SELECT last_used_at FROM ops.api_keys WHERE id = $1), 0)",
                               p, 1, &v, err);
        if (rc == PB_ENOTFOUND) rc = 0;
        out->last_used_at = v;
    }
    pb_db_release(db, c);
    return rc;
}

/* ---------------- rate buckets ---------------- */

int pb_as_rate_take(pb_db *db, const char *key_id, int limit, int64_t take, int64_t now_us,
                    int64_t *remaining_utokens, pb_error *err)
{
    /* Refill = elapsed_us * limit / 60 micro-tokens, elapsed clamped to [0, 60 s] (a full
     * refill) so clock skew between processes and long idle times cannot overflow. */
    static const char sql[] =
        "INSERT INTO ops.rate_buckets (key_id, tokens, updated_at) VALUES ($1, CAST($2 AS BIGINT) - CAST($3 AS "
        "BIGINT), $4) ON CONFLICT (key_id) DO UPDATE SET tokens = (CASE WHEN ops.rate_buckets.tokens + "
        "(CASE WHEN CAST($4 AS BIGINT) - ops.rate_buckets.updated_at > 60000000 THEN 60000000 "
        "WHEN CAST($4 AS BIGINT) - ops.rate_buckets.updated_at < 0 THEN 0 "
        "ELSE CAST($4 AS BIGINT) - ops.rate_buckets.updated_at END) * CAST($5 AS BIGINT) / 60 > CAST($2 AS BIGINT) "
        "THEN CAST($2 AS BIGINT) ELSE ops.rate_buckets.tokens + "
        "(CASE WHEN CAST($4 AS BIGINT) - ops.rate_buckets.updated_at > 60000000 THEN 60000000 "
        "WHEN CAST($4 AS BIGINT) - ops.rate_buckets.updated_at < 0 THEN 0 "
        "ELSE CAST($4 AS BIGINT) - ops.rate_buckets.updated_at END) * CAST($5 AS BIGINT) / 60 END) - "
        "CAST($3 AS BIGINT), updated_at = CASE WHEN CAST($4 AS BIGINT) > ops.rate_buckets.updated_at THEN "
        "CAST($4 AS BIGINT) ELSE ops.rate_buckets.updated_at END RETURNING tokens";
    pb_val p[] = {PB_TEXT(key_id), PB_INT((int64_t)limit * 1000000), PB_INT(take * 1000000), PB_INT(now_us),
                  PB_INT(limit)};
    pb_conn *c = NULL;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_query_int(c, sql, p, 5, remaining_utokens, err);
    pb_db_release(db, c);
    return rc;
}

/* ---------------- vault ---------------- */

int pb_as_vault_put(pb_db *db, const char *name, const char *blob, const char *key_fp, int64_t now, pb_error *err)
{
    pb_val p[] = {PB_TEXT(name), PB_TEXT(blob), PB_TEXT(key_fp), PB_INT(now)};
    return exec1(db,
                 "INSERT INTO ops.vault (name, sealed, key_fp, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) "
                 "ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, key_fp = excluded.key_fp, "
                 "updated_at = excluded.updated_at",
                 p, 4, NULL, err);
}

int pb_as_vault_get(pb_db *db, const char *name, pb_vault_row *out, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(name)};
    memset(out, 0, sizeof *out);
    int rc = pb_db_acquire(db, &c, err);
    if (!rc)
        rc = pb_conn_query(c, "SELECT name, sealed, key_fp, created_at, updated_at FROM ops.vault WHERE name = $1",
                           p, 1, &r, err);
    if (!rc) {
        int n = pb_rows_next(r);
        if (n == 1) {
            cp(out->name, sizeof out->name, pb_rows_text(r, 0));
            out->blob = strdup(pb_rows_text(r, 1));
            cp(out->key_fp, sizeof out->key_fp, pb_rows_text(r, 2));
            out->created_at = pb_rows_int(r, 3);
            out->updated_at = pb_rows_int(r, 4);
            if (!out->blob) rc = pb_error_set(err, PB_ENOMEM, "out of memory");
        } else {
            rc = n < 0 ? pb_error_set(err, PB_ESTORE, "reading vault failed")
                       : pb_error_set(err, PB_ENOTFOUND, "no secret named '%s'", name);
        }
    }
    pb_rows_free(r);
    pb_db_release(db, c);
    return rc;
}

int pb_as_vault_delete(pb_db *db, const char *name, pb_error *err)
{
    int64_t ch = 0;
    pb_val p[] = {PB_TEXT(name)};
    int rc = exec1(db, "DELETE FROM ops.vault WHERE name = $1", p, 1, &ch, err);
    if (!rc && !ch) rc = pb_error_set(err, PB_ENOTFOUND, "no secret named '%s'", name);
    return rc;
}

void pb_vault_rows_free(pb_vault_row *rows, size_t n)
{
    if (!rows) return;
    for (size_t i = 0; i < n; i++) free(rows[i].blob);
    free(rows);
}

static int vault_fill(pb_rows *r, void *rec, void *ctx)
{
    pb_vault_row *v = rec;
    const int *with_blob = ctx;
    cp(v->name, sizeof v->name, pb_rows_text(r, 0));
    cp(v->key_fp, sizeof v->key_fp, pb_rows_text(r, 2));
    v->created_at = pb_rows_int(r, 3);
    v->updated_at = pb_rows_int(r, 4);
    if (*with_blob && !(v->blob = strdup(pb_rows_text(r, 1)))) return PB_ENOMEM;
    return 0;
}

static void vault_drop(void *arr, size_t n)
{
    pb_vault_rows_free(arr, n);
}

static int vault_rows(pb_conn *c, int with_blob, pb_vault_row **out, size_t *n, pb_error *err)
{
    pb_rows *r = NULL;
    int rc = pb_conn_query(c, "SELECT name, sealed, key_fp, created_at, updated_at FROM ops.vault ORDER BY name",
                           NULL, 0, &r, err);
    if (rc) return rc;
    void *arr = NULL;
    size_t cnt = 0;
    rc = pb_store_read_all(r, sizeof **out, 8, vault_fill, &with_blob, vault_drop, &arr, &cnt,
                           "out of memory", "reading vault failed", err);
    if (rc) return rc;
    *out = arr;
    *n = cnt;
    return 0;
}

int pb_as_vault_list(pb_db *db, pb_vault_row **out, size_t *n, pb_error *err)
{
    pb_conn *c = NULL;
    *out = NULL;
    *n = 0;
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = vault_rows(c, 0, out, n, err);
    pb_db_release(db, c);
    return rc;
}

int pb_as_vault_has_fp(pb_db *db, const char *key_fp, int *yes, pb_error *err)
{
    int64_t v = 0;
    pb_val p[] = {PB_TEXT(key_fp)};
    int rc = query_int1(db, "SELECT COUNT(*) FROM ops.vault WHERE key_fp = $1", p, 1, &v, err);
    if (!rc) *yes = v > 0;
    return rc;
}

int pb_as_vault_rewrite(pb_db *db, const char *new_fp, pb_as_vault_rewrite_fn fn, void *ctx, size_t *count,
                        pb_error *err)
{
    pb_conn *c = NULL;
    pb_vault_row *rows = NULL;
    size_t n = 0;
    int64_t now = pb_now_us();
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc) rc = vault_rows(c, 1, &rows, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char *nb = NULL;
        rc = fn(&rows[i], &nb, ctx);
        if (rc) {
            pb_error_set(err, rc, "re-encrypting '%s' failed", rows[i].name);
            break;
        }
        pb_val p[] = {PB_TEXT(rows[i].name), PB_TEXT(nb), PB_TEXT(new_fp), PB_INT(now)};
        rc = pb_conn_exec(c, "UPDATE ops.vault SET sealed = $2, key_fp = $3, updated_at = $4 WHERE name = $1", p, 4,
                          NULL, err);
        free(nb);
    }
    if (!rc)
        rc = pb_conn_commit(c, err);
    else if (c)
        pb_conn_rollback(c);
    pb_db_release(db, c);
    pb_vault_rows_free(rows, n);
    if (!rc && count) *count = n;
    return rc;
}

/* ---------------- tokens_ref ---------------- */

int pb_as_token_ref_set(pb_db *db, const char *slug, const char *user_ref, const char *purpose,
                        const char *vault_name, pb_error *err)
{
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(user_ref ? user_ref : ""), PB_TEXT(purpose), PB_TEXT(vault_name),
                  PB_INT(pb_now_us())};
    return exec1(db,
                 "INSERT INTO work_plane.tokens_ref (workspace_slug, user_ref, purpose, vault_name, created_at) "
                 "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_slug, user_ref, purpose) DO UPDATE SET "
                 "vault_name = excluded.vault_name",
                 p, 5, NULL, err);
}

int pb_as_token_ref_get(pb_db *db, const char *slug, const char *user_ref, const char *purpose, char **vault_name,
                        pb_error *err)
{
    pb_conn *c = NULL;
    pb_val p[] = {PB_TEXT(slug), PB_TEXT(user_ref ? user_ref : ""), PB_TEXT(purpose)};
    int rc = pb_db_acquire(db, &c, err);
    if (!rc)
        rc = pb_conn_query_text(c,
                                "SELECT vault_name FROM work_plane.tokens_ref WHERE workspace_slug = $1 AND "
                                "user_ref = $2 AND purpose = $3",
                                p, 3, vault_name, err);
    pb_db_release(db, c);
    return rc;
}

/* ---------------- OAuth state ---------------- */

int pb_as_oauth_state_put(pb_db *db, const pb_oauth_state_row *s, pb_error *err)
{
    pb_val p[] = {PB_TEXT(s->state_hash), PB_TEXT(s->app), PB_TEXT(s->workspace_slug), PB_TEXT(s->verifier),
                  PB_TEXT(s->redirect_uri), PB_INT(s->expires_at), PB_TEXT(s->user_id)};
    /* Opportunistic cleanup of abandoned authorizations. */
    pb_val q[] = {PB_INT(pb_now_us())};
    int rc = exec1(db, "DELETE FROM ops.oauth_states WHERE expires_at < $1", q, 1, NULL, err);
    if (!rc)
        rc = exec1(db,
                   "INSERT INTO ops.oauth_states (state_hash, app, workspace_slug, verifier, redirect_uri, expires_at, "
                   "user_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   p, 7, NULL, err);
    return rc;
}

int pb_as_oauth_state_take(pb_db *db, const char *state_hash, int64_t now, pb_oauth_state_row *out, pb_error *err)
{
    pb_conn *c = NULL;
    pb_rows *r = NULL;
    pb_val p[] = {PB_TEXT(state_hash)};
    int64_t ch = 0;
    memset(out, 0, sizeof *out);
    int rc = pb_db_acquire(db, &c, err);
    if (!rc) rc = pb_conn_begin_write(c, err);
    if (!rc)
        rc = pb_conn_query(c,
                           "SELECT state_hash, app, workspace_slug, verifier, redirect_uri, expires_at, user_id "
                           "FROM ops.oauth_states WHERE state_hash = $1",
                           p, 1, &r, err);
    if (!rc) {
        int n = pb_rows_next(r);
        if (n == 1) {
            cp(out->state_hash, sizeof out->state_hash, pb_rows_text(r, 0));
            cp(out->app, sizeof out->app, pb_rows_text(r, 1));
            cp(out->workspace_slug, sizeof out->workspace_slug, pb_rows_text(r, 2));
            cp(out->verifier, sizeof out->verifier, pb_rows_text(r, 3));
            cp(out->redirect_uri, sizeof out->redirect_uri, pb_rows_text(r, 4));
            out->expires_at = pb_rows_int(r, 5);
            cp(out->user_id, sizeof out->user_id, pb_rows_text(r, 6));
        } else {
            rc = n < 0 ? pb_error_set(err, PB_ESTORE, "reading state failed")
                       : pb_error_set(err, PB_ENOTFOUND, "unknown or already used state");
        }
    }
    pb_rows_free(r);
    /* Single use: the DELETE decides, so two racing callbacks cannot both win. */
    if (!rc) rc = pb_conn_exec(c, "DELETE FROM ops.oauth_states WHERE state_hash = $1", p, 1, &ch, err);
    if (!rc && ch != 1) rc = pb_error_set(err, PB_ENOTFOUND, "unknown or already used state");
    if (!rc) rc = pb_conn_commit(c, err);
    if (rc && c) pb_conn_rollback(c);
    pb_db_release(db, c);
    if (!rc && out->expires_at <= now) rc = pb_error_set(err, PB_EEXPIRED, "authorization state expired");
    return rc;
}
