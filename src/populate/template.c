/* template: YAML templates -> populate spec. See template.h. */
#include "populate/template.h"

#include "core/buf.h"
#include "core/util.h"
#include "populate/markdown.h"
#include "populate/yamljson.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TPL_MAX_FILE ((size_t)4 << 20)
#define TPL_MAX_LOOP 10000
#define TPL_MAX_OBJECTS 200000

struct pb_tpl {
    cJSON *root;
    char name[128];
};

/* ------------------------------------------------------------------ helpers */

void pb_tpl_slug(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    int dash = 0;
    if (!outlen) return;
    for (; s && *s && o + 1 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && o) out[o++] = '-';
            if (o + 1 < outlen) out[o++] = (char)c;
            dash = 0;
        } else {
            dash = 1;
        }
    }
    out[o] = 0;
}

static void sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_Digest(s, n, md, &ml, EVP_sha256(), NULL);
    pb_hex_encode(md, 32, out);
}

void pb_tpl_xid(char *out, size_t outlen, const char *a, const char *b, const char *c, const char *d)
{
    char tmp[2048];
    snprintf(tmp, sizeof tmp, "%s/%s/%s/%s", a ? a : "", b ? b : "", c ? c : "", d ? d : "");
    size_t n = strlen(tmp);
    if (n <= 255 && n < outlen) {
        pb_strlcpy(out, tmp, outlen);
        return;
    }
    char h[65];
    sha256_hex(tmp, n, h);
    snprintf(out, outlen, "%.40s/%.40s/%s/h-%.32s", a ? a : "", b ? b : "", c ? c : "", h);
}

static int days_from_civil(int y, unsigned m, unsigned d, int64_t *out)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return 0;
}

static void civil_from_days(int64_t z, char out[11])
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", (int)(y % 10000), m % 100, d % 100);
    pb_strlcpy(out, tmp, 11);
}

static int date_days(const char *s, int64_t *days)
{
    if (strlen(s) != 10 || pb_date_valid(s)) return PB_EINVAL;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    return days_from_civil(y, m, d, days);
}

static void today_str(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
    pb_strlcpy(out, tmp, 11);
}

/* today: the date "today" means (NULL = the current UTC date). */
static int date_expr(const char *expr, const char *anchor, const char *today, char out[11])
{
    while (*expr == ' ') expr++;
    char base[11] = "";
    const char *rel = expr;
    if (strncmp(expr, "today", 5) == 0) {
        if (today && *today) pb_strlcpy(base, today, sizeof base);
        else today_str(base);
        rel = expr + 5;
    } else if (expr[0] >= '0' && expr[0] <= '9') {
        if (strlen(expr) < 10) return PB_EINVAL;
        memcpy(base, expr, 10);
        base[10] = 0;
        rel = expr + 10;
    } else {
        if (anchor && *anchor) {
            if (date_expr(anchor, NULL, today, base)) return PB_EINVAL;
        } else if (today && *today) {
            pb_strlcpy(base, today, sizeof base);
        } else {
            today_str(base);
        }
    }
    int64_t days;
    if (date_days(base, &days)) return PB_EINVAL;
    while (*rel == ' ') rel++;
    if (*rel) {
        if (*rel != '+' && *rel != '-') return PB_EINVAL;
        int neg = *rel == '-';
        rel++;
        while (*rel == ' ') rel++;
        char num[16];
        size_t k = 0;
        while (*rel >= '0' && *rel <= '9' && k + 1 < sizeof num) num[k++] = *rel++;
        num[k] = 0;
        int64_t n;
        if (!k || pb_parse_i64(num, 0, 100000, &n)) return PB_EINVAL;
        int64_t mul = 1;
        if (*rel == 'd' || *rel == 0) mul = 1;
        else if (*rel == 'w') mul = 7;
        else return PB_EINVAL;
        if (*rel) rel++;
        if (*rel) return PB_EINVAL;
        days += (neg ? -1 : 1) * n * mul;
    }
    civil_from_days(days, out);
    return 0;
}

int pb_tpl_date(const char *expr, const char *anchor, char out[11])
{
    return date_expr(expr, anchor, NULL, out);
}

/* ------------------------------------------------------------------ loading */

int pb_tpl_load(const char *yaml, size_t len, pb_tpl **out, pb_error *err)
{
    *out = NULL;
    cJSON *root = NULL;
    int rc = pb_yaml_to_json(yaml, len, &root, err);
    if (rc) return rc;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_EINVAL, "a template is a YAML mapping");
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "template");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 100) {
        cJSON_Delete(root);
        return pb_error_field(err, PB_EINVAL, "template", "the template needs a `template:` name (1-100 chars)");
    }
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "project"))) {
        cJSON_Delete(root);
        return pb_error_field(err, PB_EINVAL, "project", "the template needs a `project:` mapping");
    }
    pb_tpl *t = calloc(1, sizeof *t);
    if (!t) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    t->root = root;
    pb_tpl_slug(name->valuestring, t->name, sizeof t->name);
    *out = t;
    return 0;
}

int pb_tpl_load_file(const char *path, pb_tpl **out, pb_error *err)
{
    char *text = NULL;
    size_t len = 0;
    int rc = pb_read_file(path, TPL_MAX_FILE, &text, &len);
    if (rc) return pb_error_set(err, rc, "cannot read %s: %s", path, pb_strerror(rc));
    rc = pb_tpl_load(text, len, out, err);
    free(text);
    return rc;
}

