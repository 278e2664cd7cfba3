/* importer: CSV / Jira imports, project export/import. See importer.h. */
#include "populate/importer.h"

#include "core/buf.h"
#include "core/util.h"
#include "populate/csv.h"
#include "populate/markdown.h"
#include "populate/template.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMP_MAX_JSON_DEPTH 64

static const char *js(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static cJSON *new_spec(const char *src)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "external_source", src);
    cJSON_AddStringToObject(s, "template", "import");
    static const char *const k[] = {"members", "states", "labels", "cycles", "modules", "items", NULL};
    for (int i = 0; k[i]; i++) cJSON_AddItemToObject(s, k[i], cJSON_CreateArray());
    return s;
}

static void row_note(cJSON *rows, int line, const char *key, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void row_note(cJSON *rows, int line, const char *key, const char *what, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", line);
    if (key && *key) cJSON_AddStringToObject(o, "key", key);
    cJSON_AddStringToObject(o, what, msg);
    cJSON_AddItemToArray(rows, o);
}

static int is_blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return 0;
    return 1;
}

static char *trimdup(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    char *o = malloc(n + 1);
    if (o) {
        memcpy(o, s, n);
        o[n] = 0;
    }
    return o;
}

static void add_trimmed(cJSON *o, const char *k, const char *v)
{
    char *t = trimdup(v);
    cJSON_AddStringToObject(o, k, t ? t : "");
    free(t);
}

static void md_html(cJSON *o, const char *text)
{
    pb_buf b;
    pb_buf_init(&b, (size_t)1 << 20);
    pb_md_to_html(text ? text : "", text ? strlen(text) : 0, &b);
    cJSON_AddStringToObject(o, "description_html", pb_buf_cstr(&b));
    pb_buf_free(&b);
}

/* Splits labels on ';', ',' and (Jira) spaces into the item's label list (deduplicated). */
static void add_labels(cJSON *labels, const char *s, int split_space)
{
    char cur[256];
    size_t n = 0;
    for (const char *p = s;; p++) {
        int sep = !*p || *p == ';' || *p == ',' || (split_space && (*p == ' ' || *p == '\n'));
        if (!sep && n + 1 < sizeof cur) {
            cur[n++] = *p;
            continue;
        }
        if (sep) {
            cur[n] = 0;
            char *t = trimdup(cur);
            int dup = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, labels)
            {
                if (t && !strcmp(e->valuestring, t)) dup = 1;
            }
            if (t && *t && !dup) cJSON_AddItemToArray(labels, cJSON_CreateString(t));
            free(t);
            n = 0;
        }
        if (!*p) break;
    }
}

static const char *const priorities[] = {"urgent", "high", "medium", "low", "none", NULL};
static const char *const groups[] = {"backlog", "unstarted", "started", "completed", "cancelled", NULL};

static int one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(v, *set)) return 1;
    return 0;
}

/* Drops parents that name no row of the file (with a warning) and reports a parent cycle. */
static void check_parents(cJSON *spec, cJSON *rows)
{
    cJSON *items = cJSON_GetObjectItemCaseSensitive(spec, "items");
    cJSON *known = cJSON_CreateObject();
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        if (js(it, "external_id")) cJSON_AddTrueToObject(known, js(it, "external_id"));
    }
    cJSON *e;
    cJSON_ArrayForEach(e, items)
    {
        const char *par = js(e, "parent");
        if (!par) continue;
        if (!cJSON_GetObjectItemCaseSensitive(known, par) || !strcmp(par, js(e, "external_id"))) {
            const cJSON *ln = cJSON_GetObjectItemCaseSensitive(e, "_line");
            row_note(rows, cJSON_IsNumber(ln) ? ln->valueint : 0, js(e, "external_id"), "warning",
                     "parent '%s' is not in the file; imported without a parent", par);
            cJSON_DeleteItemFromObjectCaseSensitive(e, "parent");
        }
    }
    /* parent chains that loop: break them at the first repeated item */
    cJSON_ArrayForEach(e, items)
    {
        const char *cur = js(e, "parent");
        int steps = 0, n = cJSON_GetArraySize(items);
        while (cur && steps++ <= n) {
            const cJSON *p = NULL, *x;
            cJSON_ArrayForEach(x, items)
            {
                if (js(x, "external_id") && !strcmp(js(x, "external_id"), cur)) p = x;
            }
            cur = p ? js(p, "parent") : NULL;
        }
        if (cur) {
            const cJSON *ln = cJSON_GetObjectItemCaseSensitive(e, "_line");
            row_note(rows, cJSON_IsNumber(ln) ? ln->valueint : 0, js(e, "external_id"), "warning",
                     "parent chain loops; imported without a parent%s", "");
            cJSON_DeleteItemFromObjectCaseSensitive(e, "parent");
        }
    }
    cJSON_ArrayForEach(e, items) cJSON_DeleteItemFromObjectCaseSensitive(e, "_line");
    cJSON_Delete(known);
}

/* ------------------------------------------------------------------ Plane CSV */

