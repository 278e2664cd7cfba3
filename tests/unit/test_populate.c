/* populate: pure parts — CSV reader, Markdown renderer, YAML loader, template expansion,
 * relative dates, Jira mappings and the CSV/Jira importers' row reports. */
#include "test.h"

#include "core/buf.h"
#include "populate/csv.h"
#include "populate/importer.h"
#include "populate/markdown.h"
#include "populate/template.h"
#include "populate/yamljson.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

PB_TEST(populate_csv_rfc4180)
{
    const char *s = "\xEF\xBB\xBFname,description_html,priority\r\n"
                    "\"Hello, world\",\"line1\nline2\",high\r\n"
                    "\"He said \"\"hi\"\"\",,low\n"
                    "\n"
                    "plain,\"\",\n"
                    "Ünïcödé ✓,x,none";
    pb_csv *t = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_csv_parse(s, strlen(s), &t, &err) == 0);
    PB_CHECK_EQ_INT(t->n, 5);
    PB_CHECK_STR(t->r[0].f[0], "name"); /* BOM skipped */
    PB_CHECK_STR(t->r[1].f[0], "Hello, world");
    PB_CHECK_STR(t->r[1].f[1], "line1\nline2");
    PB_CHECK_EQ_INT(t->r[2].line, 4); /* the embedded newline counts */
    PB_CHECK_STR(t->r[2].f[0], "He said \"hi\"");
    PB_CHECK_STR(t->r[2].f[1], "");
    PB_CHECK_EQ_INT(t->r[3].n, 3); /* trailing comma: an empty last field */
    PB_CHECK_STR(t->r[4].f[0], "Ünïcödé ✓");
    PB_CHECK_EQ_INT(pb_csv_col(t, " PRIORITY "), 2);
    PB_CHECK_EQ_INT(pb_csv_col(t, "nope"), -1);
    PB_CHECK_STR(pb_csv_get(&t->r[1], 99), "");
    pb_csv_free(t);
}

PB_TEST(populate_csv_bad_records)
{
    const char *s = "a,b\n\"x\"y,z\n\"unterminated,q\n";
    pb_csv *t = NULL;
    PB_REQUIRE(pb_csv_parse(s, strlen(s), &t, NULL) == 0);
    PB_REQUIRE(t->n == 3);
    PB_CHECK(t->r[1].error != NULL);
    PB_CHECK(t->r[2].error != NULL);
    PB_CHECK(t->r[0].error == NULL);
    pb_csv_free(t);
}

static char *md(const char *in)
{
    pb_buf b;
    pb_buf_init(&b, 1 << 20);
    PB_CHECK(pb_md_to_html(in, strlen(in), &b) == 0);
    return pb_buf_steal(&b);
}

PB_TEST(populate_markdown_subset_and_escaping)
{
    char *h = md("# Title <x>\nSome **bold** and *em* and `a<b`.\nnext line\n\n- one\n- [two](https://e.com/?a=1&b=2)\n\n1. first\n2. second\n\n```\n<script>alert(1)</script>\n```\n[bad](javascript:alert(1))");
    PB_CHECK_STR(h, "<h1>Title &lt;x&gt;</h1><p>Some <strong>bold</strong> and <em>em</em> and <code>a&lt;b</code>.<br>next "
                    "line</p><ul><li>one</li><li><a href=\"https://e.com/?a=1&amp;b=2\">two</a></li></ul><ol><li>first</li>"
                    "<li>second</li></ol><pre><code>&lt;script&gt;alert(1)&lt;/script&gt;</code></pre><p>[bad](javascript:alert(1))</p>");
    free(h);
    h = md("");
    PB_CHECK_STR(h, "<p></p>");
    free(h);
    h = md("<img src=x onerror=alert(1)> snake_case_name \"q\" 'a'");
    PB_CHECK_STR(h, "<p>&lt;img src=x onerror=alert(1)&gt; snake_case_name &quot;q&quot; &#39;a&#39;</p>");
    free(h);
}