void pb_tpl_free(pb_tpl *t)
{
    if (!t) return;
    cJSON_Delete(t->root);
    free(t);
}

const char *pb_tpl_name(const pb_tpl *t)
{
    return t->name;
}

int pb_tpl_vars_merge_text(cJSON **vars, const char *text, size_t len, pb_error *err)
{
    cJSON *v = NULL;
    int rc = pb_yaml_to_json(text, len, &v, err);
    if (rc) return rc;
    if (cJSON_IsNull(v)) {
        cJSON_Delete(v);
        return 0;
    }
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return pb_error_set(err, PB_EINVAL, "a variables file is a mapping of name: value");
    }
    if (!*vars) *vars = cJSON_CreateObject();
    if (!*vars) {
        cJSON_Delete(v);
        return pb_error_set(err, PB_ENOMEM, "out of memory");
    }
    while (v->child) {
        cJSON *it = cJSON_DetachItemViaPointer(v, v->child);
        cJSON_DeleteItemFromObjectCaseSensitive(*vars, it->string);
        cJSON_AddItemToObject(*vars, it->string, it);
    }
    cJSON_Delete(v);
    return 0;
}

int pb_tpl_vars_set(cJSON **vars, const char *kv, pb_error *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) > 100) return pb_error_set(err, PB_EINVAL, "--var wants NAME=VALUE");
    char name[128];
    memcpy(name, kv, (size_t)(eq - kv));
    name[eq - kv] = 0;
    if (!*vars) *vars = cJSON_CreateObject();
    if (!*vars) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(*vars, name);
    cJSON_AddStringToObject(*vars, name, eq + 1);
    return 0;
}

/* ------------------------------------------------------------------ expansion */

typedef struct xctx {
    const char *tpl;
    const char *instance;
    char anchor[11];
    char today[11];
    cJSON *scope; /* object: variables (+ loop variables pushed/popped) */
    pb_error *err;
    long objects;
    char path[512];
} xctx;

static int xfail(xctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int xfail(xctx *x, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pb_error_field(x->err, PB_EINVAL, x->path, "%s: %s", x->path[0] ? x->path : "template", msg);
}

/* Resolves "a.b.c" in the scope; NULL when absent. */
static const cJSON *lookup(const xctx *x, const char *name, size_t n)
{
    char buf[256];
    if (n >= sizeof buf) return NULL;
    memcpy(buf, name, n);
    buf[n] = 0;
    char *save = buf, *dot;
    const cJSON *cur = x->scope;
    while (cur && save) {
        dot = strchr(save, '.');
        if (dot) *dot = 0;
        cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, save) : NULL;
        save = dot ? dot + 1 : NULL;
    }
    return cur;
}

static int truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) return cJSON_GetArraySize(v) > 0;
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        return *s && strcasecmp(s, "false") && strcasecmp(s, "no") && strcmp(s, "0") && strcasecmp(s, "off");
    }
    return 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* An operand as text: a quoted literal, a variable, or a bare literal. */
static void operand(const xctx *x, const char *s, size_t n, char *out, size_t outlen, const cJSON **node)
{
    trim(&s, &n);
    *node = NULL;
    if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
        snprintf(out, outlen, "%.*s", (int)(n - 2), s + 1);
        return;
    }
    const cJSON *v = lookup(x, s, n);
    *node = v;
    if (v && cJSON_IsString(v)) snprintf(out, outlen, "%s", v->valuestring);
    else if (v && cJSON_IsNumber(v)) snprintf(out, outlen, "%g", v->valuedouble);
    else if (v && cJSON_IsBool(v)) snprintf(out, outlen, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (v) snprintf(out, outlen, "%s", "");
    else snprintf(out, outlen, "%.*s", (int)n, s);
}

static const char *find_word(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++)
        if (memcmp(s + i, w, wl) == 0) return s + i;
    return NULL;
}

static int list_has(const cJSON *list, const char *v)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, v) == 0) return 1;
    }
    return 0;
}

static int eval_atom(const xctx *x, const char *s, size_t n)
{
    trim(&s, &n);
    int neg = 0;
    if (n && s[0] == '!') {
        neg = 1;
        s++;
        n--;
    } else if (n > 4 && strncmp(s, "not ", 4) == 0) {
        neg = 1;
        s += 4;
        n -= 4;
    }
    trim(&s, &n);
    char a[512], b[512];
    const cJSON *na, *nb;
    const char *op;
    int r;
    if ((op = find_word(s, n, "==")) || (op = find_word(s, n, "!="))) {
        operand(x, s, (size_t)(op - s), a, sizeof a, &na);
        operand(x, op + 2, n - (size_t)(op + 2 - s), b, sizeof b, &nb);
        r = (strcmp(a, b) == 0) == (op[0] == '=');
    } else if ((op = find_word(s, n, " contains "))) {
        operand(x, s, (size_t)(op - s), a, sizeof a, &na);
        operand(x, op + 10, n - (size_t)(op + 10 - s), b, sizeof b, &nb);
        r = na && cJSON_IsArray(na) ? list_has(na, b) : (strstr(a, b) != NULL);
    } else if ((op = find_word(s, n, " in "))) {
        operand(x, s, (size_t)(op - s), a, sizeof a, &na);
        operand(x, op + 4, n - (size_t)(op + 4 - s), b, sizeof b, &nb);
        r = nb && cJSON_IsArray(nb) ? list_has(nb, a) : (strstr(b, a) != NULL);
    } else if (n == 4 && strncmp(s, "true", 4) == 0) {
        r = 1;
    } else if (n == 5 && strncmp(s, "false", 5) == 0) {
        r = 0;
    } else {
        r = truthy(lookup(x, s, n));
    }
    return neg ? !r : r;
}

