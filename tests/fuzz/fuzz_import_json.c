/* libFuzzer target: the JSON importers of populate (populate/importer): Jira JSON export ->
 * spec + row report, and a planebridge project export -> spec; plus the Jira status mapping.
 *
 * The input is the file (exact-size heap copy, no terminator). Invariants: success gives a
 * spec object (and a rows array for Jira), failure gives neither; importing is deterministic;
 * the Jira group is one of Plane's five state groups. */
#include "core/log.h"
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

static char *print(const cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s) abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pb_log_level = PB_LOG_OFF;
    if (size > 256 * 1024) return 0;
    char *buf = malloc(size ? size : 1);
    if (!buf) abort();
    if (size) memcpy(buf, data, size);

    cJSON *spec = NULL, *rows = NULL, *spec2 = NULL, *rows2 = NULL;
    int rc = pb_import_jira_json(buf, size, &spec, &rows, NULL);
    if (rc == 0) {
        if (!cJSON_IsObject(spec) || !cJSON_IsArray(rows)) abort();
        if (pb_import_jira_json(buf, size, &spec2, &rows2, NULL) != 0) abort();
        char *a = print(spec), *b = print(spec2);
        if (strcmp(a, b) != 0) abort();
        free(a);
        free(b);
    } else if (spec) {
        abort();
    }
    cJSON_Delete(spec);
    cJSON_Delete(rows);
    cJSON_Delete(spec2);
    cJSON_Delete(rows2);

    spec = NULL;
    rc = pb_import_project_json(buf, size, &spec, NULL);
    if (rc == 0 && !cJSON_IsObject(spec)) abort();
    if (rc != 0 && spec) abort();
    cJSON_Delete(spec);

    /* the status mapping, on the first two lines of the input */
    const char *nl = memchr(buf, '\n', size);
    if (nl && (size_t)(nl - buf) < 64) {
        char cat[64], name[64];
        size_t n = (size_t)(nl - buf);
        memcpy(cat, buf, n);
        cat[n] = '\0';
        size_t m = size - n - 1 < 63 ? size - n - 1 : 63;
        memcpy(name, nl + 1, m);
        name[m] = '\0';
        const char *g = pb_import_jira_group(cat, name);
        static const char *const groups[] = {"backlog", "unstarted", "started", "completed", "cancelled", NULL};
        int ok = 0;
        for (int i = 0; groups[i]; i++) ok |= g && strcmp(g, groups[i]) == 0;
        if (!ok) abort();
    }
    free(buf);
    return 0;
}
