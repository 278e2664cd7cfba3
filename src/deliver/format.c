/* format: see format.h. */
#include "deliver/format.h"

#include "core/err.h"
#include "core/util.h"
#include "deliver/ssrf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ JSON helpers */

int pb_json_depth_ok(const cJSON *v, int max_depth)
{
    if (max_depth < 0) return 0;
    for (const cJSON *c = v ? v->child : NULL; c; c = c->next)
        if (!pb_json_depth_ok(c, max_depth - 1)) return 0;
    return 1;
}

cJSON *pb_json_parse(const char *text, size_t len)
{
    if (!text) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) return NULL;
    /* cJSON stops after the first value: anything but trailing whitespace is malformed. */
    size_t used = end && end >= text ? (size_t)(end - text) : len;
    for (size_t i = used; i < len; i++) {
        char ch = text[i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r' && ch != '\0') {
            cJSON_Delete(j);
            return NULL;
        }
    }
    if (!pb_json_depth_ok(j, PB_JSON_MAX_DEPTH)) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

/* Decodes one UTF-8 sequence; returns its length (>= 1) and the code point (U+FFFD for
 * malformed input, consuming one byte). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

static int py_str(pb_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    int rc = pb_buf_putc(b, '"');
    while (!rc && n) {
        uint32_t cp;
        size_t k = utf8_next(p, n, &cp);
        p += k;
        n -= k;
        switch (cp) {
        case '"': rc = pb_buf_puts(b, "\\\""); break;
        case '\\': rc = pb_buf_puts(b, "\\\\"); break;
        case '\n': rc = pb_buf_puts(b, "\\n"); break;
        case '\r': rc = pb_buf_puts(b, "\\r"); break;
        case '\t': rc = pb_buf_puts(b, "\\t"); break;
        case '\b': rc = pb_buf_puts(b, "\\b"); break;
        case '\f': rc = pb_buf_puts(b, "\\f"); break;
        default:
            if (cp < 0x20 || (cp > 0x7E && cp < 0x10000 && cp != 0x7F)) {
                rc = pb_buf_printf(b, "\\u%04x", (unsigned)cp);
            } else if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                rc = pb_buf_printf(b, "\\u%04x\\u%04x", (unsigned)(0xD800 + (v >> 10)), (unsigned)(0xDC00 + (v & 0x3FF)));
            } else {
                rc = pb_buf_putc(b, (char)cp);
            }
        }
    }
    return rc ? rc : pb_buf_putc(b, '"');
}

static int py_num(pb_buf *b, double d)
{
    if (!isfinite(d)) return pb_buf_puts(b, "null"); /* Python would write NaN/Infinity; JSON cannot */
    if (d == floor(d) && fabs(d) < 9007199254740992.0) return pb_buf_printf(b, "%.0f", d);
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    return pb_buf_puts(b, tmp);
}

static int py_dump(const cJSON *v, pb_buf *b, int depth)
{
    if (depth > PB_JSON_MAX_DEPTH) return PB_EDEPTH;
    if (!v || cJSON_IsNull(v)) return pb_buf_puts(b, "null");
    if (cJSON_IsTrue(v)) return pb_buf_puts(b, "true");
    if (cJSON_IsFalse(v)) return pb_buf_puts(b, "false");
    if (cJSON_IsNumber(v)) return py_num(b, v->valuedouble);
    if (cJSON_IsString(v)) return py_str(b, v->valuestring ? v->valuestring : "");
    if (cJSON_IsRaw(v)) return pb_buf_puts(b, v->valuestring ? v->valuestring : "null");
    int obj = cJSON_IsObject(v);
    int rc = pb_buf_putc(b, obj ? '{' : '[');
    int first = 1;
    for (const cJSON *c = v->child; c && !rc; c = c->next) {
        if (!first) rc = pb_buf_puts(b, ", ");
        first = 0;
        if (!rc && obj) {
            rc = py_str(b, c->string ? c->string : "");
            if (!rc) rc = pb_buf_puts(b, ": ");
        }
        if (!rc) rc = py_dump(c, b, depth + 1);
    }
    return rc ? rc : pb_buf_putc(b, obj ? '}' : ']');
}

int pb_pyjson_dump(const cJSON *v, pb_buf *out)
{
    return py_dump(v, out, 0);
}

/* ------------------------------------------------------------------ selection */