static int eval_and(const xctx *x, const char *s, size_t n)
{
    const char *op = find_word(s, n, " and ");
    if (!op) return eval_atom(x, s, n);
    return eval_atom(x, s, (size_t)(op - s)) && eval_and(x, op + 5, n - (size_t)(op + 5 - s));
}

static int eval_cond(const xctx *x, const cJSON *when)
{
    if (cJSON_IsBool(when)) return cJSON_IsTrue(when);
    if (!cJSON_IsString(when)) return truthy(when);
    const char *s = when->valuestring;
    size_t n = strlen(s);
    for (;;) {
        const char *op = find_word(s, n, " or ");
        if (!op) return eval_and(x, s, n);
        if (eval_and(x, s, (size_t)(op - s))) return 1;
        n -= (size_t)(op + 4 - s);
        s = op + 4;
    }
}

static int append_value(pb_buf *b, const cJSON *v)
{
    if (cJSON_IsString(v)) return pb_buf_puts(b, v->valuestring);
    if (cJSON_IsNumber(v)) return pb_buf_printf(b, "%g", v->valuedouble);
    if (cJSON_IsBool(v)) return pb_buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        int first = 1, rc = 0;
        cJSON_ArrayForEach(e, v)
        {
            if (!first) rc = pb_buf_puts(b, ", ");
            if (!rc) rc = append_value(b, e);
            first = 0;
            if (rc) return rc;
        }
        return rc;
    }
    return 0;
}

/* Substitutes {{...}} in s. A string that is exactly one {{var}} naming a list/object yields
 * a copy of it. */
static int subst(xctx *x, const char *s, cJSON **out)
{
    *out = NULL;
    const char *p = s;
    const char *open = strstr(p, "{{");
    if (!open) {
        *out = cJSON_CreateString(s);
        return *out ? 0 : PB_ENOMEM;
    }
    pb_buf b;
    pb_buf_init(&b, (size_t)1 << 20);
    int rc = 0;
    while ((open = strstr(p, "{{")) && !rc) {
        const char *close = strstr(open + 2, "}}");
        if (!close) {
            rc = xfail(x, "unclosed {{ in '%s'", s);
            break;
        }
        rc = pb_buf_append(&b, p, (size_t)(open - p));
        const char *e = open + 2;
        size_t n = (size_t)(close - e);
        trim(&e, &n);
        const char *bar = memchr(e, '|', n);
        size_t vn = bar ? (size_t)(bar - e) : n;
        const char *vs = e;
        trim(&vs, &vn);
        const cJSON *v = lookup(x, vs, vn);
        if (!v) {
            char nm[256];
            snprintf(nm, sizeof nm, "%.*s", (int)vn, vs);
            rc = xfail(x, "unknown variable '%s'", nm);
            break;
        }
        if (!bar && open == s && close[2] == 0 && (cJSON_IsArray(v) || cJSON_IsObject(v))) {
            pb_buf_free(&b);
            *out = cJSON_Duplicate(v, 1);
            return *out ? 0 : PB_ENOMEM;
        }
        pb_buf val;
        pb_buf_init(&val, (size_t)1 << 20);
        if (!rc) rc = append_value(&val, v);
        if (!rc && bar) {
            const char *f = bar + 1;
            size_t fn = n - (size_t)(bar + 1 - e);
            trim(&f, &fn);
            char tmp[1024];
            if (fn == 4 && strncmp(f, "slug", 4) == 0) {
                pb_tpl_slug(pb_buf_cstr(&val), tmp, sizeof tmp);
                pb_buf_reset(&val);
                rc = pb_buf_puts(&val, tmp);
            } else if ((fn == 5 && strncmp(f, "upper", 5) == 0) || (fn == 5 && strncmp(f, "lower", 5) == 0)) {
                for (size_t i = 0; i < val.len; i++) {
                    char c = val.data[i];
                    if (f[0] == 'u' && c >= 'a' && c <= 'z') val.data[i] = (char)(c - 32);
                    if (f[0] == 'l' && c >= 'A' && c <= 'Z') val.data[i] = (char)(c + 32);
                }
            } else {
                char fl[64];
                snprintf(fl, sizeof fl, "%.*s", (int)(fn < 60 ? fn : 60), f);
                rc = xfail(x, "unknown filter '%s' (slug, upper, lower)", fl);
            }
        }
        if (!rc) rc = pb_buf_append(&b, val.data ? val.data : "", val.len);
        pb_buf_free(&val);
        p = close + 2;
    }
    if (!rc) rc = pb_buf_puts(&b, p);
    if (!rc) {
        *out = cJSON_CreateString(pb_buf_cstr(&b));
        if (!*out) rc = PB_ENOMEM;
    }
    pb_buf_free(&b);
    return rc;
}

static int expand(xctx *x, const cJSON *in, cJSON **out);

static void path_push(xctx *x, size_t *saved, const char *key, int i)
{
    *saved = strlen(x->path);
    size_t n = *saved;
    if (key) snprintf(x->path + n, sizeof x->path - n, ".%s", key);
    else snprintf(x->path + n, sizeof x->path - n, "[%d]", i);
}

