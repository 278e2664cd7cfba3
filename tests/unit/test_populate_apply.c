/* populate: plan/apply against the local standalone workspace, in-process through the real
 * API pipeline (PB_STORE_TEST: SQLite and PostgreSQL). Idempotency, edits, the writeback
 * gate and its audit rows, resume after an interruption, imports and the export round trip. */
#include "test.h"

#include "core/config.h"
#include "core/util.h"
#include "populate/apply.h"
#include "populate/importer.h"
#include "populate/target.h"
#include "populate/template.h"
#include "store/auth_store.h"
#include "store/db.h"
#include "store/populate_store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx {
    pb_db *db;
    pb_config cfg;
} fx;

static int fx_open(fx *f, const char *policy)
{
    pb_error err = {0};
    memset(f, 0, sizeof *f);
    if (pb_db_open(pb_test_store_url(), NULL, &f->db, &err)) return -1;
    if (pb_db_migrate(f->db, &err)) return -1;
    pb_config_defaults(&f->cfg);
    snprintf(f->cfg.master_key_file, sizeof f->cfg.master_key_file, "%s/master.key", pb_test_tmpdir());
    const char *ws[] = {"acme", "beta"};
    pb_user_row ada, linus;
    if (pb_as_user_create(f->db, "ada@example.com", "Ada", "L", NULL, &ada, &err)) return -1;
    if (pb_as_user_create(f->db, "linus@example.com", NULL, NULL, NULL, &linus, &err)) return -1;
    for (int i = 0; i < 2; i++) {
        if (pb_as_workspace_create(f->db, ws[i], ws[i], NULL, &err)) return -1;
        if (pb_as_member_set(f->db, ws[i], ada.id, PB_ROLE_ADMIN, &err)) return -1;
        if (pb_as_member_set(f->db, ws[i], linus.id, PB_ROLE_MEMBER, &err)) return -1;
        if (policy && pb_ps_policy_set(f->db, ws[i], policy, &err)) return -1;
    }
    return 0;
}

static pb_pop_target *target(fx *f, const char *slug)
{
    pb_pop_target *t = NULL;
    pb_error err = {0};
    if (pb_pop_target_local(f->db, &f->cfg, slug, NULL, &t, &err)) {
        fprintf(stderr, "target: %s\n", err.msg);
        return NULL;
    }
    return t;
}

static const char *tpl_v1 =
    "template: unit-setup\n"
    "variables:\n"
    "  client: {type: string, required: true}\n"
    "  n: {type: list, default: [a, b, c]}\n"
    "anchor_date: \"2027-01-04\"\n"
    "project:\n"
    "  name: \"Setup {{client}}\"\n"
    "  identifier: UNIT\n"
    "  members: [{email: linus@example.com, role: member}]\n"
    "  states: [{name: Waiting, group: started, color: \"#F59E0B\"}]\n"
    "  labels: [{name: infra, color: \"#111111\"}]\n"
    "  cycles: [{key: w1, name: Week 1, start_date: +0d, end_date: +6d}]\n"
    "  modules: [{key: core, name: Core}]\n"
    "items:\n"
    "  - key: root\n"
    "    name: Root\n"
    "    priority: high\n"
    "    state: Waiting\n"
    "    labels: [infra, extra-label]\n"
    "    assignees: [linus@example.com]\n"
    "    cycle: w1\n"
    "    module: core\n"
    "    due: +3d\n"
    "    description: \"# Hi\\n**bold**\"\n"
    "    children:\n"
    "      - for_each: n\n"
    "        key: \"child-{{item}}\"\n"
    "        name: \"Child {{item}}\"\n"
    "        cycle: w1\n"
    "        blocked_by: [root]\n"
    "  - key: last\n"
    "    name: Last\n";

static cJSON *spec_of(const char *text, const char *vars)
{
    pb_tpl *t = NULL;
    cJSON *v = NULL, *spec = NULL;
    pb_error err = {0};
    if (pb_tpl_load(text, strlen(text), &t, &err)) return NULL;
    if (vars) pb_tpl_vars_merge_text(&v, vars, strlen(vars), &err);
    if (pb_tpl_expand(t, v, NULL, "2026-01-01", &spec, &err)) fprintf(stderr, "expand: %s\n", err.msg);
    cJSON_Delete(v);
    pb_tpl_free(t);
    return spec;
}