int pb_event_selected(const char *mode, const char *events, const char *type)
{
    if (!mode || strcmp(mode, "individual") != 0) return 1;
    const char *p = events ? events : "";
    size_t tl = strlen(type);
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        size_t n = strcspn(p, ", ");
        if (n == 0) break;
        if (n == 1 && p[0] == '*') return 1;
        if (n == tl && strncmp(p, type, n) == 0) return 1;
        /* "issue.*" matches "issue.created" but not "issue_comment.created" */
        if (n >= 2 && p[n - 1] == '*' && p[n - 2] == '.' && tl > n - 1 && strncmp(p, type, n - 1) == 0) return 1;
        p += n;
    }
    return 0;
}

int pb_plane_event(const char *type, char *event, size_t elen, char *action, size_t alen)
{
    const char *dot = strchr(type, '.');
    if (!dot) return 0;
    size_t kl = (size_t)(dot - type);
    const char *verb = dot + 1;
    static const char *const kinds[] = {"project", "issue", "cycle", "module", "issue_comment"};
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (strlen(kinds[i]) == kl && strncmp(type, kinds[i], kl) == 0) known = 1;
    if (!known) return 0;
    if (strcmp(verb, "created") != 0 && strcmp(verb, "updated") != 0 && strcmp(verb, "deleted") != 0) return 0;
    /* CE sends no delete events except for projects. */
    if (strcmp(verb, "deleted") == 0 && !(kl == 7 && strncmp(type, "project", 7) == 0)) return 0;
    if (kl >= elen) return 0;
    memcpy(event, type, kl);
    event[kl] = '\0';
    pb_strlcpy(action, verb, alen);
    return 1;
}

/* ------------------------------------------------------------------ standard */

int pb_standard_body(const char *type, int64_t occurred_at, const char *payload, pb_buf *out)
{
    cJSON *j = pb_json_parse(payload, strlen(payload));
    int rc = pb_standard_body_parsed(type, occurred_at, payload, j, out);
    cJSON_Delete(j);
    return rc;
}

int pb_standard_body_parsed(const char *type, int64_t occurred_at, const char *payload, const cJSON *j, pb_buf *out)
{
    int valid = j != NULL;
    int shaped = j && cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, "type") &&
                 cJSON_GetObjectItemCaseSensitive(j, "data");
    if (shaped) return pb_buf_puts(out, payload);
    char ts[40];
    pb_time_iso(occurred_at, ts, sizeof ts);
    int rc = pb_buf_puts(out, "{\"type\":");
    if (!rc) rc = pb_buf_json_str(out, type);
    if (!rc) rc = pb_buf_puts(out, ",\"timestamp\":");
    if (!rc) rc = pb_buf_json_str(out, ts);
    if (!rc) rc = pb_buf_puts(out, ",\"data\":");
    /* Text that is not JSON travels as a string, so the body is always valid JSON. */
    if (!rc) rc = valid ? pb_buf_puts(out, payload) : payload[0] ? pb_buf_json_str(out, payload) : pb_buf_puts(out, "null");
    if (!rc) rc = pb_buf_putc(out, '}');
    return rc;
}

/* ------------------------------------------------------------------ plane */

static cJSON *actor_of(const cJSON *payload, const cJSON *data)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(payload, "actor");
    if (cJSON_IsObject(a)) return cJSON_Duplicate(a, 1);
    const char *id = NULL;
    if (cJSON_IsString(a)) id = a->valuestring;
    if (!id) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(data, "updated_by");
        if (!cJSON_IsString(u)) u = cJSON_GetObjectItemCaseSensitive(data, "created_by");
        if (cJSON_IsString(u)) id = u->valuestring;
    }
    if (!id) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (o) cJSON_AddStringToObject(o, "id", id);
    return o;
}

static void add_copy(cJSON *obj, const char *key, const cJSON *v)
{
    cJSON *c = v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
    if (c) cJSON_AddItemToObject(obj, key, c);
}

int pb_plane_spec(const char *event, const char *action, const char *object_id, const char *field,
                  const cJSON *payload, pb_buf *out)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(payload, "data");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(payload, "previous_attributes");
    cJSON *s = cJSON_CreateObject();
    if (!s) return PB_ENOMEM;
    cJSON_AddStringToObject(s, "event", event);
    cJSON_AddStringToObject(s, "action", action);
    cJSON_AddStringToObject(s, "object_id", object_id ? object_id : "");
    if (field) {
        cJSON_AddStringToObject(s, "field", field);
        add_copy(s, "old_value", cJSON_GetObjectItemCaseSensitive(prev, field));
        add_copy(s, "new_value", cJSON_GetObjectItemCaseSensitive(data, field));
    } else {
        cJSON_AddNullToObject(s, "field");
        cJSON_AddNullToObject(s, "old_value");
        cJSON_AddNullToObject(s, "new_value");
    }
    cJSON *actor = actor_of(payload, data);
    if (actor) cJSON_AddItemToObject(s, "actor", actor);
    add_copy(s, "data", data);
    char *txt = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    if (!txt) return PB_ENOMEM;
    int rc = pb_buf_puts(out, txt);
    free(txt);
    return rc;
}