/* Expands one list element (handles when/for_each) appending results to arr. */
static int expand_elem(xctx *x, const cJSON *el, cJSON *arr)
{
    if (!cJSON_IsObject(el)) {
        cJSON *o = NULL;
        int rc = expand(x, el, &o);
        if (!rc) cJSON_AddItemToArray(arr, o);
        return rc;
    }
    const cJSON *fe = cJSON_GetObjectItemCaseSensitive(el, "for_each");
    const cJSON *when = cJSON_GetObjectItemCaseSensitive(el, "when");
    if (fe) {
        cJSON *list = NULL;
        int rc = 0;
        if (cJSON_IsString(fe)) {
            const char *s = fe->valuestring;
            if (strstr(s, "{{")) rc = subst(x, s, &list);
            else {
                const cJSON *v = lookup(x, s, strlen(s));
                if (!v) return xfail(x, "for_each: unknown variable '%s'", s);
                list = cJSON_Duplicate(v, 1);
            }
        } else if (cJSON_IsArray(fe)) {
            rc = expand(x, fe, &list);
        }
        if (rc) return rc;
        if (!cJSON_IsArray(list)) {
            cJSON_Delete(list);
            return xfail(x, "for_each needs a list%s", "");
        }
        const cJSON *as = cJSON_GetObjectItemCaseSensitive(el, "as");
        const char *var = cJSON_IsString(as) ? as->valuestring : "item";
        char idxname[160];
        snprintf(idxname, sizeof idxname, "%s_index", var);
        cJSON *body = cJSON_Duplicate(el, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(body, "for_each");
        cJSON_DeleteItemFromObjectCaseSensitive(body, "as");
        int idx = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, list)
        {
            if (++idx > TPL_MAX_LOOP) {
                rc = xfail(x, "loop too long%s", "");
                break;
            }
            cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(x->scope, var);
            cJSON *oldi = cJSON_DetachItemFromObjectCaseSensitive(x->scope, idxname);
            cJSON_AddItemToObject(x->scope, var, cJSON_Duplicate(e, 1));
            cJSON_AddNumberToObject(x->scope, idxname, idx);
            rc = expand_elem(x, body, arr);
            cJSON_DeleteItemFromObjectCaseSensitive(x->scope, var);
            cJSON_DeleteItemFromObjectCaseSensitive(x->scope, idxname);
            if (old) cJSON_AddItemToObject(x->scope, var, old);
            if (oldi) cJSON_AddItemToObject(x->scope, idxname, oldi);
            if (rc) break;
        }
        cJSON_Delete(body);
        cJSON_Delete(list);
        return rc;
    }
    if (when && !eval_cond(x, when)) return 0;
    cJSON *o = NULL;
    int rc = expand(x, el, &o);
    if (!rc) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, "when");
        cJSON_AddItemToArray(arr, o);
    }
    return rc;
}

static int expand(xctx *x, const cJSON *in, cJSON **out)
{
    *out = NULL;
    if (++x->objects > TPL_MAX_OBJECTS) return xfail(x, "template expands to too many objects%s", "");
    if (cJSON_IsString(in)) return subst(x, in->valuestring, out);
    if (cJSON_IsArray(in)) {
        cJSON *arr = cJSON_CreateArray();
        if (!arr) return PB_ENOMEM;
        int i = 0, rc = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, in)
        {
            size_t saved;
            path_push(x, &saved, NULL, i++);
            rc = expand_elem(x, e, arr);
            if (!rc) x->path[saved] = 0;
            if (rc) break;
        }
        if (rc) {
            cJSON_Delete(arr);
            return rc;
        }
        *out = arr;
        return 0;
    }
    if (cJSON_IsObject(in)) {
        cJSON *obj = cJSON_CreateObject();
        if (!obj) return PB_ENOMEM;
        int rc = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, in)
        {
            if (strcmp(e->string, "when") == 0) continue; /* evaluated by the list that holds it */
            size_t saved;
            path_push(x, &saved, e->string, 0);
            cJSON *v = NULL;
            rc = expand(x, e, &v);
            if (rc) break;
            x->path[saved] = 0;
            cJSON_AddItemToObject(obj, e->string, v);
        }
        if (rc) {
            cJSON_Delete(obj);
            return rc;
        }
        *out = obj;
        return 0;
    }
    *out = cJSON_Duplicate(in, 1);
    return *out ? 0 : PB_ENOMEM;
}

/* ------------------------------------------------------------------ variables */