static int num(const cJSON *rep, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rep, k);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

static int writes(const cJSON *rep)
{
    return num(cJSON_GetObjectItemCaseSensitive(rep, "requests"), "writes");
}

static cJSON *get(pb_pop_target *t, const char *path)
{
    int st = 0;
    cJSON *j = NULL;
    if (pb_pop_call(t, "GET", path, NULL, &st, &j, NULL) || st != 200) {
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

static cJSON *results(cJSON *page)
{
    return cJSON_IsArray(page) ? page : cJSON_GetObjectItemCaseSensitive(page, "results");
}

static const char *pid(const cJSON *rep)
{
    return cJSON_GetObjectItemCaseSensitive(rep, "project_id")->valuestring;
}

PB_STORE_TEST(populate_apply_local_idempotent)
{
    fx f;
    PB_REQUIRE(fx_open(&f, "explicit") == 0);
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\n"), *rep = NULL;
    PB_REQUIRE(spec);
    pb_pop_opts o = {0};
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), 0);
    PB_CHECK_EQ_INT(num(rep, "failed"), 0);
    if (num(rep, "failed")) {
        char *s = cJSON_Print(rep);
        fprintf(stderr, "%s\n", s);
        free(s);
    }
    PB_CHECK(num(rep, "created") >= 8);
    char path[256];
    snprintf(path, sizeof path, "projects/%s/work-items/?per_page=100", pid(rep));
    cJSON *page = get(t, path);
    PB_REQUIRE(page);
    cJSON *items = results(page);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(items), 5);
    const cJSON *it;
    int children = 0, with_label = 0;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *src = cJSON_GetObjectItemCaseSensitive(it, "external_source");
        PB_CHECK(cJSON_IsString(src) && !strcmp(src->valuestring, "planebridge"));
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "parent"))) children++;
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "labels")) == 2) with_label++;
        const char *name = cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring;
        if (!strcmp(name, "Root")) {
            PB_CHECK_STR(cJSON_GetObjectItemCaseSensitive(it, "description_html")->valuestring,
                         "<h1>Hi</h1><p><strong>bold</strong></p>");
            PB_CHECK_STR(cJSON_GetObjectItemCaseSensitive(it, "target_date")->valuestring, "2027-01-07");
            PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(it, "assignees")), 1);
        }
    }
    PB_CHECK_EQ_INT(children, 3);
    PB_CHECK_EQ_INT(with_label, 1);
    cJSON_Delete(page);
    /* lookup by external id, as Plane offers it */
    snprintf(path, sizeof path, "projects/%s/work-items/?external_id=unit-setup/unit/item/child-b&external_source=planebridge",
             pid(rep));
    cJSON *one = get(t, path);
    PB_CHECK(one && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(one, "id")));
    cJSON_Delete(one);

    /* second apply: nothing created or written */
    cJSON *rep2 = NULL;
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep2, &err), 0);
    PB_CHECK_EQ_INT(num(rep2, "created"), 0);
    PB_CHECK_EQ_INT(num(rep2, "updated"), 0);
    PB_CHECK_EQ_INT(writes(rep2), 0);
    PB_CHECK_EQ_INT(num(rep2, "failed"), 0);

    /* every write left an audit row with its status */
    int64_t n = 0, refused = 0;
    PB_CHECK_EQ_INT(pb_ps_audit_count(f.db, "acme", "populate", &n, &refused, &err), 0);
    PB_CHECK_EQ_INT(n, writes(rep));
    PB_CHECK_EQ_INT(refused, 0);

    /* edit one item: only that item is written */
    char *edited = strdup(tpl_v1);
    char *p = strstr(edited, "    name: Last\n");
    PB_REQUIRE(p);
    memcpy(p, "    name: Lost\n", 15);
    cJSON *spec2 = spec_of(edited, "client: Acme\n"), *rep3 = NULL;
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec2, &o, &rep3, &err), 0);
    PB_CHECK_EQ_INT(num(rep3, "updated"), 1);
    PB_CHECK_EQ_INT(num(rep3, "created"), 0);
    PB_CHECK_EQ_INT(writes(rep3), 1);
    const cJSON *ob;
    cJSON_ArrayForEach(ob, cJSON_GetObjectItemCaseSensitive(rep3, "objects"))
    {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(ob, "action")->valuestring, "update")) continue;
        PB_CHECK_STR(cJSON_GetObjectItemCaseSensitive(ob, "id")->valuestring, "unit-setup/unit/item/last");
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(ob, "fields");
        PB_CHECK_EQ_INT(cJSON_GetArraySize(fl), 1);
        PB_CHECK_STR(cJSON_GetArrayItem(fl, 0)->valuestring, "name");
    }
    free(edited);
    cJSON_Delete(spec2);
    cJSON_Delete(rep3);
    cJSON_Delete(rep2);
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}