int pb_plane_envelope(const char *spec_json, const char *webhook_id, const char *workspace_id, const char *data_json,
                      pb_buf *out, char *event_out, size_t elen)
{
    cJSON *spec = pb_json_parse(spec_json, strlen(spec_json));
    cJSON *cur = data_json ? pb_json_parse(data_json, strlen(data_json)) : NULL;
    cJSON *env = cJSON_CreateObject();
    int rc = PB_EPARSE;
    if (!spec || !env) goto out;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(spec, "event");
    const cJSON *ac = cJSON_GetObjectItemCaseSensitive(spec, "action");
    if (!cJSON_IsString(ev) || !cJSON_IsString(ac)) goto out;
    pb_strlcpy(event_out, ev->valuestring, elen);
    cJSON_AddStringToObject(env, "event", ev->valuestring);
    cJSON_AddStringToObject(env, "action", ac->valuestring);
    cJSON_AddStringToObject(env, "webhook_id", webhook_id);
    cJSON_AddStringToObject(env, "workspace_id", workspace_id);
    if (strcmp(ac->valuestring, "deleted") == 0) {
        cJSON *d = cJSON_CreateObject();
        const cJSON *oid = cJSON_GetObjectItemCaseSensitive(spec, "object_id");
        cJSON_AddStringToObject(d, "id", cJSON_IsString(oid) ? oid->valuestring : "");
        cJSON_AddItemToObject(env, "data", d);
    } else if (cur) {
        cJSON_AddItemToObject(env, "data", cur);
        cur = NULL;
    } else {
        add_copy(env, "data", cJSON_GetObjectItemCaseSensitive(spec, "data"));
    }
    cJSON *act = cJSON_CreateObject();
    if (!act) {
        rc = PB_ENOMEM;
        goto out;
    }
    add_copy(act, "field", cJSON_GetObjectItemCaseSensitive(spec, "field"));
    add_copy(act, "new_value", cJSON_GetObjectItemCaseSensitive(spec, "new_value"));
    add_copy(act, "old_value", cJSON_GetObjectItemCaseSensitive(spec, "old_value"));
    add_copy(act, "actor", cJSON_GetObjectItemCaseSensitive(spec, "actor"));
    cJSON_AddNullToObject(act, "old_identifier");
    cJSON_AddNullToObject(act, "new_identifier");
    cJSON_AddItemToObject(env, "activity", act);
    rc = pb_pyjson_dump(env, out);
out:
    cJSON_Delete(spec);
    cJSON_Delete(cur);
    cJSON_Delete(env);
    return rc;
}

/* ------------------------------------------------------------------ chat */

/* Appends text escaped for Slack mrkdwn (& < >) or as is for Pumble, at most max bytes. */
static int chat_text(pb_buf *b, int pumble, const char *s, size_t max)
{
    size_t n = strlen(s);
    int cut = 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* UTF-8 boundary */
        cut = 1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        char c = s[i];
        if (c == '\r') continue;
        if (!pumble && c == '&') rc = pb_buf_puts(b, "&amp;");
        else if (!pumble && c == '<') rc = pb_buf_puts(b, "&lt;");
        else if (!pumble && c == '>') rc = pb_buf_puts(b, "&gt;");
        else rc = pb_buf_putc(b, c);
    }
    if (!rc && cut) rc = pb_buf_puts(b, "\xE2\x80\xA6");
    return rc;
}

static void value_text(const cJSON *v, char *out, size_t n)
{
    if (!v || cJSON_IsNull(v)) {
        pb_strlcpy(out, "(none)", n);
    } else if (cJSON_IsString(v)) {
        pb_strlcpy(out, v->valuestring[0] ? v->valuestring : "(empty)", n);
    } else if (cJSON_IsNumber(v)) {
        pb_buf t;
        pb_buf_init(&t, 64);
        py_num(&t, v->valuedouble);
        pb_strlcpy(out, pb_buf_cstr(&t), n);
        pb_buf_free(&t);
    } else if (cJSON_IsBool(v)) {
        pb_strlcpy(out, cJSON_IsTrue(v) ? "yes" : "no", n);
    } else {
        char *p = cJSON_PrintUnformatted(v);
        pb_strlcpy(out, p ? p : "", n);
        free(p);
    }
}