static int coerce_var(xctx *x, const char *name, const char *type, cJSON *v, cJSON **out, const char *today)
{
    *out = NULL;
    char s[512] = "";
    if (cJSON_IsString(v)) pb_strlcpy(s, v->valuestring, sizeof s);
    if (!strcmp(type, "list")) {
        if (cJSON_IsArray(v)) {
            *out = cJSON_Duplicate(v, 1);
        } else if (cJSON_IsString(v)) {
            *out = cJSON_CreateArray();
            const char *p = v->valuestring;
            while (*out && *p) {
                const char *c = strchr(p, ',');
                size_t n = c ? (size_t)(c - p) : strlen(p);
                const char *q = p;
                trim(&q, &n);
                if (n) {
                    char item[512];
                    snprintf(item, sizeof item, "%.*s", (int)n, q);
                    cJSON_AddItemToArray(*out, cJSON_CreateString(item));
                }
                p = c ? c + 1 : p + strlen(p);
            }
        } else {
            return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' must be a list", name);
        }
        return 0;
    }
    if (!cJSON_IsString(v)) {
        if (!strcmp(type, "string") && (cJSON_IsArray(v) || cJSON_IsObject(v)))
            return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' must be a string", name);
        if (cJSON_IsObject(v) && !strcmp(type, "map")) {
            *out = cJSON_Duplicate(v, 1);
            return 0;
        }
        return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' must be a %s", name, type);
    }
    if (!strcmp(type, "int")) {
        int64_t n;
        if (pb_parse_i64(s, -1000000000000LL, 1000000000000LL, &n))
            return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' must be an integer, got '%s'", name, s);
        *out = cJSON_CreateString(s);
    } else if (!strcmp(type, "bool")) {
        int t = !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") || !strcasecmp(s, "on");
        int f = !strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") || !strcasecmp(s, "off");
        if (!t && !f) return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' must be true or false", name);
        *out = cJSON_CreateString(t ? "true" : "false");
    } else if (!strcmp(type, "date")) {
        char d[11];
        if (date_expr(s, today, today, d))
            return pb_error_field(x->err, PB_EINVAL, name,
                                  "variable '%s' must be a date (YYYY-MM-DD, today, +7d), got '%s'", name, s);
        *out = cJSON_CreateString(d);
    } else if (!strcmp(type, "email")) {
        const char *at = strchr(s, '@');
        if (!at || at == s || !strchr(at, '.') || strchr(s, ' '))
            return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' must be an e-mail address, got '%s'", name, s);
        *out = cJSON_CreateString(s);
    } else if (!strcmp(type, "string")) {
        *out = cJSON_CreateString(v->valuestring);
    } else {
        return pb_error_field(x->err, PB_EINVAL, name, "variable '%s' has unknown type '%s'", name, type);
    }
    return *out ? 0 : PB_ENOMEM;
}

static int build_scope(xctx *x, const cJSON *root, const cJSON *given, const char *today)
{
    const cJSON *decl = cJSON_GetObjectItemCaseSensitive(root, "variables");
    const cJSON *g;
    cJSON_ArrayForEach(g, given)
    {
        if (!decl || !cJSON_GetObjectItemCaseSensitive(decl, g->string))
            return pb_error_field(x->err, PB_EINVAL, g->string, "unknown variable '%s' (not declared by the template)",
                                  g->string);
    }
    const cJSON *d;
    cJSON_ArrayForEach(d, decl)
    {
        const char *type = "string";
        const cJSON *dflt = NULL;
        int required = 0;
        if (cJSON_IsObject(d)) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "type");
            if (cJSON_IsString(t)) type = t->valuestring;
            dflt = cJSON_GetObjectItemCaseSensitive(d, "default");
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "required");
            required = r && truthy(r);
        } else if (cJSON_IsString(d)) {
            type = d->valuestring;
        }
        cJSON *v = given ? cJSON_GetObjectItemCaseSensitive(given, d->string) : NULL;
        if (!v || cJSON_IsNull(v)) v = (cJSON *)(uintptr_t)dflt;
        if (!v || cJSON_IsNull(v)) {
            if (required)
                return pb_error_field(x->err, PB_EINVAL, d->string, "variable '%s' is required", d->string);
            if (!strcmp(type, "list")) cJSON_AddItemToObject(x->scope, d->string, cJSON_CreateArray());
            else if (!strcmp(type, "bool")) cJSON_AddStringToObject(x->scope, d->string, "false");
            else cJSON_AddStringToObject(x->scope, d->string, "");
            continue;
        }
        /* a default may itself use {{other}} variables declared before it */
        cJSON *sv = NULL;
        int rc;
        if (v == dflt && cJSON_IsString(v) && strstr(v->valuestring, "{{")) {
            rc = subst(x, v->valuestring, &sv);
            if (rc) return rc;
            v = sv;
        }
        cJSON *c = NULL;
        rc = coerce_var(x, d->string, type, v, &c, today);
        cJSON_Delete(sv);
        if (rc) return rc;
        cJSON_AddItemToObject(x->scope, d->string, c);
    }
    return 0;
}

/* ------------------------------------------------------------------ spec building */

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(v, *set)) return 1;
    return 0;
}

static const char *const priorities[] = {"urgent", "high", "medium", "low", "none", NULL};
static const char *const groups[] = {"backlog", "unstarted", "started", "completed", "cancelled", NULL};
static const char *const rel_types[] = {"blocked_by", "blocking", "relates_to", "duplicate",
                                        "start_before", "start_after", "finish_before", "finish_after", NULL};
static const char *const mod_status[] = {"backlog", "planned", "in-progress", "paused", "completed", "cancelled", NULL};

static int date_field(xctx *x, const cJSON *src, const char *k, cJSON *dst, const char *dk)
{
    const char *v = str(src, k);
    if (!v || !*v) return 0;
    char d[11];
    if (date_expr(v, x->anchor, x->today, d)) {
        pb_strlcpy(x->path, k, sizeof x->path);
        return xfail(x, "bad date '%s' (YYYY-MM-DD, today, +7d, -2w, DATE+3d)", v);
    }
    cJSON_AddStringToObject(dst, dk, d);
    return 0;
}

static cJSON *str_list(const cJSON *v)
{
    cJSON *a = cJSON_CreateArray();
    if (cJSON_IsString(v) && v->valuestring[0]) {
        cJSON_AddItemToArray(a, cJSON_CreateString(v->valuestring));
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            if (cJSON_IsString(e) && e->valuestring[0]) cJSON_AddItemToArray(a, cJSON_CreateString(e->valuestring));
        }
    }
    return a;
}

