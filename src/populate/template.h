/* template: YAML project templates -> a populate spec (the desired state apply works on).
 *
 * A template (see the bundled ones under templates/):
 *   template: NAME            # stable name, part of every external id
 *   description: TEXT
 *   variables:                # typed: string | int | bool | date | list | email
 *     client: {type: string, required: true}
 *     start:  {type: date, default: today}
 *   anchor_date: "{{start}}"  # base of relative dates (+7d, -2w); default today
 *   project: {name, identifier, description, features: {cycles, modules, views, pages,
 *             intake}, members: [{email, role: admin|member|guest}],
 *             states: [{name, group, color, description}], labels: [{name, color}],
 *             cycles: [{key, name, description, start_date, end_date}],
 *             modules: [{key, name, description, start_date, target_date, status}]}
 *   items: [{key, name, description (Markdown), priority, state, labels: [..], assignees:
 *            [emails], start_date, target_date (or due), cycle: KEY, modules: [KEYS],
 *            blocked_by / blocking / relates_to / duplicate: [KEYS], children: [items...]}]
 * Anywhere in a list, an element may carry `when: EXPR` (kept only when true) and
 * `for_each: LISTVAR` with `as: NAME` (default item; NAME_index is 1-based) to repeat itself.
 * Strings substitute {{var}}, {{var.field}}, {{var | slug|upper|lower}}; a string that is only
 * {{listvar}} becomes that list. EXPR: `var`, `!var`, `a == b`, `a != b`, `list contains x`,
 * `x in list`, joined by ` and ` / ` or ` (and binds tighter). Built-in variables: today,
 * instance, template.
 *
 * The spec (a cJSON object, owned by the caller) is what imports produce too:
 *   {"external_source":"planebridge", "project":{external_id,name,identifier,description,
 *    cycle_view,module_view,...}, "members":[{email,role}], "states":[..], "labels":[..],
 *    "cycles":[{external_id,key,name,...}], "modules":[..],
 *    "items":[{external_id,name,description_html,priority,state,labels,assignees,parent,
 *              start_date,target_date,cycle,modules,relations:{type:[external ids]}}]}
 * External ids are "<template>/<instance>/<kind>/<key>" (hashed when longer than 255), so
 * they are stable across edits of anything but the keys. */
#ifndef PB_POPULATE_TEMPLATE_H
#define PB_POPULATE_TEMPLATE_H

#include "core/err.h"

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct pb_tpl pb_tpl;

int pb_tpl_load(const char *yaml, size_t len, pb_tpl **out, pb_error *err);
int pb_tpl_load_file(const char *path, pb_tpl **out, pb_error *err);
void pb_tpl_free(pb_tpl *t); /* NULL-safe */
const char *pb_tpl_name(const pb_tpl *t);

/* Merges a YAML (or JSON) mapping of variables into *vars (created when NULL). */
int pb_tpl_vars_merge_text(cJSON **vars, const char *text, size_t len, pb_error *err);
/* Adds one "name=value" (a later value wins). */
int pb_tpl_vars_set(cJSON **vars, const char *kv, pb_error *err);

/* Checks and coerces vars against the declarations (required, types, defaults, unknown names),
 * then expands the template. today: "YYYY-MM-DD" (NULL = the current UTC date). instance:
 * names this application of the template (NULL = the project identifier). Errors name the
 * variable or the path in err->field. */
int pb_tpl_expand(const pb_tpl *t, const cJSON *vars, const char *instance, const char *today, cJSON **spec,
                  pb_error *err);

/* Date expression: "YYYY-MM-DD", "today", "+7d", "-2w", "YYYY-MM-DD+3d"; relative ones count
 * from anchor. out >= 11 bytes. Returns 0 or PB_EINVAL. */
int pb_tpl_date(const char *expr, const char *anchor, char out[11]);
/* Lower-case a-z0-9 and '-' slug of s into out. */
void pb_tpl_slug(const char *s, char *out, size_t outlen);
/* A stable external id from parts joined with '/'; hashed (sha256 prefix) when > 255. */
void pb_tpl_xid(char *out, size_t outlen, const char *a, const char *b, const char *c, const char *d);

#endif