int pb_import_plane_csv(const char *text, size_t len, cJSON **spec, cJSON **rows, pb_error *err)
{
    *spec = NULL;
    *rows = NULL;
    pb_csv *t = NULL;
    int rc = pb_csv_parse(text, len, &t, err);
    if (rc) return rc;
    if (t->n == 0) {
        pb_csv_free(t);
        return pb_error_set(err, PB_EINVAL, "empty CSV");
    }
    int c_name = pb_csv_col(t, "name"), c_desc = pb_csv_col(t, "description_html"), c_pr = pb_csv_col(t, "priority"),
        c_sd = pb_csv_col(t, "start_date"), c_td = pb_csv_col(t, "target_date"), c_sg = pb_csv_col(t, "state_group"),
        c_xid = pb_csv_col(t, "external_id"), c_par = pb_csv_col(t, "parent"), c_lab = pb_csv_col(t, "labels"),
        c_state = pb_csv_col(t, "state");
    if (c_name < 0) {
        pb_csv_free(t);
        return pb_error_field(err, PB_EINVAL, "name", "the CSV has no 'name' column");
    }
    cJSON *s = new_spec("csv"), *r = cJSON_CreateArray();
    cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    cJSON *seen = cJSON_CreateObject();   /* external id -> 1 */
    cJSON *byname = cJSON_CreateObject(); /* name -> external id (for parent by name) */
    cJSON *parents = cJSON_CreateArray(); /* [item, parent text] pairs resolved at the end */
    for (size_t i = 1; i < t->n; i++) {
        const pb_csv_record *rec = &t->r[i];
        const char *name = pb_csv_get(rec, c_name);
        if (rec->error) {
            row_note(r, rec->line, NULL, "error", "malformed CSV record: %s", rec->error);
            continue;
        }
        if (rec->n < t->r[0].n && rec->n <= (size_t)c_name) {
            row_note(r, rec->line, NULL, "error", "row has %zu fields, the header %zu", rec->n, t->r[0].n);
            continue;
        }
        if (is_blank(name)) {
            row_note(r, rec->line, NULL, "error", "missing name%s", "");
            continue;
        }
        if (strlen(name) > 255) {
            row_note(r, rec->line, NULL, "error", "name longer than 255 characters%s", "");
            continue;
        }
        char xid[300];
        const char *given = pb_csv_get(rec, c_xid);
        if (!is_blank(given)) {
            char *tg = trimdup(given);
            snprintf(xid, sizeof xid, "%s", tg ? tg : "");
            free(tg);
        } else {
            char sl[240];
            pb_tpl_slug(name, sl, sizeof sl);
            if (!sl[0]) pb_tpl_xid(sl, sizeof sl, "n", name, "", "");
            snprintf(xid, sizeof xid, "csv:%s", sl);
            for (int k = 2; cJSON_GetObjectItemCaseSensitive(seen, xid) && k < 100000; k++)
                snprintf(xid, sizeof xid, "csv:%.230s-%d", sl, k);
        }
        if (cJSON_GetObjectItemCaseSensitive(seen, xid)) {
            row_note(r, rec->line, xid, "error", "duplicate external_id%s", "");
            continue;
        }
        const char *pr = pb_csv_get(rec, c_pr);
        char prl[32];
        snprintf(prl, sizeof prl, "%s", is_blank(pr) ? "none" : pr);
        for (char *p = prl; *p; p++)
            if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
        char *prt = trimdup(prl);
        int okp = prt && one_of(prt, priorities);
        if (!okp) {
            row_note(r, rec->line, xid, "error", "bad priority '%s' (urgent, high, medium, low, none)", pr);
            free(prt);
            continue;
        }
        const char *sd = pb_csv_get(rec, c_sd), *td = pb_csv_get(rec, c_td), *sg = pb_csv_get(rec, c_sg);
        char *sdt = trimdup(sd), *tdt = trimdup(td), *sgt = trimdup(sg);
        const char *bad = NULL;
        if (sdt && *sdt && pb_date_valid(sdt)) bad = "bad start_date (YYYY-MM-DD)";
        else if (tdt && *tdt && pb_date_valid(tdt)) bad = "bad target_date (YYYY-MM-DD)";
        else if (sdt && *sdt && tdt && *tdt && strcmp(sdt, tdt) > 0) bad = "start_date after target_date";
        else if (sgt && *sgt && !one_of(sgt, groups)) bad = "bad state_group (backlog, unstarted, started, completed, cancelled)";
        if (bad) {
            row_note(r, rec->line, xid, "error", "%s", bad);
            free(prt);
            free(sdt);
            free(tdt);
            free(sgt);
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "external_id", xid);
        add_trimmed(o, "name", name);
        const char *d = pb_csv_get(rec, c_desc);
        if (!is_blank(d) && d[strspn(d, " \t\r\n")] == '<') {
            cJSON_AddStringToObject(o, "description_html", d);
        } else {
            /* plain text: escaped into paragraphs */
            md_html(o, d);
        }
        cJSON_AddStringToObject(o, "priority", prt);
        if (sdt && *sdt) cJSON_AddStringToObject(o, "start_date", sdt);
        if (tdt && *tdt) cJSON_AddStringToObject(o, "target_date", tdt);
        if (sgt && *sgt) cJSON_AddStringToObject(o, "state_group", sgt);
        const char *stn = pb_csv_get(rec, c_state);
        if (!is_blank(stn)) add_trimmed(o, "state", stn);
        cJSON *labels = cJSON_CreateArray();
        add_labels(labels, pb_csv_get(rec, c_lab), 0);
        cJSON_AddItemToObject(o, "labels", labels);
        cJSON_AddItemToObject(o, "assignees", cJSON_CreateArray());
        cJSON_AddItemToObject(o, "modules", cJSON_CreateArray());
        cJSON_AddItemToObject(o, "relations", cJSON_CreateObject());
        cJSON_AddNumberToObject(o, "_line", rec->line);
        free(prt);
        free(sdt);
        free(tdt);
        free(sgt);
        cJSON_AddItemToArray(items, o);
        cJSON_AddTrueToObject(seen, xid);
        char *nm = trimdup(name);
        if (nm && !cJSON_GetObjectItemCaseSensitive(byname, nm)) cJSON_AddStringToObject(byname, nm, xid);
        free(nm);
        const char *par = pb_csv_get(rec, c_par);
        if (!is_blank(par)) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(xid));
            char *pt = trimdup(par);
            cJSON_AddItemToArray(pair, cJSON_CreateString(pt ? pt : ""));
            free(pt);
            cJSON_AddItemToArray(parents, pair);
        }
    }
    /* parent: another row's external_id, else its name */
    const cJSON *pair;
    cJSON_ArrayForEach(pair, parents)
    {
        const char *child = cJSON_GetArrayItem(pair, 0)->valuestring, *p = cJSON_GetArrayItem(pair, 1)->valuestring;
        const char *pid = cJSON_GetObjectItemCaseSensitive(seen, p) ? p : js(byname, p);
        cJSON *it;
        cJSON_ArrayForEach(it, items)
        {
            if (!strcmp(js(it, "external_id"), child)) cJSON_AddStringToObject(it, "parent", pid ? pid : p);
        }
    }
    check_parents(s, r);
    cJSON_Delete(seen);
    cJSON_Delete(byname);
    cJSON_Delete(parents);
    pb_csv_free(t);
    *spec = s;
    *rows = r;
    return 0;
}

/* ------------------------------------------------------------------ Jira */