PB_TEST(populate_yaml_to_json)
{
    const char *y = "a: 1\nb: [x, \"y\", ~]\nc:\n  d: null\n  e: 'true'\n";
    cJSON *j = NULL;
    PB_REQUIRE(pb_yaml_to_json(y, strlen(y), &j, NULL) == 0);
    char *s = cJSON_PrintUnformatted(j);
    PB_CHECK_STR(s, "{\"a\":\"1\",\"b\":[\"x\",\"y\",null],\"c\":{\"d\":null,\"e\":\"true\"}}");
    free(s);
    cJSON_Delete(j);
    pb_error err = {0};
    const char *bad[] = {"a: &x 1\nb: *x\n", "a: 1\na: 2\n", "a: [1\n", NULL};
    for (int i = 0; bad[i]; i++) {
        j = NULL;
        PB_CHECK(pb_yaml_to_json(bad[i], strlen(bad[i]), &j, &err) != 0);
        PB_CHECK(j == NULL);
    }
}

PB_TEST(populate_dates)
{
    char d[11];
    PB_CHECK(pb_tpl_date("+7d", "2026-12-28", d) == 0);
    PB_CHECK_STR(d, "2027-01-04");
    PB_CHECK(pb_tpl_date("-2w", "2024-03-10", d) == 0);
    PB_CHECK_STR(d, "2024-02-25");
    PB_CHECK(pb_tpl_date("2024-02-28+1d", NULL, d) == 0);
    PB_CHECK_STR(d, "2024-02-29");
    PB_CHECK(pb_tpl_date("2026-01-01", "2020-01-01", d) == 0);
    PB_CHECK_STR(d, "2026-01-01");
    PB_CHECK(pb_tpl_date("+3x", "2026-01-01", d) != 0);
    PB_CHECK(pb_tpl_date("2026-02-30", NULL, d) != 0);
    PB_CHECK(pb_tpl_date("soon", NULL, d) != 0);
}

static const char *tpl_text =
    "template: Demo Setup\n"
    "variables:\n"
    "  client: {type: string, required: true}\n"
    "  ident: {type: string, default: DEMO}\n"
    "  start: {type: date, default: \"2026-01-05\"}\n"
    "  svcs: {type: list, default: [a, b]}\n"
    "  extra: {type: bool, default: false}\n"
    "  lead: {type: email}\n"
    "anchor_date: \"{{start}}\"\n"
    "project:\n"
    "  name: \"Setup {{client}}\"\n"
    "  identifier: \"{{ident}}\"\n"
    "  modules: [{key: m1, name: Mod}]\n"
    "  members: [{email: \"{{lead}}\", role: admin}]\n"
    "items:\n"
    "  - key: root\n"
    "    name: \"Root for {{client | upper}}\"\n"
    "    due: +7d\n"
    "    description: \"**{{client}}** <b>\"\n"
    "    module: m1\n"
    "    children:\n"
    "      - for_each: svcs\n"
    "        as: s\n"
    "        key: \"svc-{{s}}\"\n"
    "        name: \"Service {{s}} #{{s_index}}\"\n"
    "        blocked_by: [root]\n"
    "  - key: optional\n"
    "    when: extra\n"
    "    name: Optional\n"
    "  - key: only-b\n"
    "    when: \"svcs contains b and client != Nobody\"\n"
    "    name: Only B\n";

static cJSON *expand(const char *vars_yaml, pb_error *err, int *rc)
{
    pb_tpl *t = NULL;
    cJSON *vars = NULL, *spec = NULL;
    *rc = pb_tpl_load(tpl_text, strlen(tpl_text), &t, err);
    if (*rc) return NULL;
    if (vars_yaml) *rc = pb_tpl_vars_merge_text(&vars, vars_yaml, strlen(vars_yaml), err);
    if (!*rc) *rc = pb_tpl_expand(t, vars, NULL, "2026-01-01", &spec, err);
    cJSON_Delete(vars);
    pb_tpl_free(t);
    return spec;
}