static int build_items(xctx *x, const cJSON *list, const char *parent_xid, cJSON *items, cJSON *keys, int depth)
{
    if (depth > 16) return xfail(x, "children nested too deep%s", "");
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, list)
    {
        snprintf(x->path, sizeof x->path, "items%s[%d]", parent_xid ? " (child)" : "", i++);
        if (!cJSON_IsObject(it)) return xfail(x, "an item is a mapping%s", "");
        const char *name = str(it, "name");
        if (!name || !*name) return xfail(x, "an item needs a name%s", "");
        if (strlen(name) > 255) return xfail(x, "item name longer than 255 characters%s", "");
        char key[256];
        const char *k = str(it, "key");
        if (k && *k) pb_tpl_slug(k, key, sizeof key);
        else pb_tpl_slug(name, key, sizeof key);
        if (!key[0]) return xfail(x, "item '%s' needs a key", name);
        if (cJSON_GetObjectItemCaseSensitive(keys, key))
            return xfail(x, "duplicate item key '%s' (give items unique `key:`s)", key);
        char xid[300];
        pb_tpl_xid(xid, sizeof xid, x->tpl, x->instance, "item", key);
        cJSON_AddStringToObject(keys, key, xid);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(items, o);
        cJSON_AddStringToObject(o, "external_id", xid);
        cJSON_AddStringToObject(o, "key", key);
        cJSON_AddStringToObject(o, "name", name);
        const char *md = str(it, "description");
        pb_buf h;
        pb_buf_init(&h, (size_t)1 << 20);
        int rc = pb_md_to_html(md ? md : "", md ? strlen(md) : 0, &h);
        if (!rc) cJSON_AddStringToObject(o, "description_html", pb_buf_cstr(&h));
        pb_buf_free(&h);
        if (rc) return xfail(x, "description too large%s", "");
        const char *pr = str(it, "priority");
        if (pr && *pr) {
            if (!one_of(pr, priorities)) return xfail(x, "priority must be urgent, high, medium, low or none, not '%s'", pr);
            cJSON_AddStringToObject(o, "priority", pr);
        } else {
            cJSON_AddStringToObject(o, "priority", "none");
        }
        const char *st = str(it, "state");
        if (st && *st) cJSON_AddStringToObject(o, "state", st);
        cJSON_AddItemToObject(o, "labels", str_list(cJSON_GetObjectItemCaseSensitive(it, "labels")));
        cJSON_AddItemToObject(o, "assignees", str_list(cJSON_GetObjectItemCaseSensitive(it, "assignees")));
        if (parent_xid) cJSON_AddStringToObject(o, "parent", parent_xid);
        if ((rc = date_field(x, it, "start_date", o, "start_date"))) return rc;
        if ((rc = date_field(x, it, "target_date", o, "target_date"))) return rc;
        if (!cJSON_GetObjectItemCaseSensitive(o, "target_date") && (rc = date_field(x, it, "due", o, "target_date")))
            return rc;
        const char *sd = str(o, "start_date"), *td = str(o, "target_date");
        if (sd && td && strcmp(sd, td) > 0) return xfail(x, "item '%s' starts after its due date", name);
        const char *cy = str(it, "cycle");
        if (cy && *cy) {
            char ck[256];
            pb_tpl_slug(cy, ck, sizeof ck);
            cJSON_AddStringToObject(o, "cycle", ck);
        }
        cJSON *mods = str_list(cJSON_GetObjectItemCaseSensitive(it, "modules"));
        const char *m1 = str(it, "module");
        if (m1 && *m1) cJSON_AddItemToArray(mods, cJSON_CreateString(m1));
        cJSON *mk = cJSON_CreateArray();
        const cJSON *e;
        cJSON_ArrayForEach(e, mods)
        {
            char s[256];
            pb_tpl_slug(e->valuestring, s, sizeof s);
            cJSON_AddItemToArray(mk, cJSON_CreateString(s));
        }
        cJSON_Delete(mods);
        cJSON_AddItemToObject(o, "modules", mk);
        /* relations keep keys here; resolved to external ids once every key is known */
        cJSON *rel = cJSON_CreateObject();
        for (int r = 0; rel_types[r]; r++) {
            const cJSON *rv = cJSON_GetObjectItemCaseSensitive(it, rel_types[r]);
            if (rv) cJSON_AddItemToObject(rel, rel_types[r], str_list(rv));
        }
        cJSON_AddItemToObject(o, "relations", rel);
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(it, "children");
        if (cJSON_IsArray(ch)) {
            char saved[512];
            pb_strlcpy(saved, x->path, sizeof saved);
            rc = build_items(x, ch, xid, items, keys, depth + 1);
            if (rc) return rc;
            pb_strlcpy(x->path, saved, sizeof x->path);
        }
    }
    return 0;
}