const char *pb_import_jira_group(const char *cat, const char *status)
{
    if (cat && *cat) {
        if (!strcasecmp(cat, "new")) return "unstarted";
        if (!strcasecmp(cat, "indeterminate")) return "started";
        if (!strcasecmp(cat, "done")) {
            if (status && (strcasestr(status, "cancel") || strcasestr(status, "won't") || strcasestr(status, "wont") ||
                           strcasestr(status, "reject") || strcasestr(status, "duplicate")))
                return "cancelled";
            return "completed";
        }
    }
    if (!status || !*status) return "backlog";
    if (strcasestr(status, "cancel") || strcasestr(status, "won't") || strcasestr(status, "wont") ||
        strcasestr(status, "reject") || strcasestr(status, "duplicate"))
        return "cancelled";
    if (strcasestr(status, "done") || strcasestr(status, "closed") || strcasestr(status, "resolved") ||
        strcasestr(status, "complete"))
        return "completed";
    if (strcasestr(status, "progress") || strcasestr(status, "review") || strcasestr(status, "doing") ||
        strcasestr(status, "testing") || strcasestr(status, "started"))
        return "started";
    if (strcasestr(status, "backlog")) return "backlog";
    return "unstarted"; /* To Do, Open, New, Selected for Development... */
}

static const char *jira_priority(const char *p)
{
    if (!p || !*p) return "none";
    if (!strcasecmp(p, "highest") || !strcasecmp(p, "blocker") || !strcasecmp(p, "critical") || !strcasecmp(p, "urgent"))
        return "urgent";
    if (!strcasecmp(p, "high") || !strcasecmp(p, "major")) return "high";
    if (!strcasecmp(p, "medium") || !strcasecmp(p, "normal")) return "medium";
    if (!strcasecmp(p, "low") || !strcasecmp(p, "lowest") || !strcasecmp(p, "minor") || !strcasecmp(p, "trivial"))
        return "low";
    if (!strcasecmp(p, "none")) return "none";
    return NULL;
}

/* "2024-01-15...", or Jira's "15/Jan/24 ..." -> YYYY-MM-DD; 0 or PB_EINVAL. */
static int jira_date(const char *s, char out[11])
{
    while (*s == ' ') s++;
    if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') {
        memcpy(out, s, 10);
        out[10] = 0;
        return pb_date_valid(out) ? PB_EINVAL : 0;
    }
    static const char *const mon[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                      "jul", "aug", "sep", "oct", "nov", "dec"};
    int d = 0, i = 0;
    while (s[i] >= '0' && s[i] <= '9' && i < 2) d = d * 10 + (s[i++] - '0');
    if (!i || s[i] != '/') return PB_EINVAL;
    i++;
    int m = -1;
    for (int k = 0; k < 12; k++)
        if (!strncasecmp(s + i, mon[k], 3)) m = k + 1;
    if (m < 0 || s[i + 3] != '/') return PB_EINVAL;
    i += 4;
    int y = 0, yd = 0;
    while (s[i] >= '0' && s[i] <= '9' && yd < 4) {
        y = y * 10 + (s[i++] - '0');
        yd++;
    }
    if (yd == 2) y += 2000;
    else if (yd != 4) return PB_EINVAL;
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y % 10000, m % 100, d % 100);
    pb_strlcpy(out, tmp, 11);
    return pb_date_valid(out) ? PB_EINVAL : 0;
}

/* Jira's "Created": "2026-01-02 10:00", ISO with "+0000", or "15/Feb/26 5:00 PM" (date
 * only) -> Plane's ISO timestamp; 0 or PB_EINVAL. */
static int jira_time(const char *s, char *out, size_t n)
{
    while (*s == ' ') s++;
    char buf[64];
    int64_t us = 0;
    if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') {
        pb_strlcpy(buf, s, sizeof buf);
        if (strlen(buf) > 10 && buf[10] == ' ') buf[10] = 'T';
        size_t l = strlen(buf);
        /* "+0000" -> "+00:00" */
        if (l >= 5 && (buf[l - 5] == '+' || buf[l - 5] == '-') && l + 1 < sizeof buf && buf[l - 3] != ':') {
            memmove(buf + l - 1, buf + l - 2, 3);
            buf[l - 2] = ':';
        }
        if (strlen(buf) == 16) pb_strlcpy(buf + 16, ":00", sizeof buf - 16); /* minutes only */
        if (pb_time_parse(buf, &us)) return PB_EINVAL;
    } else {
        char d[11];
        if (jira_date(s, d) || pb_time_parse(d, &us)) return PB_EINVAL;
    }
    pb_time_iso(us, out, n);
    return 0;
}

typedef struct jrow {
    int line;
    const char *key, *summary, *type, *status, *category, *priority, *assignee, *parent, *due, *description;
    const char *reporter, *created;
    cJSON *labels;      /* borrowed array of strings */
    const char *desc_html; /* already HTML (ADF) or NULL */
} jrow;