PB_STORE_TEST(populate_plan_reads_only)
{
    fx f;
    PB_REQUIRE(fx_open(&f, NULL) == 0); /* policy disabled: a plan needs no write */
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\n"), *rep = NULL;
    pb_pop_opts o = {.dry_run = 1};
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, NULL), 0);
    PB_CHECK(num(rep, "created") >= 8);
    PB_CHECK_EQ_INT(writes(rep), 0);
    cJSON *page = get(t, "projects/");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(page)), 0);
    cJSON_Delete(page);
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}

PB_STORE_TEST(populate_gate_policies)
{
    fx f;
    PB_REQUIRE(fx_open(&f, NULL) == 0);
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\n"), *rep = NULL;
    pb_pop_opts o = {0};
    pb_error err = {0};
    /* disabled (the default): refused, one refusal row, nothing written */
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), PB_EFORBIDDEN);
    PB_CHECK(strstr(err.msg, "disabled") != NULL);
    int64_t n = 0, refused = 0;
    pb_ps_audit_count(f.db, "acme", "populate", &n, &refused, NULL);
    PB_CHECK_EQ_INT(n, 1);
    PB_CHECK_EQ_INT(refused, 1);
    cJSON *page = get(t, "projects/");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(page)), 0);
    cJSON_Delete(page);
    cJSON_Delete(rep);
    rep = NULL;
    /* explicit: automations are still refused, operators pass */
    PB_REQUIRE(pb_ps_policy_set(f.db, "acme", "explicit", NULL) == 0);
    pb_pop_target_set_gate(t, "automation.test", PB_GATE_AUTOMATION, NULL);
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), PB_EFORBIDDEN);
    cJSON_Delete(rep);
    rep = NULL;
    pb_gate_req g = {"acme", "automation.test", "POST x", "local", NULL, PB_GATE_AUTOMATION};
    PB_CHECK_EQ_INT(pb_gate_check(f.db, &g, NULL), PB_EFORBIDDEN);
    g.kind = PB_GATE_OPERATOR;
    PB_CHECK_EQ_INT(pb_gate_check(f.db, &g, NULL), 0);
    /* enabled: automations pass too */
    PB_REQUIRE(pb_ps_policy_set(f.db, "acme", "enabled", NULL) == 0);
    g.kind = PB_GATE_AUTOMATION;
    PB_CHECK_EQ_INT(pb_gate_check(f.db, &g, NULL), 0);
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), 0);
    PB_CHECK(num(rep, "created") > 0);
    /* unknown workspaces and bad policies */
    g.workspace = "nope";
    PB_CHECK_EQ_INT(pb_gate_check(f.db, &g, NULL), PB_EFORBIDDEN);
    PB_CHECK_EQ_INT(pb_ps_policy_set(f.db, "acme", "sometimes", NULL), PB_EINVAL);
    PB_CHECK_EQ_INT(pb_ps_policy_set(f.db, "nope", "enabled", NULL), PB_ENOTFOUND);
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}

