/* normalize: UTC timestamps and canonical JSON for the mirror and verify (sync.h). */
#include "core/buf.h"
#include "core/util.h"
#include "sync/sync.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int looks_like_datetime(const char *s)
{
    size_t n = strlen(s);
    return n >= 19 && n <= 40 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') && s[13] == ':' &&
           s[16] == ':';
}

void pb_sync_normalize(cJSON *o)
{
    if (!o) return;
    for (cJSON *c = o->child; c; c = c->next) {
        if (cJSON_IsString(c) && c->valuestring && looks_like_datetime(c->valuestring)) {
            int64_t us = 0;
            if (pb_time_parse(c->valuestring, &us) == 0) {
                char iso[40];
                int64_t back = 0;
                pb_time_iso(us, iso, sizeof iso);
                /* only a rewrite that parses back to the same instant (years 1..9999): an
                 * instant outside that range is kept as the upstream wrote it */
                if (strcmp(iso, c->valuestring) != 0 && pb_time_parse(iso, &back) == 0 && back == us)
                    cJSON_SetValuestring(c, iso);
            }
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            pb_sync_normalize(c);
        }
    }
}

/* An object member with its key as it will be written (JSON-escaped, invalid UTF-8 replaced):
 * members are sorted on that text so the output is a fixed point of parse + canonicalise. */
typedef struct member {
    const cJSON *item;
    char *key; /* escaped key with quotes, malloc'd */
} member;

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const member *)a)->key, ((const member *)b)->key);
}

static int canon(pb_buf *b, const cJSON *o, int depth)
{
    if (depth > 64) return PB_EDEPTH;
    int rc = 0;
    if (cJSON_IsObject(o)) {
        size_t n = 0;
        for (const cJSON *c = o->child; c; c = c->next) n++;
        member *v = n ? calloc(n, sizeof *v) : NULL;
        if (n && !v) return PB_ENOMEM;
        size_t k = 0;
        for (const cJSON *c = o->child; c && !rc; c = c->next, k++) {
            pb_buf kb;
            pb_buf_init(&kb, (size_t)1 << 20);
            rc = pb_buf_json_str(&kb, c->string ? c->string : "");
            if (!rc && !kb.data) rc = pb_buf_puts(&kb, "");
            v[k].item = c;
            v[k].key = rc ? NULL : pb_buf_steal(&kb);
            if (!rc && !v[k].key) rc = PB_ENOMEM;
            if (rc) pb_buf_free(&kb);
        }
        if (!rc && n > 1) qsort(v, n, sizeof *v, member_cmp);
        if (!rc) rc = pb_buf_putc(b, '{');
        for (size_t i = 0; !rc && i < n; i++) {
            if (i) rc = pb_buf_putc(b, ',');
            if (!rc) rc = pb_buf_puts(b, v[i].key);
            if (!rc) rc = pb_buf_putc(b, ':');
            if (!rc) rc = canon(b, v[i].item, depth + 1);
        }
        for (size_t i = 0; i < n; i++) free(v[i].key);
        free(v);
        if (!rc) rc = pb_buf_putc(b, '}');
    } else if (cJSON_IsArray(o)) {
        rc = pb_buf_putc(b, '[');
        int first = 1;
        for (const cJSON *c = o->child; !rc && c; c = c->next) {
            if (!first) rc = pb_buf_putc(b, ',');
            first = 0;
            if (!rc) rc = canon(b, c, depth + 1);
        }
        if (!rc) rc = pb_buf_putc(b, ']');
    } else if (cJSON_IsString(o)) {
        rc = pb_buf_json_str(b, o->valuestring ? o->valuestring : "");
    } else if (cJSON_IsNumber(o)) {
        double d = o->valuedouble;
        /* range first: casting a double outside int64 is undefined behaviour; a number
         * beyond double range (1e999) parses as infinity, which JSON cannot hold: null, as cJSON */
        if (!isfinite(d))
            rc = pb_buf_puts(b, "null");
        else if (d < 9e15 && d > -9e15 && d == (double)(int64_t)d)
            rc = pb_buf_printf(b, "%lld", (long long)(int64_t)d);
        else
            rc = pb_buf_printf(b, "%.17g", d);
    } else if (cJSON_IsTrue(o)) {
        rc = pb_buf_puts(b, "true");
    } else if (cJSON_IsFalse(o)) {
        rc = pb_buf_puts(b, "false");
    } else {
        rc = pb_buf_puts(b, "null");
    }
    return rc;
}

char *pb_sync_canonical(const cJSON *o)
{
    pb_buf b;
    pb_buf_init(&b, (size_t)16 << 20);
    if (canon(&b, o, 0)) {
        pb_buf_free(&b);
        return NULL;
    }
    if (!b.data && pb_buf_puts(&b, "")) return NULL;
    return pb_buf_steal(&b);
}