static void jira_item(cJSON *spec, cJSON *rows, cJSON *seen, const jrow *j)
{
    cJSON *items = cJSON_GetObjectItemCaseSensitive(spec, "items");
    char *key = trimdup(j->key ? j->key : "");
    if (!key || !*key) {
        row_note(rows, j->line, NULL, "error", "missing issue key%s", "");
        free(key);
        return;
    }
    if (is_blank(j->summary)) {
        row_note(rows, j->line, key, "error", "missing summary%s", "");
        free(key);
        return;
    }
    if (cJSON_GetObjectItemCaseSensitive(seen, key)) {
        row_note(rows, j->line, key, "error", "duplicate issue key%s", "");
        free(key);
        return;
    }
    const char *pr = jira_priority(j->priority);
    if (!pr) {
        row_note(rows, j->line, key, "error", "unknown priority '%s'", j->priority);
        free(key);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "external_id", key);
    char name[300];
    snprintf(name, sizeof name, "%.255s", j->summary);
    add_trimmed(o, "name", name);
    if (j->desc_html) cJSON_AddStringToObject(o, "description_html", j->desc_html);
    else md_html(o, j->description);
    cJSON_AddStringToObject(o, "priority", pr);
    if (!is_blank(j->status)) add_trimmed(o, "state", j->status);
    cJSON_AddStringToObject(o, "state_group", pb_import_jira_group(j->category, j->status));
    cJSON *labels = cJSON_CreateArray();
    const cJSON *l;
    cJSON_ArrayForEach(l, j->labels)
    {
        if (cJSON_IsString(l)) add_labels(labels, l->valuestring, 1);
    }
    if (!is_blank(j->type) && strcasecmp(j->type, "sub-task") && strcasecmp(j->type, "subtask"))
        add_labels(labels, j->type, 0);
    cJSON_AddItemToObject(o, "labels", labels);
    cJSON *as = cJSON_CreateArray();
    if (!is_blank(j->assignee)) {
        if (strchr(j->assignee, '@')) {
            char *a = trimdup(j->assignee);
            cJSON_AddItemToArray(as, cJSON_CreateString(a ? a : ""));
            free(a);
        } else {
            row_note(rows, j->line, key, "warning", "assignee '%s' is not an e-mail address; left unassigned",
                     j->assignee);
        }
    }
    cJSON_AddItemToObject(o, "assignees", as);
    if (!is_blank(j->due)) {
        char d[11];
        if (jira_date(j->due, d)) row_note(rows, j->line, key, "warning", "unreadable due date '%s' left out", j->due);
        else cJSON_AddStringToObject(o, "target_date", d);
    }
    if (!is_blank(j->parent)) add_trimmed(o, "parent", j->parent);
    /* import history: set on create only (Plane accepts created_at/created_by on POST) */
    if (!is_blank(j->created)) {
        char ts[40];
        if (jira_time(j->created, ts, sizeof ts)) row_note(rows, j->line, key, "warning", "unreadable created date '%s' left out", j->created);
        else cJSON_AddStringToObject(o, "created_at", ts);
    }
    if (!is_blank(j->reporter) && strchr(j->reporter, '@')) add_trimmed(o, "created_by_email", j->reporter);
    cJSON_AddItemToObject(o, "modules", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "relations", cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "_line", j->line);
    cJSON_AddItemToArray(items, o);
    cJSON_AddTrueToObject(seen, key);
    free(key);
}

int pb_import_jira_csv(const char *text, size_t len, cJSON **spec, cJSON **rows, pb_error *err)
{
    *spec = NULL;
    *rows = NULL;
    pb_csv *t = NULL;
    int rc = pb_csv_parse(text, len, &t, err);
    if (rc) return rc;
    if (t->n == 0) {
        pb_csv_free(t);
        return pb_error_set(err, PB_EINVAL, "empty CSV");
    }
    int c_sum = pb_csv_col(t, "Summary"), c_key = pb_csv_col(t, "Issue key"), c_type = pb_csv_col(t, "Issue Type"),
        c_st = pb_csv_col(t, "Status"), c_pr = pb_csv_col(t, "Priority"), c_as = pb_csv_col(t, "Assignee"),
        c_par = pb_csv_col(t, "Parent"), c_due = pb_csv_col(t, "Due date"), c_desc = pb_csv_col(t, "Description"),
        c_rep = pb_csv_col(t, "Reporter"), c_cr = pb_csv_col(t, "Created");
    if (c_par < 0) c_par = pb_csv_col(t, "Parent key");
    if (c_sum < 0 || c_key < 0) {
        pb_csv_free(t);
        return pb_error_set(err, PB_EINVAL, "a Jira CSV needs the 'Summary' and 'Issue key' columns");
    }
    /* Jira repeats the Labels column once per label */
    int lab_cols[64], nlab = 0, com_cols[64], ncom = 0;
    for (size_t i = 0; i < t->r[0].n; i++) {
        if (!strcasecmp(t->r[0].f[i], "Labels") && nlab < 64) lab_cols[nlab++] = (int)i;
        if (!strcasecmp(t->r[0].f[i], "Comment") && ncom < 64) com_cols[ncom++] = (int)i;
    }
    cJSON *s = new_spec("jira"), *r = cJSON_CreateArray(), *seen = cJSON_CreateObject();
    for (size_t i = 1; i < t->n; i++) {
        const pb_csv_record *rec = &t->r[i];
        if (rec->error) {
            row_note(r, rec->line, NULL, "error", "malformed CSV record: %s", rec->error);
            continue;
        }
        cJSON *labels = cJSON_CreateArray();
        for (int k = 0; k < nlab; k++)
            if (!is_blank(pb_csv_get(rec, lab_cols[k])))
                cJSON_AddItemToArray(labels, cJSON_CreateString(pb_csv_get(rec, lab_cols[k])));
        jrow j = {.line = rec->line,
                  .key = pb_csv_get(rec, c_key),
                  .summary = pb_csv_get(rec, c_sum),
                  .type = pb_csv_get(rec, c_type),
                  .status = pb_csv_get(rec, c_st),
                  .priority = pb_csv_get(rec, c_pr),
                  .assignee = pb_csv_get(rec, c_as),
                  .parent = pb_csv_get(rec, c_par),
                  .due = pb_csv_get(rec, c_due),
                  .description = pb_csv_get(rec, c_desc),
                  .reporter = pb_csv_get(rec, c_rep),
                  .created = pb_csv_get(rec, c_cr),
                  .labels = labels};
        char prio[64];
        snprintf(prio, sizeof prio, "%s", j.priority);
        char *pt = trimdup(prio);
        j.priority = pt;
        int before = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "items"));
        jira_item(s, r, seen, &j);
        free(pt);
        cJSON_Delete(labels);
        /* Jira's "Comment" columns: "date;author;body" */
        cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        if (ncom && cJSON_GetArraySize(items) > before) {
            cJSON *last = cJSON_GetArrayItem(items, cJSON_GetArraySize(items) - 1);
            cJSON *comments = cJSON_CreateArray();
            for (int k = 0; k < ncom; k++) {
                const char *cv = pb_csv_get(rec, com_cols[k]);
                if (is_blank(cv)) continue;
                const char *b1 = strchr(cv, ';');
                const char *b2 = b1 ? strchr(b1 + 1, ';') : NULL;
                const char *body = b2 ? b2 + 1 : cv;
                cJSON *co = cJSON_CreateObject();
                char cid[300];
                snprintf(cid, sizeof cid, "%s/comment/%d", js(last, "external_id"), k + 1);
                cJSON_AddStringToObject(co, "external_id", cid);
                pb_buf cb;
                pb_buf_init(&cb, (size_t)1 << 20);
                pb_md_to_html(body, strlen(body), &cb);
                cJSON_AddStringToObject(co, "comment_html", pb_buf_cstr(&cb));
                pb_buf_free(&cb);
                cJSON_AddItemToArray(comments, co);
            }
            if (cJSON_GetArraySize(comments)) cJSON_AddItemToObject(last, "comments", comments);
            else cJSON_Delete(comments);
        }
    }
    check_parents(s, r);
    cJSON_Delete(seen);
    pb_csv_free(t);
    *spec = s;
    *rows = r;
    return 0;
}