PB_STORE_TEST(populate_apply_resumes)
{
    fx f;
    PB_REQUIRE(fx_open(&f, "explicit") == 0);
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\nn: [a, b, c, d, e, f, g]\n"), *rep = NULL;
    pb_pop_opts o = {.stop_after_writes = 12};
    pb_error err = {0};
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), PB_ESTATE);
    const char *run_id = cJSON_GetObjectItemCaseSensitive(rep, "run_id")->valuestring;
    pb_ps_run run;
    PB_REQUIRE(pb_ps_run_get(f.db, run_id, &run, NULL) == 0);
    PB_CHECK_STR(run.status, "running");
    char first_run[40];
    pb_strlcpy(first_run, run_id, sizeof first_run);
    cJSON_Delete(rep);
    rep = NULL;
    pb_pop_opts o2 = {0};
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o2, &rep, &err), 0);
    PB_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "resumed")));
    PB_CHECK_STR(cJSON_GetObjectItemCaseSensitive(rep, "run_id")->valuestring, first_run);
    PB_CHECK_EQ_INT(num(rep, "failed"), 0);
    PB_REQUIRE(pb_ps_run_get(f.db, first_run, &run, NULL) == 0);
    PB_CHECK_STR(run.status, "done");
    char path[256];
    snprintf(path, sizeof path, "projects/%s/work-items/", pid(rep));
    cJSON *page = get(t, path);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(page)), 9); /* no duplicates */
    cJSON_Delete(page);
    page = get(t, "projects/");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(page)), 1);
    cJSON_Delete(page);
    cJSON_Delete(rep);
    rep = NULL;
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o2, &rep, &err), 0);
    PB_CHECK_EQ_INT(writes(rep), 0);
    PB_CHECK(!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "resumed")));
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}

static char *fixture(const char *name, size_t *len)
{
    char path[1024];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    snprintf(path, sizeof path, "%.*s/../fixtures/populate/%s", (int)(slash ? slash - here : 1), slash ? here : ".", name);
    char *text = NULL;
    if (pb_read_file(path, 1 << 20, &text, len)) return NULL;
    return text;
}

static cJSON *make_project(pb_pop_target *t, const char *ident)
{
    int st = 0;
    cJSON *b = cJSON_CreateObject(), *j = NULL;
    cJSON_AddStringToObject(b, "name", ident);
    cJSON_AddStringToObject(b, "identifier", ident);
    pb_pop_call(t, "POST", "projects/", b, &st, &j, NULL);
    cJSON_Delete(b);
    return j;
}

PB_STORE_TEST(populate_import_jira_and_csv)
{
    fx f;
    PB_REQUIRE(fx_open(&f, "explicit") == 0);
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *proj = make_project(t, "IMP");
    PB_REQUIRE(proj);
    const char *project_id = cJSON_GetObjectItemCaseSensitive(proj, "id")->valuestring;
    size_t len = 0;
    struct {
        const char *file;
        int (*fn)(const char *, size_t, cJSON **, cJSON **, pb_error *);
        int items, errors;
    } cases[] = {{"jira.json", pb_import_jira_json, 4, 2},
                 {"jira.csv", pb_import_jira_csv, 5, 3},
                 {"plane.csv", pb_import_plane_csv, 5, 6},
                 {"plane-min.csv", pb_import_plane_csv, 3, 0}};
    int total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char *text = fixture(cases[c].file, &len);
        PB_REQUIRE(text);
        cJSON *spec = NULL, *rows = NULL, *rep = NULL;
        pb_error err = {0};
        PB_CHECK_EQ_INT(cases[c].fn(text, len, &spec, &rows, &err), 0);
        int nerr = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, rows) if (cJSON_GetObjectItemCaseSensitive(r, "error")) nerr++;
        if (nerr != cases[c].errors || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "items")) != cases[c].items) {
            char *s = cJSON_Print(rows);
            fprintf(stderr, "%s rows: %s\n", cases[c].file, s);
            free(s);
        }
        PB_CHECK_EQ_INT(nerr, cases[c].errors);
        PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "items")), cases[c].items);
        pb_pop_opts o = {.kind = "import", .name = cases[c].file, .project_id = project_id};
        PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), 0);
        if (num(rep, "failed") != 0) {
            char *s = cJSON_Print(rep);
            fprintf(stderr, "%s\n", s);
            free(s);
        }
        PB_CHECK_EQ_INT(num(rep, "failed"), 0);
        total += cases[c].items;
        cJSON_Delete(rep);
        rep = NULL;
        /* re-import: no duplicates, nothing written */
        PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), 0);
        PB_CHECK_EQ_INT(writes(rep), 0);
        PB_CHECK_EQ_INT(num(rep, "created"), 0);
        cJSON_Delete(rep);
        cJSON_Delete(spec);
        cJSON_Delete(rows);
        free(text);
    }
    char path[256];
    snprintf(path, sizeof path, "projects/%s/work-items/", project_id);
    cJSON *page = get(t, path);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(page)), total);
    /* hierarchy: OPS-2 and OPS-3 under OPS-1 (subtasks), PAY-3 under PAY-2 */
    const cJSON *it;
    const char *ops1 = NULL;
    int ops_children = 0;
    cJSON_ArrayForEach(it, results(page))
    {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(it, "external_id");
        if (cJSON_IsString(x) && !strcmp(x->valuestring, "OPS-1")) ops1 = cJSON_GetObjectItemCaseSensitive(it, "id")->valuestring;
    }
    PB_REQUIRE(ops1);
    cJSON_ArrayForEach(it, results(page))
    {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "parent");
        if (cJSON_IsString(p) && !strcmp(p->valuestring, ops1)) ops_children++;
    }
    PB_CHECK_EQ_INT(ops_children, 3);
    cJSON_Delete(page);
    cJSON_Delete(proj);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}