static const cJSON *item(const cJSON *spec, const char *key)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(spec, "items"))
    {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(it, "key")->valuestring, key)) return it;
    }
    return NULL;
}

static const char *sget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

PB_TEST(populate_template_expand)
{
    pb_error err = {0};
    int rc;
    cJSON *spec = expand("client: Acme\n", &err, &rc);
    PB_REQUIRE(rc == 0 && spec);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(spec, "project");
    PB_CHECK_STR(sget(p, "name"), "Setup Acme");
    PB_CHECK_STR(sget(p, "identifier"), "DEMO");
    PB_CHECK_STR(sget(p, "external_id"), "demo-setup/demo/project/");
    PB_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "module_view")));
    PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "members")), 0); /* empty email skipped */
    const cJSON *root = item(spec, "root");
    PB_REQUIRE(root);
    PB_CHECK_STR(sget(root, "name"), "Root for ACME");
    PB_CHECK_STR(sget(root, "target_date"), "2026-01-12"); /* +7d from the anchor */
    PB_CHECK_STR(sget(root, "description_html"), "<p><strong>Acme</strong> &lt;b&gt;</p>");
    PB_CHECK_STR(sget(root, "external_id"), "demo-setup/demo/item/root");
    const cJSON *b = item(spec, "svc-b");
    PB_REQUIRE(b);
    PB_CHECK_STR(sget(b, "name"), "Service b #2");
    PB_CHECK_STR(sget(b, "parent"), "demo-setup/demo/item/root");
    const cJSON *rel = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "relations"), "blocked_by");
    PB_CHECK_STR(cJSON_GetArrayItem(rel, 0)->valuestring, "demo-setup/demo/item/root");
    PB_CHECK(item(spec, "optional") == NULL);
    PB_CHECK(item(spec, "only-b") != NULL);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "items")), 4);
    cJSON_Delete(spec);

    spec = expand("client: Acme\nextra: yes\nsvcs: c\nlead: a@b.io\n", &err, &rc);
    PB_REQUIRE(rc == 0 && spec);
    PB_CHECK(item(spec, "optional") != NULL);
    PB_CHECK(item(spec, "only-b") == NULL);
    PB_CHECK(item(spec, "svc-c") != NULL);
    PB_CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "members")), 1);
    cJSON_Delete(spec);
}

PB_TEST(populate_template_variable_errors)
{
    pb_error err = {0};
    int rc;
    PB_CHECK(expand(NULL, &err, &rc) == NULL && rc == PB_EINVAL);
    PB_CHECK_STR(err.field, "client");
    memset(&err, 0, sizeof err);
    PB_CHECK(expand("client: A\nstart: 2026-13-01\n", &err, &rc) == NULL && rc == PB_EINVAL);
    PB_CHECK_STR(err.field, "start");
    memset(&err, 0, sizeof err);
    PB_CHECK(expand("client: A\nlead: nope\n", &err, &rc) == NULL && rc == PB_EINVAL);
    memset(&err, 0, sizeof err);
    PB_CHECK(expand("client: A\nextra: maybe\n", &err, &rc) == NULL && rc == PB_EINVAL);
    memset(&err, 0, sizeof err);
    PB_CHECK(expand("client: A\ntypo: 1\n", &err, &rc) == NULL && rc == PB_EINVAL);
    PB_CHECK_STR(err.field, "typo");
    memset(&err, 0, sizeof err);
    PB_CHECK(expand("client: A\nident: bad-id!\n", &err, &rc) == NULL && rc == PB_EINVAL);
}