static int json_depth(const cJSON *j, int d)
{
    if (d > IMP_MAX_JSON_DEPTH) return d;
    int m = d;
    const cJSON *c;
    for (c = j ? j->child : NULL; c; c = c->next) {
        int x = json_depth(c, d + 1);
        if (x > m) m = x;
        if (m > IMP_MAX_JSON_DEPTH) break;
    }
    return m;
}

/* Atlassian Document Format -> escaped HTML paragraphs (text nodes only). */
static void adf_text(const cJSON *n, pb_buf *b, int depth)
{
    if (!n || depth > IMP_MAX_JSON_DEPTH) return;
    const char *type = js(n, "type");
    if (type && !strcmp(type, "text") && js(n, "text")) {
        pb_html_escape(b, js(n, "text"), strlen(js(n, "text")));
        return;
    }
    int para = type && (!strcmp(type, "paragraph") || !strcmp(type, "heading") || !strcmp(type, "listItem"));
    if (para) pb_buf_puts(b, "<p>");
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(n, "content")) adf_text(c, b, depth + 1);
    if (para) pb_buf_puts(b, "</p>");
}

int pb_import_jira_json(const char *text, size_t len, cJSON **spec, cJSON **rows, pb_error *err)
{
    *spec = NULL;
    *rows = NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return pb_error_set(err, PB_EPARSE, "not valid JSON");
    if (json_depth(root, 0) > IMP_MAX_JSON_DEPTH) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_EDEPTH, "JSON nested too deep");
    }
    const cJSON *issues = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "issues");
    if (!cJSON_IsArray(issues)) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_EINVAL, "expected {\"issues\":[...]} or an array of issues");
    }
    cJSON *s = new_spec("jira"), *r = cJSON_CreateArray(), *seen = cJSON_CreateObject();
    cJSON *subparent = cJSON_CreateObject(); /* subtask key -> parent key */
    int idx = 0;
    const cJSON *is;
    cJSON_ArrayForEach(is, issues)
    {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(is, "fields");
        const cJSON *sub;
        cJSON_ArrayForEach(sub, cJSON_GetObjectItemCaseSensitive(f, "subtasks"))
        {
            if (js(sub, "key") && js(is, "key") && !cJSON_GetObjectItemCaseSensitive(subparent, js(sub, "key")))
                cJSON_AddStringToObject(subparent, js(sub, "key"), js(is, "key"));
        }
    }
    cJSON_ArrayForEach(is, issues)
    {
        idx++;
        if (!cJSON_IsObject(is)) {
            row_note(r, idx, NULL, "error", "an issue must be an object%s", "");
            continue;
        }
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(is, "fields");
        if (!cJSON_IsObject(f)) {
            row_note(r, idx, js(is, "key"), "error", "issue has no fields%s", "");
            continue;
        }
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(f, "status");
        const cJSON *cat = cJSON_GetObjectItemCaseSensitive(status, "statusCategory");
        const cJSON *prio = cJSON_GetObjectItemCaseSensitive(f, "priority");
        const cJSON *asg = cJSON_GetObjectItemCaseSensitive(f, "assignee");
        const cJSON *par = cJSON_GetObjectItemCaseSensitive(f, "parent");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(f, "description");
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(f, "reporter");
        const char *assignee = js(asg, "emailAddress");
        if (!assignee) assignee = js(asg, "displayName");
        if (!assignee && cJSON_IsString(asg)) assignee = asg->valuestring;
        const char *parent = js(par, "key");
        if (!parent && cJSON_IsString(par)) parent = par->valuestring;
        if (!parent) parent = js(subparent, js(is, "key") ? js(is, "key") : "");
        pb_buf h;
        pb_buf_init(&h, (size_t)1 << 20);
        int adf = cJSON_IsObject(desc);
        if (adf) {
            adf_text(desc, &h, 0);
            if (!h.len) pb_buf_puts(&h, "<p></p>");
        }
        const cJSON *lab = cJSON_GetObjectItemCaseSensitive(f, "labels");
        jrow j = {.line = idx,
                  .key = js(is, "key"),
                  .summary = js(f, "summary"),
                  .type = js(cJSON_GetObjectItemCaseSensitive(f, "issuetype"), "name"),
                  .status = js(status, "name"),
                  .category = js(cat, "key"),
                  .priority = cJSON_IsString(prio) ? prio->valuestring : js(prio, "name"),
                  .assignee = assignee,
                  .parent = parent,
                  .due = js(f, "duedate"),
                  .description = cJSON_IsString(desc) ? desc->valuestring : NULL,
                  .reporter = js(rep, "emailAddress"),
                  .created = js(f, "created"),
                  .labels = cJSON_IsArray(lab) ? (cJSON *)(uintptr_t)lab : NULL,
                  .desc_html = adf ? pb_buf_cstr(&h) : NULL};
        jira_item(s, r, seen, &j);
        pb_buf_free(&h);
        /* comments: kept as the item's comments (external id = Jira comment id) */
        const cJSON *cm = cJSON_GetObjectItemCaseSensitive(f, "comment");
        const cJSON *cl = cJSON_IsObject(cm) ? cJSON_GetObjectItemCaseSensitive(cm, "comments") : cm;
        cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        cJSON *last = cJSON_GetArrayItem(items, cJSON_GetArraySize(items) - 1);
        if (cJSON_IsArray(cl) && last && js(is, "key") && js(last, "external_id") &&
            !strcmp(js(last, "external_id"), js(is, "key"))) {
            cJSON *comments = cJSON_CreateArray();
            const cJSON *c;
            int ci = 0;
            cJSON_ArrayForEach(c, cl)
            {
                ci++;
                const cJSON *body = cJSON_GetObjectItemCaseSensitive(c, "body");
                pb_buf cb;
                pb_buf_init(&cb, (size_t)1 << 20);
                if (cJSON_IsString(body)) pb_md_to_html(body->valuestring, strlen(body->valuestring), &cb);
                else adf_text(body, &cb, 0);
                if (!cb.len) {
                    pb_buf_free(&cb);
                    continue;
                }
                cJSON *co = cJSON_CreateObject();
                char cid[300];
                if (js(c, "id")) snprintf(cid, sizeof cid, "%s/comment/%s", js(is, "key"), js(c, "id"));
                else snprintf(cid, sizeof cid, "%s/comment/%d", js(is, "key"), ci);
                cJSON_AddStringToObject(co, "external_id", cid);
                cJSON_AddStringToObject(co, "comment_html", pb_buf_cstr(&cb));
                cJSON_AddItemToArray(comments, co);
                pb_buf_free(&cb);
            }
            cJSON_AddItemToObject(last, "comments", comments);
        }
    }
    check_parents(s, r);
    cJSON_Delete(subparent);
    cJSON_Delete(seen);
    cJSON_Delete(root);
    *spec = s;
    *rows = r;
    return 0;
}

