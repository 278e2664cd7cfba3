/* libFuzzer target: what the sync side does to every row an upstream Plane answers: the
 * datetime normalisation to UTC (pb_sync_normalize, over pb_time_parse/pb_time_iso) and the
 * canonical JSON used to compare rows (pb_sync_canonical), on a depth-checked parse
 * (pb_json_parse).
 *
 * The input is the upstream JSON (exact-size heap copy). Invariants: normalising is
 * idempotent (normalise + canonicalise, parse that back, do it again: same bytes); every
 * string the normaliser rewrote is a "...Z" ISO timestamp that parses back to the same
 * instant; the canonical text is valid JSON. */
#include "core/util.h"
#include "deliver/format.h"
#include "sync/sync.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
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

/* Walks the original and the normalised tree in step (normalising never changes shape). */
static void check_pairs(const cJSON *a, const cJSON *b, int depth)
{
    if (depth > 80) return;
    for (; a && b; a = a->next, b = b->next) {
        if (cJSON_IsString(a) && cJSON_IsString(b) && strcmp(a->valuestring, b->valuestring) != 0) {
            int64_t ua = 0, ub = 0;
            size_t n = strlen(b->valuestring);
            if (n < 20 || b->valuestring[n - 1] != 'Z') abort();
            if (pb_time_parse(a->valuestring, &ua) || pb_time_parse(b->valuestring, &ub) || ua != ub) {
                fprintf(stderr, "'%s' -> '%s' (%lld vs %lld)\n", a->valuestring, b->valuestring, (long long)ua,
                        (long long)ub);
                abort();
            }
        }
        if ((a->type & 0xff) != (b->type & 0xff)) abort();
        check_pairs(a->child, b->child, depth + 1);
    }
    if (a || b) abort();
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024) return 0;
    char *buf = malloc(size ? size : 1);
    if (!buf) abort();
    if (size) memcpy(buf, data, size);
    cJSON *orig = pb_json_parse(buf, size);
    free(buf);
    if (!orig) return 0;
    if (!pb_json_depth_ok(orig, PB_JSON_MAX_DEPTH)) abort(); /* the parser's own contract */
    cJSON *o = cJSON_Duplicate(orig, 1);
    if (!o) abort();
    pb_sync_normalize(o);
    check_pairs(orig, o, 0);
    char *c1 = pb_sync_canonical(o);
    if (c1) {
        cJSON *back = cJSON_Parse(c1);
        if (!back) {
            fprintf(stderr, "canonical JSON does not parse: %s\n", c1);
            abort();
        }
        pb_sync_normalize(back);
        char *c2 = pb_sync_canonical(back);
        if (!c2 || strcmp(c1, c2) != 0) {
            fprintf(stderr, "not idempotent:\n%s\n%s\n", c1, c2 ? c2 : "(null)");
            abort();
        }
        free(c2);
        cJSON_Delete(back);
        free(c1);
    }
    cJSON_Delete(o);
    cJSON_Delete(orig);
    return 0;
}