static int build_named(xctx *x, const cJSON *proj, const char *k, cJSON *spec, int keyed)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(proj, k);
    cJSON *arr = cJSON_CreateArray();
    cJSON_AddItemToObject(spec, k, arr);
    if (!list) return 0;
    if (!cJSON_IsArray(list)) return xfail(x, "project.%s must be a list", k);
    const cJSON *e;
    int i = 0;
    cJSON *seen = cJSON_CreateObject();
    int rc = 0;
    cJSON_ArrayForEach(e, list)
    {
        snprintf(x->path, sizeof x->path, "project.%s[%d]", k, i++);
        const char *name = cJSON_IsString(e) ? e->valuestring : str(e, "name");
        if (!name || !*name) {
            rc = xfail(x, "needs a name%s", "");
            break;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", name);
        char key[256];
        const char *kk = cJSON_IsObject(e) ? str(e, "key") : NULL;
        pb_tpl_slug(kk && *kk ? kk : name, key, sizeof key);
        if (cJSON_GetObjectItemCaseSensitive(seen, key)) {
            rc = xfail(x, "duplicate name/key '%s'", key);
            break;
        }
        cJSON_AddTrueToObject(seen, key);
        if (keyed) {
            char xid[300];
            pb_tpl_xid(xid, sizeof xid, x->tpl, x->instance, k, key);
            cJSON_AddStringToObject(o, "key", key);
            cJSON_AddStringToObject(o, "external_id", xid);
        }
        if (!cJSON_IsObject(e)) continue;
        const char *v;
        if ((v = str(e, "description"))) cJSON_AddStringToObject(o, "description", v);
        if ((v = str(e, "color"))) cJSON_AddStringToObject(o, "color", v);
        if (!strcmp(k, "states")) {
            v = str(e, "group");
            if (!v || !one_of(v, groups)) {
                rc = xfail(x, "a state needs a group: backlog, unstarted, started, completed or cancelled%s", "");
                break;
            }
            cJSON_AddStringToObject(o, "group", v);
            const cJSON *df = cJSON_GetObjectItemCaseSensitive(e, "default");
            if (df && truthy(df)) cJSON_AddTrueToObject(o, "default");
        } else if (!strcmp(k, "cycles")) {
            if ((rc = date_field(x, e, "start_date", o, "start_date"))) break;
            if ((rc = date_field(x, e, "end_date", o, "end_date"))) break;
            if (!!str(o, "start_date") != !!str(o, "end_date")) {
                snprintf(x->path, sizeof x->path, "project.%s[%d]", k, i - 1);
                rc = xfail(x, "a cycle needs both start_date and end_date, or neither%s", "");
                break;
            }
        } else if (!strcmp(k, "modules")) {
            if ((rc = date_field(x, e, "start_date", o, "start_date"))) break;
            if ((rc = date_field(x, e, "target_date", o, "target_date"))) break;
            v = str(e, "status");
            if (v && *v) {
                if (!one_of(v, mod_status)) {
                    rc = xfail(x, "unknown module status '%s'", v);
                    break;
                }
                cJSON_AddStringToObject(o, "status", v);
            }
        }
    }
    cJSON_Delete(seen);
    return rc;
}