PB_TEST(populate_template_stable_external_ids)
{
    pb_error err = {0};
    int rc;
    cJSON *a = expand("client: Acme\n", &err, &rc);
    cJSON *b = expand("client: Other Name\n", &err, &rc);
    PB_REQUIRE(a && b);
    /* ids derive from template, instance and keys, not from names or other variables */
    PB_CHECK_STR(sget(item(a, "svc-a"), "external_id"), sget(item(b, "svc-a"), "external_id"));
    cJSON_Delete(a);
    cJSON_Delete(b);
    char x[300];
    char longkey[400];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    pb_tpl_xid(x, sizeof x, "t", "i", "item", longkey);
    PB_CHECK(strlen(x) <= 255);
}

PB_TEST(populate_jira_groups)
{
    PB_CHECK_STR(pb_import_jira_group("new", "To Do"), "unstarted");
    PB_CHECK_STR(pb_import_jira_group("indeterminate", "In Review"), "started");
    PB_CHECK_STR(pb_import_jira_group("done", "Done"), "completed");
    PB_CHECK_STR(pb_import_jira_group("done", "Won't Do"), "cancelled");
    PB_CHECK_STR(pb_import_jira_group(NULL, "In Progress"), "started");
    PB_CHECK_STR(pb_import_jira_group(NULL, "Closed"), "completed");
    PB_CHECK_STR(pb_import_jira_group(NULL, "Backlog"), "backlog");
    PB_CHECK_STR(pb_import_jira_group(NULL, "Open"), "unstarted");
}

static int count_rows(const cJSON *rows, const char *what)
{
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rows)
    {
        if (cJSON_GetObjectItemCaseSensitive(r, what)) n++;
    }
    return n;
}

PB_TEST(populate_plane_csv_import_rows)
{
    const char *csv = "name,description_html,priority,start_date,target_date,state_group,parent\n"
                      "Parent,<p>x</p>,high,2026-01-01,2026-01-05,started,\n"
                      "Child,\"plain, text\",low,,,,Parent\n"
                      ",missing name,low,,,,\n"
                      "Bad prio,,extreme,,,,\n"
                      "Bad date,,low,2026-02-30,,,\n"
                      "Orphan,,,,,,Nobody\n";
    cJSON *spec = NULL, *rows = NULL;
    pb_error err = {0};
    PB_REQUIRE(pb_import_plane_csv(csv, strlen(csv), &spec, &rows, &err) == 0);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(spec, "items");
    PB_CHECK_EQ_INT(cJSON_GetArraySize(items), 3);
    PB_CHECK_EQ_INT(count_rows(rows, "error"), 3);
    PB_CHECK_EQ_INT(count_rows(rows, "warning"), 1);
    const cJSON *child = cJSON_GetArrayItem(items, 1);
    PB_CHECK_STR(sget(child, "parent"), "csv:parent");
    PB_CHECK_STR(sget(child, "description_html"), "<p>plain, text</p>");
    PB_CHECK(sget(cJSON_GetArrayItem(items, 2), "parent") == NULL);
    cJSON_Delete(spec);
    cJSON_Delete(rows);
}

PB_TEST(populate_template_today_is_the_given_day)
{
    const char *y = "template: t\nvariables:\n  s: {type: date, default: today}\n  e: {type: date, default: \"+3d\"}\n"
                    "anchor_date: \"{{s}}\"\nproject: {name: P, identifier: P1}\n"
                    "items:\n  - {key: a, name: \"A {{e}}\", due: +1d}\n";
    pb_tpl *t = NULL;
    cJSON *spec = NULL;
    PB_REQUIRE(pb_tpl_load(y, strlen(y), &t, NULL) == 0);
    PB_REQUIRE(pb_tpl_expand(t, NULL, NULL, "2030-06-01", &spec, NULL) == 0);
    const cJSON *a = item(spec, "a");
    PB_CHECK_STR(sget(a, "target_date"), "2030-06-02");
    PB_CHECK_STR(sget(a, "name"), "A 2030-06-04");
    PB_CHECK_STR(sget(spec, "today"), "2030-06-01");
    cJSON_Delete(spec);
    pb_tpl_free(t);
}
