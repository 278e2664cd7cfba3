/* webhook: see webhook.h. */
#include "ingest/webhook.h"

#include "core/util.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int pb_hook_content_type_ok(const char *ct)
{
    if (!ct) return 0;
    while (*ct == ' ')
        ct++;
    static const char want[] = "application/json";
    if (strncasecmp(ct, want, sizeof want - 1) != 0) return 0;
    char c = ct[sizeof want - 1];
    return c == '\0' || c == ';' || c == ' ';
}

int pb_hook_slug_ok(const char *slug)
{
    if (!slug) return 0;
    size_t n = 0;
    for (; slug[n]; n++) {
        unsigned char c = (unsigned char)slug[n];
        if (!(islower(c) || isdigit(c) || c == '-' || c == '_')) return 0;
        if (n >= 48) return 0;
    }
    return n > 0;
}

/* Index of the quote that closes the string whose first content byte is at i (len when it
 * is unterminated). Strings are most of a webhook body (description_html): memchr jumps to
 * the next quote instead of stepping byte by byte; a quote preceded by an odd run of
 * backslashes is escaped. Same result as skipping "\\x" pairs from i. */
static size_t string_end(const char *b, size_t i, size_t len)
{
    size_t from = i;
    while (i < len) {
        const char *q = memchr(b + i, '"', len - i);
        if (!q) return len;
        size_t k = (size_t)(q - b), bs = 0;
        while (k - bs > from && b[k - bs - 1] == '\\')
            bs++;
        if (!(bs & 1)) return k;
        i = k + 1;
    }
    return len;
}