static char *export_text(pb_pop_target *t, const char *project_id)
{
    cJSON *doc = NULL;
    pb_error err = {0};
    if (pb_export_project(t, project_id, &doc, &err)) {
        fprintf(stderr, "export: %s\n", err.msg);
        return NULL;
    }
    char *s = cJSON_Print(doc);
    cJSON_Delete(doc);
    return s;
}

PB_STORE_TEST(populate_export_import_roundtrip)
{
    fx f;
    PB_REQUIRE(fx_open(&f, "explicit") == 0);
    pb_pop_target *a = target(&f, "acme"), *b = target(&f, "beta");
    PB_REQUIRE(a && b);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\n"), *rep = NULL;
    pb_pop_opts o = {0};
    pb_error err = {0};
    PB_REQUIRE(pb_pop_apply(a, f.db, spec, &o, &rep, &err) == 0);
    /* plus a native item without an external id */
    char path[256];
    snprintf(path, sizeof path, "projects/%s/work-items/", pid(rep));
    cJSON *nb = cJSON_CreateObject(), *nj = NULL;
    cJSON_AddStringToObject(nb, "name", "Native, \"quoted\" ✓");
    int st = 0;
    pb_pop_call(a, "POST", path, nb, &st, &nj, NULL);
    PB_CHECK_EQ_INT(st, 201);
    cJSON_Delete(nb);
    cJSON_Delete(nj);
    char *e1 = export_text(a, pid(rep));
    PB_REQUIRE(e1);
    cJSON *ispec = NULL, *rep2 = NULL;
    PB_REQUIRE(pb_import_project_json(e1, strlen(e1), &ispec, &err) == 0);
    pb_pop_opts oi = {.kind = "import", .name = "export.json"};
    PB_CHECK_EQ_INT(pb_pop_apply(b, f.db, ispec, &oi, &rep2, &err), 0);
    PB_CHECK_EQ_INT(num(rep2, "failed"), 0);
    char *e2 = export_text(b, pid(rep2));
    PB_REQUIRE(e2);
    PB_CHECK(strcmp(e1, e2) == 0);
    if (strcmp(e1, e2)) fprintf(stderr, "--- e1\n%s\n--- e2\n%s\n", e1, e2);
    PB_CHECK(strstr(e1, "Native, \\\"quoted\\\" ✓") != NULL);
    PB_CHECK(strstr(e1, "\"blocked_by\"") != NULL);
    free(e1);
    free(e2);
    cJSON_Delete(ispec);
    cJSON_Delete(rep2);
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(a);
    pb_pop_target_free(b);
    pb_db_free(f.db);
}

