/* libFuzzer target: YAML -> JSON (populate/yamljson), the template loader and expander
 * (populate/template: variables, for_each/when, {{...}} substitution, relative dates, slugs,
 * external ids) and the variable-file and "name=value" readers.
 *
 * Input layout: "<template YAML>\n#%%\n<variables YAML>\n#%%\n<name=value>\n<date expr>"
 * (later parts optional; "#%%" is a YAML comment, so the whole input is also fed to
 * pb_yaml_to_json as one document). Each part is an exact-size heap copy so ASan catches
 * over-reads. Expansion uses a fixed "today" and instance, so it is deterministic.
 * Invariants: yaml_to_json gives a tree or an error, never both; an expanded spec is an
 * object and expanding twice gives the same bytes; a date that parses is YYYY-MM-DD. */
#include "core/log.h"
#include "core/util.h"
#include "populate/template.h"
#include "populate/yamljson.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undefined behaviour is a finding too: stop at the first report (the fuzz build's UBSan
 * checks are recoverable, so without this a report scrolls by and the run "passes"). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

static const char SEP[] = "\n#%%\n";

/* Next part of [*p, end) up to SEP (or the end), as an exact-size heap copy; *n its length. */
static char *part(const char **p, const char *end, size_t *n)
{
    if (!*p || *p > end) {
        *n = 0;
        return NULL;
    }
    const char *s = *p, *stop = NULL;
    for (const char *q = s; q + 5 <= end; q++)
        if (memcmp(q, SEP, 5) == 0) {
            stop = q;
            break;
        }
    size_t l = (size_t)((stop ? stop : end) - s);
    char *out = malloc(l ? l : 1);
    if (!out) abort();
    if (l) memcpy(out, s, l);
    *n = l;
    *p = stop ? stop + 5 : NULL;
    return out;
}

static char *cstr(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (!o) abort();
    if (n) memcpy(o, s, n);
    o[n] = '\0';
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_log_level = PB_LOG_OFF;
    if (size > 64 * 1024) return 0;
    const char *p = (const char *)data, *end = p + size;

    /* the whole input as one YAML document */
    char *all = malloc(size ? size : 1);
    if (!all) abort();
    if (size) memcpy(all, data, size);
    cJSON *tree = NULL;
    pb_error err = {0};
    int rc = pb_yaml_to_json(all, size, &tree, &err);
    if ((rc == 0) != (tree != NULL)) abort();
    cJSON_Delete(tree);
    free(all);

    size_t tl, vl, kl;
    char *tpl = part(&p, end, &tl);
    char *vars_txt = part(&p, end, &vl);
    char *rest = part(&p, end, &kl);

    cJSON *vars = NULL;
    if (vars_txt) (void)pb_tpl_vars_merge_text(&vars, vars_txt, vl, NULL);
    char *kv = NULL, *date = NULL;
    if (rest) {
        const char *nl = memchr(rest, '\n', kl);
        kv = cstr(rest, nl ? (size_t)(nl - rest) : kl);
        if (nl) date = cstr(nl + 1, kl - (size_t)(nl + 1 - rest));
        (void)pb_tpl_vars_set(&vars, kv, NULL);
    }

    pb_tpl *t = NULL;
    if (pb_tpl_load(tpl, tl, &t, &err) == 0) {
        if (!t || !pb_tpl_name(t)) abort();
        cJSON *s1 = NULL, *s2 = NULL;
        int r1 = pb_tpl_expand(t, vars, "fuzz", "2026-11-22", &s1, NULL);
        if (r1 == 0) {
            if (!cJSON_IsObject(s1)) abort();
            int r2 = pb_tpl_expand(t, vars, "fuzz", "2026-11-22", &s2, NULL);
            if (r2 != 0) abort();
            char *a = cJSON_PrintUnformatted(s1), *b = cJSON_PrintUnformatted(s2);
            if (!a || !b || strcmp(a, b) != 0) abort(); /* deterministic */
            free(a);
            free(b);
        } else if (s1) {
            abort();
        }
        cJSON_Delete(s1);
        cJSON_Delete(s2);
        pb_tpl_free(t);
    } else if (t) {
        abort();
    }

    if (date) {
        char out[11];
        if (pb_tpl_date(date, "2026-11-22", out) == 0 && pb_date_valid(out) != 0) abort();
        char slug[64];
        pb_tpl_slug(date, slug, sizeof slug);
        for (const char *c = slug; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) abort();
        char xid[300];
        pb_tpl_xid(xid, sizeof xid, kv, date, "item", date);
        if (strlen(xid) > 255) abort();
    }
    cJSON_Delete(vars);
    free(tpl);
    free(vars_txt);
    free(rest);
    free(kv);
    free(date);
    return 0;
}