int pb_tpl_expand(const pb_tpl *t, const cJSON *vars, const char *instance, const char *today, cJSON **spec,
                  pb_error *err)
{
    *spec = NULL;
    char td[11];
    if (today && *today) {
        if (pb_tpl_date(today, NULL, td)) return pb_error_set(err, PB_EINVAL, "bad --today date");
    } else {
        today_str(td);
    }
    xctx x;
    memset(&x, 0, sizeof x);
    x.tpl = t->name;
    x.err = err;
    pb_strlcpy(x.today, td, sizeof x.today);
    x.scope = cJSON_CreateObject();
    cJSON *out = NULL, *proj = NULL, *items = NULL;
    int rc = 0;
    if (!x.scope) return pb_error_set(err, PB_ENOMEM, "out of memory");
    cJSON_AddStringToObject(x.scope, "today", td);
    cJSON_AddStringToObject(x.scope, "template", t->name);
    rc = build_scope(&x, t->root, vars, td);
    if (rc) goto out;
    /* anchor date */
    pb_strlcpy(x.anchor, td, sizeof x.anchor);
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(t->root, "anchor_date");
    if (cJSON_IsString(an)) {
        cJSON *a = NULL;
        rc = subst(&x, an->valuestring, &a);
        if (rc) goto out;
        char d[11];
        if (!cJSON_IsString(a) || date_expr(a->valuestring, td, td, d)) {
            cJSON_Delete(a);
            rc = pb_error_field(err, PB_EINVAL, "anchor_date", "anchor_date is not a date");
            goto out;
        }
        cJSON_Delete(a);
        pb_strlcpy(x.anchor, d, sizeof x.anchor);
    }
    snprintf(x.path, sizeof x.path, "project");
    rc = expand(&x, cJSON_GetObjectItemCaseSensitive(t->root, "project"), &proj);
    if (rc) goto out;
    const char *ident = str(proj, "identifier"), *pname = str(proj, "name");
    if (!pname || !*pname || strlen(pname) > 255) {
        rc = pb_error_field(err, PB_EINVAL, "project.name", "project.name is required (at most 255 characters)");
        goto out;
    }
    if (!ident || !*ident || strlen(ident) > 12) {
        rc = pb_error_field(err, PB_EINVAL, "project.identifier", "project.identifier is required (1-12 characters)");
        goto out;
    }
    char inst[256];
    char identu[16];
    size_t il = 0;
    for (const char *p = ident; *p && il < 12; p++) {
        char c = *p;
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
            rc = pb_error_field(err, PB_EINVAL, "project.identifier", "project.identifier may hold letters and digits only, got '%s'", ident);
            goto out;
        }
        identu[il++] = c;
    }
    identu[il] = 0;
    pb_tpl_slug(instance && *instance ? instance : identu, inst, sizeof inst);
    x.instance = inst;
    cJSON_AddStringToObject(x.scope, "instance", inst);
    const cJSON *titems = cJSON_GetObjectItemCaseSensitive(t->root, "items");
    if (titems) {
        snprintf(x.path, sizeof x.path, "items");
        rc = expand(&x, titems, &items);
        if (rc) goto out;
        if (!cJSON_IsArray(items)) {
            rc = pb_error_field(err, PB_EINVAL, "items", "items must be a list");
            goto out;
        }
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "external_source", "planebridge");
    cJSON_AddStringToObject(out, "template", t->name);
    cJSON_AddStringToObject(out, "instance", inst);
    cJSON_AddStringToObject(out, "today", td);
    cJSON *po = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "project", po);
    char xid[300];
    pb_tpl_xid(xid, sizeof xid, t->name, inst, "project", "");
    cJSON_AddStringToObject(po, "external_id", xid);
    cJSON_AddStringToObject(po, "name", pname);
    cJSON_AddStringToObject(po, "identifier", identu);
    const char *pd = str(proj, "description");
    cJSON_AddStringToObject(po, "description", pd ? pd : "");
    const cJSON *feat = cJSON_GetObjectItemCaseSensitive(proj, "features");
    static const char *const fk[][2] = {{"cycles", "cycle_view"}, {"modules", "module_view"},
                                        {"views", "issue_views_view"}, {"pages", "page_view"},
                                        {"intake", "intake_view"}};
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(proj, "cycles");
    const cJSON *pm = cJSON_GetObjectItemCaseSensitive(proj, "modules");
    for (size_t i = 0; i < sizeof fk / sizeof fk[0]; i++) {
        const cJSON *f = feat ? cJSON_GetObjectItemCaseSensitive(feat, fk[i][0]) : NULL;
        int on = f ? truthy(f) : 0;
        if (i == 0 && cJSON_GetArraySize(pc) > 0) on = 1;
        if (i == 1 && cJSON_GetArraySize(pm) > 0) on = 1;
        if (f || on) cJSON_AddBoolToObject(po, fk[i][1], on);
    }
    /* members */
    cJSON *mem = cJSON_CreateArray();
    cJSON_AddItemToObject(out, "members", mem);
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(proj, "members"))
    {
        const char *email = cJSON_IsString(m) ? m->valuestring : str(m, "email");
        if (!email || !*email) continue; /* an optional e-mail variable left empty */
        const char *role = cJSON_IsObject(m) ? str(m, "role") : NULL;
        int r = 15;
        if (role && !strcmp(role, "admin")) r = 20;
        else if (role && !strcmp(role, "guest")) r = 5;
        else if (role && strcmp(role, "member")) {
            rc = pb_error_field(err, PB_EINVAL, "project.members", "member role must be admin, member or guest");
            goto out;
        }
        cJSON *mo = cJSON_CreateObject();
        cJSON_AddStringToObject(mo, "email", email);
        cJSON_AddNumberToObject(mo, "role", r);
        cJSON_AddItemToArray(mem, mo);
    }
    if ((rc = build_named(&x, proj, "states", out, 0))) goto out;
    if ((rc = build_named(&x, proj, "labels", out, 0))) goto out;
    if ((rc = build_named(&x, proj, "cycles", out, 1))) goto out;
    if ((rc = build_named(&x, proj, "modules", out, 1))) goto out;
    cJSON *sitems = cJSON_CreateArray();
    cJSON_AddItemToObject(out, "items", sitems);
    cJSON *keys = cJSON_CreateObject();
    rc = items ? build_items(&x, items, NULL, sitems, keys, 0) : 0;
    /* resolve keys: relations, cycles and modules must name known objects */
    const cJSON *it;
    cJSON_ArrayForEach(it, sitems)
    {
        if (rc) break;
        snprintf(x.path, sizeof x.path, "items[%s]", str(it, "key"));
        cJSON *rel = cJSON_GetObjectItemCaseSensitive(it, "relations");
        cJSON *r;
        cJSON_ArrayForEach(r, rel)
        {
            cJSON *e;
            cJSON_ArrayForEach(e, r)
            {
                char k[256];
                pb_tpl_slug(e->valuestring, k, sizeof k);
                const char *tx = str(keys, k);
                if (!tx) {
                    rc = xfail(&x, "relation names unknown item key '%s'", e->valuestring);
                    break;
                }
                cJSON_SetValuestring(e, tx);
            }
            if (rc) break;
        }
        const char *cy = str(it, "cycle");
        int found = !cy;
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(out, "cycles"))
        {
            if (cy && !strcmp(str(c, "key"), cy)) found = 1;
        }
        if (!rc && !found) rc = xfail(&x, "unknown cycle key '%s'", cy);
        const cJSON *mm;
        cJSON_ArrayForEach(mm, cJSON_GetObjectItemCaseSensitive(it, "modules"))
        {
            int f2 = 0;
            cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(out, "modules"))
            {
                if (!strcmp(str(c, "key"), mm->valuestring)) f2 = 1;
            }
            if (!rc && !f2) rc = xfail(&x, "unknown module key '%s'", mm->valuestring);
        }
    }
    cJSON_Delete(keys);
out:
    cJSON_Delete(x.scope);
    cJSON_Delete(proj);
    cJSON_Delete(items);
    if (rc) {
        cJSON_Delete(out);
        return rc < 0 ? rc : PB_EINVAL;
    }
    *spec = out;
    return 0;
}