/* ------------------------------------------------------------------ project JSON */

int pb_import_project_json(const char *text, size_t len, cJSON **spec, pb_error *err)
{
    *spec = NULL;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return pb_error_set(err, PB_EPARSE, "not valid JSON");
    if (json_depth(root, 0) > IMP_MAX_JSON_DEPTH) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_EDEPTH, "JSON nested too deep");
    }
    const char *fmt = js(root, "format");
    if (!fmt || strcmp(fmt, "planebridge.project/1") != 0 || !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "project"))) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_EINVAL, "not a planebridge project export (format planebridge.project/1)");
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "project");
    if (!js(p, "name") || !js(p, "identifier") || !js(p, "external_id")) {
        cJSON_Delete(root);
        return pb_error_set(err, PB_EINVAL, "the export's project needs name, identifier and external_id");
    }
    static const char *const k[] = {"members", "states", "labels", "cycles", "modules", "items", NULL};
    for (int i = 0; k[i]; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, k[i]);
        if (a && !cJSON_IsArray(a)) {
            cJSON_Delete(root);
            return pb_error_set(err, PB_EINVAL, "'%s' must be a list", k[i]);
        }
        if (!a) cJSON_AddItemToObject(root, k[i], cJSON_CreateArray());
    }
    cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "items"))
    {
        if (!js(it, "external_id") || !js(it, "name")) {
            cJSON_Delete(root);
            return pb_error_set(err, PB_EINVAL, "every item needs external_id and name");
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "external_source");
    cJSON_AddStringToObject(root, "external_source", "planebridge");
    *spec = root;
    return 0;
}

/* ------------------------------------------------------------------ export */

static int ex_get(pb_pop_target *t, cJSON **out, pb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ex_get(pb_pop_target *t, cJSON **out, pb_error *err, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    *out = cJSON_CreateArray();
    const char *sep = strchr(path, '?') ? "&" : "?";
    for (int page = 0; page < 1000; page++) {
        char full[1200];
        snprintf(full, sizeof full, "%s%sper_page=1000&cursor=1000:%d:0", path, sep, page);
        int st = 0;
        cJSON *j = NULL;
        int rc = pb_pop_call(t, "GET", full, NULL, &st, &j, err);
        if (rc) return rc;
        if (st != 200) {
            cJSON_Delete(j);
            return pb_error_set(err, st == 404 ? PB_ENOTFOUND : PB_EUPSTREAM, "GET %s: HTTP %d", path, st);
        }
        if (cJSON_IsArray(j) || !cJSON_GetObjectItemCaseSensitive(j, "results")) {
            cJSON_Delete(*out);
            *out = j;
            return 0;
        }
        cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "results");
        while (res && res->child) cJSON_AddItemToArray(*out, cJSON_DetachItemViaPointer(res, res->child));
        int more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "next_page_results"));
        cJSON_Delete(j);
        if (!more) return 0;
    }
    return 0;
}

static int by_key(const void *a, const void *b, const char *k)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    const char *xs = js(x, k), *ys = js(y, k);
    return strcmp(xs ? xs : "", ys ? ys : "");
}
static int by_name(const void *a, const void *b)
{
    return by_key(a, b, "name");
}
static int by_xid(const void *a, const void *b)
{
    return by_key(a, b, "external_id");
}
static int by_keyf(const void *a, const void *b)
{
    return by_key(a, b, "key");
}
static int by_email(const void *a, const void *b)
{
    return by_key(a, b, "email");
}
static int by_str(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->valuestring, y->valuestring);
}

/* Sorts an array of objects (or strings) in place. */
static void sort_arr(cJSON *arr, int (*cmp)(const void *, const void *))
{
    int n = cJSON_GetArraySize(arr);
    if (n < 2) return;
    cJSON **v = calloc((size_t)n, sizeof *v);
    if (!v) return;
    int i = 0;
    while (arr->child) v[i++] = cJSON_DetachItemViaPointer(arr, arr->child);
    qsort(v, (size_t)n, sizeof *v, cmp);
    for (i = 0; i < n; i++) cJSON_AddItemToArray(arr, v[i]);
    free(v);
}

static void xid_of(const cJSON *o, const char *ident, const char *kind, const char *fallback, char *out, size_t n)
{
    const char *src = js(o, "external_source"), *xi = js(o, "external_id");
    if (xi && *xi && src && !strcmp(src, "planebridge")) snprintf(out, n, "%s", xi);
    else if (xi && *xi && src && *src) snprintf(out, n, "%s:%s", src, xi);
    else snprintf(out, n, "export/%s/%s/%s", ident, kind, fallback);
}