int pb_hook_depth_ok(const char *body, size_t len, int max_depth)
{
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (c == '"')
            i = string_end(body, i + 1, len); /* at the closing quote */
        else if (c == '{' || c == '[') {
            if (++depth > max_depth) return 0;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 1;
}

int pb_hook_event_known(const char *e)
{
    return e && (!strcmp(e, "project") || !strcmp(e, "issue") || !strcmp(e, "cycle") ||
                 !strcmp(e, "module") || !strcmp(e, "issue_comment"));
}

void pb_hook_free(pb_hook *h)
{
    if (!h) return;
    cJSON_Delete(h->root);
    h->root = NULL;
    h->data = NULL;
}

static const char *str_item(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int copy_field(char *dst, size_t n, const char *src, const char *name, pb_error *err)
{
    if (!src || !src[0]) return pb_error_field(err, PB_EINVAL, name, "missing string field \"%s\"", name);
    if (strlen(src) >= n) return pb_error_field(err, PB_EINVAL, name, "field \"%s\" too long", name);
    pb_strlcpy(dst, src, n);
    return 0;
}

/* v2 names: "workitem.comment.updated" -> event issue_comment, action updated. */
static void map_v2_event(const char *name, pb_hook *h)
{
    const char *dot = strrchr(name, '.');
    char base[48];
    if (!dot) {
        pb_strlcpy(h->event, name, sizeof h->event);
        return;
    }
    size_t bl = (size_t)(dot - name);
    if (bl >= sizeof base) bl = sizeof base - 1;
    memcpy(base, name, bl);
    base[bl] = '\0';
    pb_strlcpy(h->action, dot + 1, sizeof h->action);
    if (!strcmp(base, "workitem") || !strcmp(base, "issue"))
        pb_strlcpy(h->event, "issue", sizeof h->event);
    else if (!strcmp(base, "workitem.comment") || !strcmp(base, "issue_comment"))
        pb_strlcpy(h->event, "issue_comment", sizeof h->event);
    else
        pb_strlcpy(h->event, base, sizeof h->event);
}

/* SHA-256 over NUL-separated parts; the last part is the body with the volatile top-level
 * members cut out (see volatile_spans). */
typedef struct span {
    size_t from, to;
} span;

static int is_volatile_key(const char *k, size_t n)
{
    return (n == 10 && memcmp(k, "webhook_id", 10) == 0) || (n == 11 && memcmp(k, "delivery_id", 11) == 0);
}

/* Finds the byte spans of the top-level members "webhook_id" and "delivery_id" (key through
 * value) in an already-validated JSON object text, so they can be left out of the hash
 * without re-serialising the body. At most max spans; returns the count. */
static size_t volatile_spans(const char *b, size_t len, span *out, size_t max)
{
    size_t n = 0, i = 0;
    int depth = 0, expect_key = 0;
    while (i < len) {
        char ch = b[i];
        if (ch == '"') {
            size_t start = i;
            i = string_end(b, i + 1, len);
            size_t kend = i++; /* closing quote */
            if (depth == 1 && expect_key) {
                expect_key = 0;
                if (kend <= len && is_volatile_key(b + start + 1, kend - start - 1) && n < max) {
                    /* skip ':' and the value */
                    while (i < len &&
                           (b[i] == ' ' || b[i] == ':' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
                        i++;
                    if (i < len && b[i] == '"') {
                        i++;
                        while (i < len && b[i] != '"')
                            i += b[i] == '\\' ? 2 : 1;
                        i++;
                    } else {
                        int d = 0;
                        while (i < len && !(d == 0 && (b[i] == ',' || b[i] == '}'))) {
                            if (b[i] == '{' || b[i] == '[')
                                d++;
                            else if (b[i] == '}' || b[i] == ']')
                                d--;
                            i++;
                        }
                    }
                    out[n].from = start;
                    out[n].to = i > len ? len : i;
                    n++;
                }
            }
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
            expect_key = ch == '{' && depth == 1;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == ',' && depth == 1) {
            expect_key = 1;
        }
        i++;
    }
    return n;
}

static int sha256_hex(const unsigned char *parts[], const size_t lens[], int n, const char *body, size_t blen,
                      char *out)
{
    unsigned char md[32];
    unsigned int mdl = 0;
    span sp[4];
    size_t nsp = body ? volatile_spans(body, blen, sp, 4) : 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (int i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(c, parts[i], lens[i]) && EVP_DigestUpdate(c, "", 1);
    size_t at = 0;
    for (size_t k = 0; ok && body && k <= nsp; k++) {
        size_t to = k < nsp ? sp[k].from : blen;
        if (to > at) ok = EVP_DigestUpdate(c, body + at, to - at);
        if (k < nsp) at = sp[k].to;
    }
    ok = ok && EVP_DigestFinal_ex(c, md, &mdl);
    EVP_MD_CTX_free(c);
    if (!ok) return PB_ECRYPTO;
    pb_hex_encode(md, sizeof md, out);
    return 0;
}

static int compute_key(const char *ws, pb_hook *h, const char *event_id, const char *body, size_t len,
                       pb_error *err)
{
    char hex[65];
    int rc;
    if (event_id) {
        const unsigned char *p[] = {(const unsigned char *)ws, (const unsigned char *)event_id};
        const size_t l[] = {strlen(ws), strlen(event_id)};
        rc = sha256_hex(p, l, 2, NULL, 0, hex);
        if (!rc) snprintf(h->key, sizeof h->key, "plane:ev:%s", hex);
    } else {
        /* The raw body without the members that differ between deliveries of one change. */
        const unsigned char *p[] = {(const unsigned char *)ws, (const unsigned char *)h->event,
                                    (const unsigned char *)h->action, (const unsigned char *)h->object_id};
        const size_t l[] = {strlen(ws), strlen(h->event), strlen(h->action), strlen(h->object_id)};
        rc = sha256_hex(p, l, 4, body, len, hex);
        if (!rc) snprintf(h->key, sizeof h->key, "plane:c:%s", hex);
    }
    if (rc) return pb_error_set(err, rc, "cannot hash body");
    return 0;
}

int pb_hook_parse(const char *workspace, const char *body, size_t len, pb_hook *h, pb_error *err)
{
    return pb_hook_parse_opts(workspace, body, len, 1, h, err);
}

int pb_hook_parse_opts(const char *workspace, const char *body, size_t len, int want_key, pb_hook *h,
                       pb_error *err)
{
    int rc = 0;
    memset(h, 0, sizeof *h);
    if (!pb_hook_depth_ok(body, len, PB_HOOK_MAX_DEPTH))
        return pb_error_set(err, PB_EDEPTH, "JSON nested deeper than %d", PB_HOOK_MAX_DEPTH);
    const char *end = NULL;
    h->root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!h->root) return pb_error_set(err, PB_EPARSE, "body is not valid JSON");
    /* cJSON stops after the first value: anything but whitespace after it is malformed. */
    for (const char *p = end; p && p < body + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            rc = pb_error_set(err, PB_EPARSE, "trailing data after the JSON body");
            goto out;
        }
    }
    if (!cJSON_IsObject(h->root)) {
        rc = pb_error_set(err, PB_EINVAL, "body is not a JSON object");
        goto out;
    }
    const char *event = str_item(h->root, "event");
    const char *version = str_item(h->root, "version");
    const char *event_id = str_item(h->root, "event_id");
    h->v2 = (version && !strcmp(version, "v2")) || event_id != NULL;
    if (!event || !event[0] || strlen(event) >= sizeof h->event) {
        rc = pb_error_field(err, PB_EINVAL, "event", "missing or invalid \"event\"");
        goto out;
    }
    if (h->v2 && strchr(event, '.'))
        map_v2_event(event, h);
    else
        pb_strlcpy(h->event, event, sizeof h->event);
    const char *action = str_item(h->root, "action");
    if (action) {
        if ((rc = copy_field(h->action, sizeof h->action, action, "action", err))) goto out;
    } else if (!h->action[0]) {
        rc = pb_error_field(err, PB_EINVAL, "action", "missing string field \"action\"");
        goto out;
    }
    const char *wsid = str_item(h->root, "workspace_id");
    if (wsid) pb_strlcpy(h->workspace_id, wsid, sizeof h->workspace_id);

    cJSON *data = cJSON_GetObjectItemCaseSensitive(h->root, "data");
    if (!cJSON_IsObject(data)) {
        rc = pb_error_field(err, PB_EINVAL, "data", "missing object field \"data\"");
        goto out;
    }
    h->data = data;
    const char *oid = str_item(data, "id");
    if (!oid && h->v2) oid = str_item(h->root, "entity_id");
    if ((rc = copy_field(h->object_id, sizeof h->object_id, oid, "data.id", err))) goto out;
    if (!pb_uuid_valid(h->object_id)) {
        rc = pb_error_field(err, PB_EINVAL, "data.id", "\"data.id\" is not a UUID");
        goto out;
    }
    const char *ua = str_item(data, "updated_at");
    if (ua && pb_time_parse(ua, &h->updated_at) != 0) h->updated_at = 0;

    const cJSON *act = cJSON_GetObjectItemCaseSensitive(h->root, "activity");
    if (cJSON_IsObject(act)) {
        const char *f = str_item(act, "field");
        if (f) pb_strlcpy(h->field, f, sizeof h->field);
        const cJSON *actor = cJSON_GetObjectItemCaseSensitive(act, "actor");
        const char *aid = cJSON_IsObject(actor) ? str_item(actor, "id") : NULL;
        if (aid) pb_strlcpy(h->actor_id, aid, sizeof h->actor_id);
    }
    if (event_id && (!event_id[0] || strlen(event_id) > 256)) {
        rc = pb_error_field(err, PB_EINVAL, "event_id", "invalid \"event_id\"");
        goto out;
    }
    if (want_key) rc = compute_key(workspace ? workspace : "", h, event_id, body, len, err);
out:
    if (rc) pb_hook_free(h);
    return rc;
}