static const char *str_field(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Code points in a UTF-8 string. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
    return c;
}

/* Byte offset of the first `chars` code points. */
static size_t utf8_prefix(const char *s, size_t n, size_t chars)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (c == chars) return i;
            c++;
        }
    }
    return n;
}

int pb_chat_body(int pumble, const char *type, const char *workspace, const char *project_id, const cJSON *payload,
                 const pb_chat_ctx *ctx, pb_buf *out)
{
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(payload, "data");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(payload, "previous_attributes");
    char kind[64] = "", verb[64] = "";
    const char *dot = strchr(type, '.');
    if (dot) {
        size_t kl = (size_t)(dot - type) < sizeof kind ? (size_t)(dot - type) : sizeof kind - 1;
        memcpy(kind, type, kl);
        kind[kl] = '\0';
        pb_strlcpy(verb, dot + 1, sizeof verb);
    } else {
        pb_strlcpy(kind, type, sizeof kind);
    }
    pb_buf t;
    pb_buf_init(&t, 64 * 1024);
    int rc = 0;

    /* Title line: identifier and name, linked to the item. */
    char ident[96] = "";
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(data, "sequence_id");
    if (ctx->project_ident && ctx->project_ident[0] && cJSON_IsNumber(seq))
        snprintf(ident, sizeof ident, "%s-%lld", ctx->project_ident, (long long)seq->valuedouble);
    const char *name = str_field(data, "name");
    if (!name) name = str_field(data, "comment_stripped");
    if (!name) name = str_field(data, "reason");
    const char *id = str_field(data, "id");
    char link[1024] = "";
    if (ctx->public_url && ctx->public_url[0] && id) {
        const char *base = ctx->public_url;
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/') bl--;
        if (strcmp(kind, "project") == 0)
            snprintf(link, sizeof link, "%.*s/%s/projects/%s/issues/", (int)bl, base, workspace, id);
        else if (strcmp(kind, "issue") == 0 && project_id && *project_id)
            snprintf(link, sizeof link, "%.*s/%s/projects/%s/issues/%s", (int)bl, base, workspace, project_id, id);
        else if ((strcmp(kind, "cycle") == 0 || strcmp(kind, "module") == 0) && project_id && *project_id)
            snprintf(link, sizeof link, "%.*s/%s/projects/%s/%ss/%s", (int)bl, base, workspace, project_id, kind, id);
        else if (strcmp(kind, "issue_comment") == 0 && project_id && *project_id && str_field(data, "issue"))
            snprintf(link, sizeof link, "%.*s/%s/projects/%s/issues/%s", (int)bl, base, workspace, project_id,
                     str_field(data, "issue"));
    }
    char title[600];
    snprintf(title, sizeof title, "%s%s%s", ident, ident[0] && name ? " " : "", name ? name : (ident[0] ? "" : type));
    if (!pumble) {
        rc = pb_buf_putc(&t, '*');
        if (!rc && link[0]) {
            rc = pb_buf_printf(&t, "<%s|", link);
            if (!rc) rc = chat_text(&t, 0, title, 300);
            if (!rc) rc = pb_buf_putc(&t, '>');
        } else if (!rc) {
            rc = chat_text(&t, 0, title, 300);
        }
        if (!rc) rc = pb_buf_puts(&t, "*\n");
    } else {
        rc = pb_buf_puts(&t, "**");
        if (!rc) rc = chat_text(&t, 1, title, 300);
        if (!rc) rc = pb_buf_puts(&t, "**\n");
    }

    /* What happened and who did it. */
    if (!rc) {
        char what[160];
        snprintf(what, sizeof what, "%s %s", kind[0] ? kind : "event", verb[0] ? verb : "");
        for (char *p = what; *p; p++)
            if (*p == '_') *p = ' ';
        rc = chat_text(&t, pumble, what, sizeof what);
        if (!rc && ctx->actor && ctx->actor[0]) {
            rc = pb_buf_puts(&t, " by ");
            if (!rc) rc = chat_text(&t, pumble, ctx->actor, 120);
        }
        if (!rc) rc = pb_buf_putc(&t, '\n');
    }
    /* State, assignees, priority. */
    if (!rc) {
        int any = 0;
        if (ctx->state_name && ctx->state_name[0]) {
            rc = pb_buf_puts(&t, "State: ");
            if (!rc) rc = chat_text(&t, pumble, ctx->state_name, 120);
            any = 1;
        }
        if (!rc && ctx->assignees && ctx->assignees[0]) {
            rc = pb_buf_puts(&t, any ? " \xC2\xB7 Assignee: " : "Assignee: ");
            if (!rc) rc = chat_text(&t, pumble, ctx->assignees, 300);
            any = 1;
        }
        const char *prio = str_field(data, "priority");
        if (!rc && prio && strcmp(prio, "none") != 0) {
            rc = pb_buf_puts(&t, any ? " \xC2\xB7 Priority: " : "Priority: ");
            if (!rc) rc = chat_text(&t, pumble, prio, 40);
            any = 1;
        }
        if (!rc && any) rc = pb_buf_putc(&t, '\n');
    }
    /* Who changed what: one line per field. */
    for (const cJSON *f = cJSON_IsObject(prev) ? prev->child : NULL; f && !rc; f = f->next) {
        char oldv[200], newv[200];
        value_text(f, oldv, sizeof oldv);
        value_text(cJSON_GetObjectItemCaseSensitive(data, f->string), newv, sizeof newv);
        rc = pb_buf_puts(&t, pumble ? "\xE2\x80\xA2 **" : "\xE2\x80\xA2 *");
        if (!rc) rc = chat_text(&t, pumble, f->string ? f->string : "", 64);
        if (!rc) rc = pb_buf_puts(&t, pumble ? "**: " : "*: ");
        if (!rc) rc = chat_text(&t, pumble, oldv, 120);
        if (!rc) rc = pb_buf_puts(&t, " \xE2\x86\x92 ");
        if (!rc) rc = chat_text(&t, pumble, newv, 120);
        if (!rc) rc = pb_buf_putc(&t, '\n');
    }
    if (!rc && pumble && link[0]) rc = pb_buf_printf(&t, "%s\n", link);
    if (rc == PB_ETOOBIG) rc = 0; /* keep what fits; the cap below trims further */

    /* Normalise to valid UTF-8 first (malformed bytes become U+FFFD, as the JSON encoder
     * would do later) so the character cap counts what the receiver will see. */
    if (!rc && t.len) {
        pb_buf u;
        pb_buf_init(&u, 4 * t.len + 4);
        const unsigned char *p = (const unsigned char *)t.data;
        size_t left = t.len;
        while (!rc && left) {
            uint32_t cp;
            size_t k = utf8_next(p, left, &cp);
            if (cp == 0xFFFD && !(k == 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] == 0xBD))
                rc = pb_buf_append(&u, "\xEF\xBF\xBD", 3);
            else
                rc = pb_buf_append(&u, p, k);
            p += k;
            left -= k;
        }
        pb_buf_free(&t);
        t = u;
    }
    if (!rc) {
        size_t len = t.len;
        while (len && t.data[len - 1] == '\n') len--;
        size_t cap = pumble ? PB_PUMBLE_MAX_CHARS : PB_SLACK_MAX_CHARS;
        const char *txt = t.data ? t.data : "";
        char *tmp = NULL;
        if (utf8_chars(txt, len) > cap) {
            size_t keep = utf8_prefix(txt, len, cap - 1);
            tmp = malloc(keep + 4);
            if (!tmp) {
                pb_buf_free(&t);
                return PB_ENOMEM;
            }
            memcpy(tmp, txt, keep);
            memcpy(tmp + keep, "\xE2\x80\xA6", 4);
            txt = tmp;
            len = keep + 3;
        }
        rc = pb_buf_puts(out, "{\"text\":");
        if (!rc) rc = pb_buf_json_strn(out, txt, len);
        if (!rc) rc = pb_buf_putc(out, '}');
        free(tmp);
    }
    pb_buf_free(&t);
    return rc;
}

int pb_chat_url_valid(const char *format, const char *url)
{
    char host[256];
    int port = 0, https = 0;
    if (pb_url_host_port(url, host, sizeof host, &port, &https)) return PB_EINVAL;
    const char *path = strstr(url, "://");
    path = path ? strchr(path + 3, '/') : NULL;
    if (!https || port != 443 || !path) return PB_EINVAL;
    if (strcmp(format, "slack") == 0) {
        if (strcmp(host, "hooks.slack.com") != 0) return PB_EINVAL;
        return strncmp(path, "/services/", 10) == 0 || strncmp(path, "/workflows/", 11) == 0 ||
                       strncmp(path, "/triggers/", 10) == 0
                   ? 0
                   : PB_EINVAL;
    }
    if (strcmp(format, "pumble") == 0) {
        if (strcmp(host, "api.pumble.com") != 0) return PB_EINVAL;
        return strncmp(path, "/workspaces/", 12) == 0 && strstr(path, "/incomingWebhooks/postMessage/") ? 0
                                                                                                          : PB_EINVAL;
    }
    return 0;
}