int pb_export_project(pb_pop_target *t, const char *project_id, cJSON **out, pb_error *err)
{
    *out = NULL;
    int st = 0;
    cJSON *proj = NULL, *wsm = NULL, *pm = NULL, *states = NULL, *labels = NULL, *cycles = NULL, *modules = NULL,
          *items = NULL, *doc = NULL, *id2x = NULL, *id2email = NULL, *id2state = NULL, *id2label = NULL;
    char path[256];
    snprintf(path, sizeof path, "projects/%s/", project_id);
    int rc = pb_pop_call(t, "GET", path, NULL, &st, &proj, err);
    if (!rc && st != 200) rc = pb_error_set(err, PB_ENOTFOUND, "project %s: HTTP %d", project_id, st);
    if (rc) goto out;
    const char *ident = js(proj, "identifier") ? js(proj, "identifier") : "P";
    if ((rc = ex_get(t, &wsm, err, "members/"))) goto out;
    if ((rc = ex_get(t, &pm, err, "projects/%s/members/", project_id))) goto out;
    if ((rc = ex_get(t, &states, err, "projects/%s/states/", project_id))) goto out;
    if ((rc = ex_get(t, &labels, err, "projects/%s/labels/", project_id))) goto out;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proj, "cycle_view")) &&
        (rc = ex_get(t, &cycles, err, "projects/%s/cycles/?cycle_view=all", project_id)))
        goto out;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proj, "module_view")) &&
        (rc = ex_get(t, &modules, err, "projects/%s/modules/", project_id)))
        goto out;
    if ((rc = ex_get(t, &items, err, "projects/%s/work-items/", project_id))) goto out;

    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "format", "planebridge.project/1");
    cJSON_AddStringToObject(doc, "external_source", "planebridge");
    cJSON_AddStringToObject(doc, "template", "export");
    char inst[64];
    pb_tpl_slug(ident, inst, sizeof inst);
    cJSON_AddStringToObject(doc, "instance", inst);
    cJSON *po = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "project", po);
    char xid[600];
    xid_of(proj, ident, "project", "", xid, sizeof xid);
    cJSON_AddStringToObject(po, "external_id", xid);
    cJSON_AddStringToObject(po, "name", js(proj, "name") ? js(proj, "name") : "");
    cJSON_AddStringToObject(po, "identifier", ident);
    cJSON_AddStringToObject(po, "description", js(proj, "description") ? js(proj, "description") : "");
    static const char *const flags[] = {"cycle_view", "module_view", "issue_views_view", "page_view", "intake_view", NULL};
    for (int i = 0; flags[i]; i++)
        cJSON_AddBoolToObject(po, flags[i], cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(proj, flags[i])));

    id2email = cJSON_CreateObject();
    const cJSON *e;
    cJSON_ArrayForEach(e, wsm)
    {
        const cJSON *u = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, "member")) ? cJSON_GetObjectItemCaseSensitive(e, "member") : e;
        if (js(u, "id") && js(u, "email")) cJSON_AddStringToObject(id2email, js(u, "id"), js(u, "email"));
    }
    cJSON *mem = cJSON_CreateArray();
    cJSON_AddItemToObject(doc, "members", mem);
    cJSON_ArrayForEach(e, pm)
    {
        const char *uid = js(e, "id") ? js(e, "id") : js(e, "member");
        const char *em = uid ? js(id2email, uid) : NULL;
        if (!em) em = js(e, "email");
        if (!em) continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "email", em);
        cJSON_AddNumberToObject(m, "role", 15);
        cJSON_AddItemToArray(mem, m);
    }
    sort_arr(mem, by_email);
    id2state = cJSON_CreateObject();
    cJSON *sa = cJSON_CreateArray();
    cJSON_AddItemToObject(doc, "states", sa);
    cJSON_ArrayForEach(e, states)
    {
        if (!js(e, "name") || !js(e, "id")) continue;
        cJSON_AddStringToObject(id2state, js(e, "id"), js(e, "name"));
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "name", js(e, "name"));
        cJSON_AddStringToObject(s, "group", js(e, "group") ? js(e, "group") : "backlog");
        if (js(e, "color")) cJSON_AddStringToObject(s, "color", js(e, "color"));
        cJSON_AddStringToObject(s, "description", js(e, "description") ? js(e, "description") : "");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "default"))) cJSON_AddTrueToObject(s, "default");
        cJSON_AddItemToArray(sa, s);
    }
    sort_arr(sa, by_name);
    id2label = cJSON_CreateObject();
    cJSON *la = cJSON_CreateArray();
    cJSON_AddItemToObject(doc, "labels", la);
    cJSON_ArrayForEach(e, labels)
    {
        if (!js(e, "name") || !js(e, "id")) continue;
        cJSON_AddStringToObject(id2label, js(e, "id"), js(e, "name"));
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", js(e, "name"));
        if (js(e, "color")) cJSON_AddStringToObject(l, "color", js(e, "color"));
        cJSON_AddStringToObject(l, "description", js(e, "description") ? js(e, "description") : "");
        cJSON_AddItemToArray(la, l);
    }
    sort_arr(la, by_name);
    /* items: external ids first (parents and relations refer to them) */
    id2x = cJSON_CreateObject();
    cJSON_ArrayForEach(e, items)
    {
        char fb[64];
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(e, "sequence_id");
        snprintf(fb, sizeof fb, "%s-%d", ident, cJSON_IsNumber(sq) ? sq->valueint : 0);
        const char *src = js(e, "external_source"), *xi = js(e, "external_id");
        if (xi && *xi && src && !strcmp(src, "planebridge")) snprintf(xid, sizeof xid, "%s", xi);
        else if (xi && *xi && src && *src) snprintf(xid, sizeof xid, "%s:%s", src, xi);
        else snprintf(xid, sizeof xid, "%s", fb);
        if (js(e, "id")) cJSON_AddStringToObject(id2x, js(e, "id"), xid);
    }
    cJSON *ia = cJSON_CreateArray();
    cJSON_AddItemToObject(doc, "items", ia);
    cJSON_ArrayForEach(e, items)
    {
        const char *iid = js(e, "id");
        if (!iid) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "external_id", js(id2x, iid));
        cJSON_AddStringToObject(o, "name", js(e, "name") ? js(e, "name") : "");
        cJSON_AddStringToObject(o, "description_html", js(e, "description_html") ? js(e, "description_html") : "<p></p>");
        cJSON_AddStringToObject(o, "priority", js(e, "priority") ? js(e, "priority") : "none");
        const char *sid = js(e, "state");
        if (sid && js(id2state, sid)) cJSON_AddStringToObject(o, "state", js(id2state, sid));
        cJSON *ls = cJSON_CreateArray();
        const cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(e, "labels"))
        {
            const char *lid = cJSON_IsString(x) ? x->valuestring : js(x, "id");
            if (lid && js(id2label, lid)) cJSON_AddItemToArray(ls, cJSON_CreateString(js(id2label, lid)));
        }
        sort_arr(ls, by_str);
        cJSON_AddItemToObject(o, "labels", ls);
        cJSON *as = cJSON_CreateArray();
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(e, "assignees"))
        {
            const char *uid = cJSON_IsString(x) ? x->valuestring : js(x, "id");
            if (uid && js(id2email, uid)) cJSON_AddItemToArray(as, cJSON_CreateString(js(id2email, uid)));
        }
        sort_arr(as, by_str);
        cJSON_AddItemToObject(o, "assignees", as);
        const char *par = js(e, "parent");
        if (par && js(id2x, par)) cJSON_AddStringToObject(o, "parent", js(id2x, par));
        char d[11];
        if (js(e, "start_date") && strlen(js(e, "start_date")) >= 10) {
            pb_strlcpy(d, js(e, "start_date"), sizeof d);
            cJSON_AddStringToObject(o, "start_date", d);
        }
        if (js(e, "target_date") && strlen(js(e, "target_date")) >= 10) {
            pb_strlcpy(d, js(e, "target_date"), sizeof d);
            cJSON_AddStringToObject(o, "target_date", d);
        }
        cJSON_AddItemToObject(o, "modules", cJSON_CreateArray());
        /* relations, from this item's side */
        cJSON *rel = NULL;
        char rp[256];
        snprintf(rp, sizeof rp, "projects/%s/work-items/%s/relations/", project_id, iid);
        rc = pb_pop_call(t, "GET", rp, NULL, &st, &rel, err);
        if (rc) {
            cJSON_Delete(o);
            goto out;
        }
        cJSON *ro = cJSON_CreateObject();
        cJSON *relv = st == 200 ? rel : NULL;
        cJSON_ArrayForEach(x, relv)
        {
            if (!cJSON_IsArray(x) || !cJSON_GetArraySize(x)) continue;
            cJSON *ids = cJSON_CreateArray();
            const cJSON *y;
            cJSON_ArrayForEach(y, x)
            {
                const char *oid = cJSON_IsString(y) ? y->valuestring : js(y, "issue_id");
                if (!oid) oid = js(y, "id");
                if (oid && js(id2x, oid)) cJSON_AddItemToArray(ids, cJSON_CreateString(js(id2x, oid)));
            }
            sort_arr(ids, by_str);
            if (cJSON_GetArraySize(ids)) cJSON_AddItemToObject(ro, x->string, ids);
            else cJSON_Delete(ids);
        }
        cJSON_Delete(rel);
        cJSON_AddItemToObject(o, "relations", ro);
        cJSON_AddItemToArray(ia, o);
    }
    /* cycles and modules with their memberships */
    for (int pass = 0; pass < 2; pass++) {
        cJSON *src = pass ? modules : cycles;
        const char *coll = pass ? "modules" : "cycles";
        cJSON *arr = cJSON_CreateArray();
        cJSON_AddItemToObject(doc, coll, arr);
        cJSON *keys = cJSON_CreateObject();
        cJSON_ArrayForEach(e, src)
        {
            if (!js(e, "id") || !js(e, "name")) continue;
            char key[200];
            pb_tpl_slug(js(e, "name"), key, sizeof key);
            if (!key[0]) snprintf(key, sizeof key, "x");
            char k2[220];
            snprintf(k2, sizeof k2, "%s", key);
            for (int n = 2; cJSON_GetObjectItemCaseSensitive(keys, k2); n++) snprintf(k2, sizeof k2, "%s-%d", key, n);
            cJSON_AddTrueToObject(keys, k2);
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "key", k2);
            xid_of(e, ident, pass ? "module" : "cycle", k2, xid, sizeof xid);
            cJSON_AddStringToObject(c, "external_id", xid);
            cJSON_AddStringToObject(c, "name", js(e, "name"));
            cJSON_AddStringToObject(c, "description", js(e, "description") ? js(e, "description") : "");
            const char *d1 = js(e, "start_date"), *d2 = js(e, pass ? "target_date" : "end_date");
            char d[11];
            if (d1 && strlen(d1) >= 10) {
                pb_strlcpy(d, d1, sizeof d);
                cJSON_AddStringToObject(c, "start_date", d);
            }
            if (d2 && strlen(d2) >= 10) {
                pb_strlcpy(d, d2, sizeof d);
                cJSON_AddStringToObject(c, pass ? "target_date" : "end_date", d);
            }
            if (pass && js(e, "status")) cJSON_AddStringToObject(c, "status", js(e, "status"));
            cJSON_AddItemToArray(arr, c);
            cJSON *mi = NULL;
            rc = ex_get(t, &mi, err, "projects/%s/%s/%s/%s/", project_id, coll, js(e, "id"),
                        pass ? "module-issues" : "cycle-issues");
            if (rc) {
                cJSON_Delete(mi);
                cJSON_Delete(keys);
                goto out;
            }
            const cJSON *m;
            cJSON_ArrayForEach(m, mi)
            {
                const char *iid = js(m, "id");
                if (js(m, "issue")) iid = js(m, "issue");
                const char *x = iid ? js(id2x, iid) : NULL;
                if (!x) continue;
                cJSON *it;
                cJSON_ArrayForEach(it, ia)
                {
                    if (strcmp(js(it, "external_id"), x)) continue;
                    if (pass) {
                        cJSON *ms = cJSON_GetObjectItemCaseSensitive(it, "modules");
                        cJSON_AddItemToArray(ms, cJSON_CreateString(k2));
                        sort_arr(ms, by_str);
                    } else if (!cJSON_GetObjectItemCaseSensitive(it, "cycle")) {
                        cJSON_AddStringToObject(it, "cycle", k2);
                    }
                }
            }
            cJSON_Delete(mi);
        }
        cJSON_Delete(keys);
        sort_arr(arr, by_keyf);
    }
    sort_arr(ia, by_xid);
    *out = doc;
    doc = NULL;
out:
    cJSON_Delete(doc);
    cJSON_Delete(proj);
    cJSON_Delete(wsm);
    cJSON_Delete(pm);
    cJSON_Delete(states);
    cJSON_Delete(labels);
    cJSON_Delete(cycles);
    cJSON_Delete(modules);
    cJSON_Delete(items);
    cJSON_Delete(id2x);
    cJSON_Delete(id2email);
    cJSON_Delete(id2state);
    cJSON_Delete(id2label);
    return rc;
}