PB_STORE_TEST(populate_refresh_and_deleted_objects)
{
    fx f;
    PB_REQUIRE(fx_open(&f, "explicit") == 0);
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\n"), *rep = NULL;
    pb_pop_opts o = {0};
    pb_error err = {0};
    PB_REQUIRE(pb_pop_apply(t, f.db, spec, &o, &rep, &err) == 0);
    char path[256], first_project[64];
    pb_strlcpy(first_project, pid(rep), sizeof first_project);
    /* delete one item in Plane: a plain re-apply leaves it deleted, --refresh recreates it */
    snprintf(path, sizeof path, "projects/%s/work-items/?external_id=unit-setup/unit/item/last&external_source=planebridge",
             first_project);
    cJSON *one = get(t, path);
    PB_REQUIRE(one);
    snprintf(path, sizeof path, "projects/%s/work-items/%s/", first_project,
             cJSON_GetObjectItemCaseSensitive(one, "id")->valuestring);
    int st = 0;
    PB_CHECK_EQ_INT(pb_pop_call(t, "DELETE", path, NULL, &st, NULL, NULL), 0);
    PB_CHECK_EQ_INT(st, 204);
    cJSON_Delete(one);
    cJSON_Delete(rep);
    rep = NULL;
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), 0);
    PB_CHECK_EQ_INT(writes(rep), 0);
    cJSON_Delete(rep);
    rep = NULL;
    pb_pop_opts ofr = {.refresh = 1};
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &ofr, &rep, &err), 0);
    PB_CHECK_EQ_INT(num(rep, "created"), 1);
    PB_CHECK_EQ_INT(writes(rep), 1);
    PB_CHECK_EQ_INT(num(rep, "failed"), 0);
    cJSON_Delete(rep);
    rep = NULL;
    /* delete the whole project: the next apply builds it again from scratch */
    snprintf(path, sizeof path, "projects/%s/", first_project);
    PB_CHECK_EQ_INT(pb_pop_call(t, "DELETE", path, NULL, &st, NULL, NULL), 0);
    PB_CHECK_EQ_INT(st, 204);
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec, &o, &rep, &err), 0);
    PB_CHECK(strcmp(pid(rep), first_project) != 0);
    snprintf(path, sizeof path, "projects/%s/work-items/", pid(rep));
    cJSON *page = get(t, path);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(page)), 5);
    cJSON_Delete(page);
    PB_CHECK_EQ_INT(num(rep, "failed"), 0);
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}

PB_STORE_TEST(populate_edit_moves_memberships)
{
    fx f;
    PB_REQUIRE(fx_open(&f, "explicit") == 0);
    pb_pop_target *t = target(&f, "acme");
    PB_REQUIRE(t);
    cJSON *spec = spec_of(tpl_v1, "client: Acme\n"), *rep = NULL;
    pb_pop_opts o = {0};
    pb_error err = {0};
    PB_REQUIRE(pb_pop_apply(t, f.db, spec, &o, &rep, &err) == 0);
    char path[300];
    snprintf(path, sizeof path, "projects/%s/modules/", pid(rep));
    cJSON *mods = get(t, path);
    PB_REQUIRE(mods && cJSON_GetArraySize(results(mods)) == 1);
    const char *mid = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(results(mods), 0), "id")->valuestring;
    snprintf(path, sizeof path, "projects/%s/modules/%s/module-issues/", pid(rep), mid);
    cJSON *mi = get(t, path);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(mi)), 1);
    cJSON_Delete(mi);
    /* the template no longer puts Root into the module: one DELETE, nothing else */
    char *edited = strdup(tpl_v1);
    char *p = strstr(edited, "    module: core\n");
    PB_REQUIRE(p);
    memmove(p, p + 17, strlen(p + 17) + 1);
    cJSON *spec2 = spec_of(edited, "client: Acme\n"), *rep2 = NULL;
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec2, &o, &rep2, &err), 0);
    PB_CHECK_EQ_INT(writes(rep2), 1);
    PB_CHECK_EQ_INT(num(rep2, "updated"), 1);
    mi = get(t, path);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(results(mi)), 0);
    cJSON_Delete(mi);
    cJSON_Delete(rep2);
    rep2 = NULL;
    PB_CHECK_EQ_INT(pb_pop_apply(t, f.db, spec2, &o, &rep2, &err), 0);
    PB_CHECK_EQ_INT(writes(rep2), 0);
    free(edited);
    cJSON_Delete(rep2);
    cJSON_Delete(spec2);
    cJSON_Delete(mods);
    cJSON_Delete(rep);
    cJSON_Delete(spec);
    pb_pop_target_free(t);
    pb_db_free(f.db);
}
