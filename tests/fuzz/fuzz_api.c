/* libFuzzer target: the Plane API's input parsers (api/common): request-body JSON with its
 * depth/UTF-8/lexical checks and the typed field readers, the pagination cursor and per_page
 * parser, the envelope writer, and fields/expand lists.
 *
 * Input layout: "<per_page>\n<cursor>\n<fields>\n<json body...>" (missing parts are NULL). Each
 * piece is an exact-size heap copy so ASan catches over-reads. Invariants: a parsed body is an
 * object or an error; an accepted page has 1 <= per_page <= 1000 and a non-negative offset; the
 * envelope is valid JSON; fields never exceed their cap. */
#include "api/common.h"
#include "core/buf.h"
#include "core/log.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *piece(const uint8_t **p, const uint8_t *end, int last)
{
    if (*p > end) return NULL;
    const uint8_t *nl = last ? NULL : memchr(*p, '\n', (size_t)(end - *p));
    const uint8_t *stop = nl ? nl : end;
    size_t n = (size_t)(stop - *p);
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end + 1;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_log_level = PB_LOG_OFF;
    const uint8_t *p = data, *end = data + size;
    char *per_page = piece(&p, end, 0);
    char *cursor = piece(&p, end, 0);
    char *fields = piece(&p, end, 0);
    size_t blen = p <= end ? (size_t)(end - p) : 0;
    char *body = malloc(blen + 1);
    if (!body) abort();
    if (blen) memcpy(body, p, blen);
    body[blen] = '\0';

    pb_api_page pg;
    char msg[128];
    if (pb_api_page_parse(per_page, cursor, &pg, msg, sizeof msg) == 0) {
        if (pg.per_page < 1 || pg.per_page > PB_API_PER_PAGE_MAX || pg.offset < 0 || pg.page < 0) abort();
        pb_buf b;
        pb_buf_init(&b, 1 << 16);
        int64_t total = (int64_t)(size * 37);
        if (pb_api_envelope_begin(&b, &pg, total) || pb_api_envelope_end(&b)) abort();
        cJSON *env = cJSON_Parse(pb_buf_cstr(&b));
        if (!env) abort();
        cJSON_Delete(env);
        pb_buf_free(&b);
    }
    double v;
    int64_t page;
    int prev;
    (void)pb_api_cursor_parse(cursor, &v, &page, &prev);

    pb_api_fields f;
    pb_api_fields_parse(fields, &f);
    if (f.n < 0 || f.n > PB_API_FIELDS_MAX) abort();
    for (int i = 0; i < f.n; i++)
        if (!f.names[i][0]) abort();

    cJSON *j = NULL;
    pb_error err = {0};
    if (pb_api_parse_json(body, blen, &j, &err) == 0) {
        if (!j) abort();
        pb_api_verr ve = {0};
        const char *s;
        char u[37], d[11];
        int bo;
        int64_t n;
        double dd;
        char(*ids)[37] = NULL;
        size_t nids = 0;
        pb_api_get_str(j, "name", 0, 0, 255, &s, &ve);
        pb_api_get_uuid(j, "state", 1, u, &ve);
        pb_api_get_date(j, "start_date", 1, d, &ve);
        pb_api_get_bool(j, "is_draft", &bo, &ve);
        pb_api_get_int(j, "point", 0, 12, &n, &ve);
        pb_api_get_double(j, "sort_order", &dd, &ve);
        if (pb_api_get_uuid_list(j, "labels", 200, &ids, &nids, &ve) && nids > 200) abort();
        free(ids);
        pb_api_fields_apply(j, &f);
        pb_api_verr_free(&ve);
        cJSON_Delete(j);
    } else if (j) {
        abort();
    }
    free(per_page);
    free(cursor);
    free(fields);
    free(body);
    return 0;
}
