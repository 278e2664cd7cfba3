/* libFuzzer target: the CSV reader (populate/csv) and the CSV importers built on it (Plane
 * CSV and Jira CSV -> populate spec + row report).
 *
 * The whole input is one CSV file, passed as an exact-size heap copy (no NUL terminator
 * past the end) so ASan catches any over-read. Invariants: a parsed table has no NULL field,
 * line numbers never go backwards, pb_csv_get past the end is "", parsing is deterministic;
 * an importer that succeeds returns a spec object and a rows array, one that fails returns
 * neither. */
#include "core/log.h"
#include "populate/csv.h"
#include "populate/importer.h"

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

static void check_import(int rc, cJSON *spec, cJSON *rows)
{
    if (rc == 0) {
        if (!cJSON_IsObject(spec) || !cJSON_IsArray(rows)) abort();
        char *s = cJSON_PrintUnformatted(spec);
        if (!s) abort();
        free(s);
    }
    cJSON_Delete(spec);
    cJSON_Delete(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_log_level = PB_LOG_OFF;
    if (size > 256 * 1024) return 0;
    char *buf = malloc(size ? size : 1);
    if (!buf) abort();
    if (size) memcpy(buf, data, size);

    pb_csv *t = NULL, *t2 = NULL;
    pb_error err = {0};
    int rc = pb_csv_parse(buf, size, &t, &err);
    int rc2 = pb_csv_parse(buf, size, &t2, NULL);
    if (rc != rc2) abort();
    if (rc == 0) {
        if (!t || !t2 || t->n != t2->n) abort();
        int last = 0;
        for (size_t i = 0; i < t->n; i++) {
            const pb_csv_record *r = &t->r[i];
            if (r->line < last || r->n != t2->r[i].n) abort();
            last = r->line;
            for (size_t j = 0; j < r->n; j++)
                if (!r->f[j] || strcmp(r->f[j], t2->r[i].f[j]) != 0) abort();
            if (strcmp(pb_csv_get(r, (int)r->n), "") != 0) abort();
        }
        if (t->n) {
            int c = pb_csv_col(t, "name");
            if (c >= 0 && (size_t)c >= t->r[0].n) abort();
        }
    } else if (t) {
        abort();
    }
    pb_csv_free(t);
    pb_csv_free(t2);

    cJSON *spec = NULL, *rows = NULL;
    check_import(pb_import_plane_csv(buf, size, &spec, &rows, NULL), spec, rows);
    spec = rows = NULL;
    check_import(pb_import_jira_csv(buf, size, &spec, &rows, NULL), spec, rows);
    free(buf);
    return 0;
}
