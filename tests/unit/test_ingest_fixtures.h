/* Plane CE webhook bodies for the ingest tests, byte-for-byte in Plane's format
 * (plane-api.md §6.2: Python json.dumps defaults, separators ", " and ": ", keys in the
 * order event, action, webhook_id, workspace_id, data, activity; data as
 * IssueExpandSerializer renders it, in UTC). */
#ifndef PB_TEST_INGEST_FIXTURES_H
#define PB_TEST_INGEST_FIXTURES_H

#include "core/buf.h"
#include "core/util.h"

#define FX_WS_ID      "9c8d5e5a-9a55-4c8a-a3a4-6f1f7c1d0b11"
#define FX_PROJECT    "4a7b7f0e-2a8e-4f7e-8d0c-1f6f1b0a2c33"
#define FX_USER       "0b2e3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d"
#define FX_STATE_TODO "5b1f8e3c-7d2a-4e6b-9c0d-1a2b3c4d5e60"
#define FX_STATE_DONE "5b1f8e3c-7d2a-4e6b-9c0d-1a2b3c4d5e61"

typedef struct fx_issue {
    const char *id;
    const char *action; /* created | updated */
    const char *name;
    const char *priority;
    int done;               /* state Done (completed) instead of Todo (unstarted) */
    const char *assignee;   /* NULL for none */
    int64_t updated_at;     /* µs */
    const char *field;      /* activity.field */
    const char *webhook_id; /* NULL: a fixed one */
    const char *actor;      /* NULL: FX_USER */
} fx_issue;

/* Appends the body to b (b must be initialised). */
static inline void fx_issue_body(pb_buf *b, const fx_issue *f)
{
    char ua[40], ca[40];
    pb_time_iso(f->updated_at, ua, sizeof ua);
    pb_time_iso(1763700000000000LL, ca, sizeof ca);
    pb_buf_printf(
        b,
        "{\"event\": \"issue\", \"action\": \"%s\", \"webhook_id\": \"%s\", \"workspace_id\": \"" FX_WS_ID
        "\", \"data\": {\"id\": \"%s\", \"name\": \"%s\", \"description_html\": \"<p>hello \\u00e9</p>\", "
        "\"description_json\": {\"type\": \"doc\"}, \"description_stripped\": \"hello\", "
        "\"description\": {\"type\": \"doc\"}, \"description_binary\": null, \"priority\": \"%s\", "
        "\"state\": {\"id\": \"%s\", \"name\": \"%s\", \"color\": \"#3f76ff\", \"group\": \"%s\"}, "
        "\"parent\": null, \"estimate_point\": null, \"point\": null, \"start_date\": null, "
        "\"target_date\": null, \"sequence_id\": 7, \"sort_order\": 65535.0, \"completed_at\": %s, "
        "\"archived_at\": null, \"is_draft\": false, \"type\": null, \"type_id\": null, "
        "\"external_source\": null, \"external_id\": null, ",
        f->action ? f->action : "updated",
        f->webhook_id ? f->webhook_id : "3e6f0c1a-0d5b-4b8e-9f2a-6c7d8e9f0a1b", f->id,
        f->name ? f->name : "Fix the thing", f->priority ? f->priority : "none",
        f->done ? FX_STATE_DONE : FX_STATE_TODO, f->done ? "Done" : "Todo",
        f->done ? "completed" : "unstarted", f->done ? "\"2025-11-21T05:00:00.000000Z\"" : "null");
    pb_buf_puts(b, "\"labels\": [], \"assignees\": [");
    if (f->assignee)
        pb_buf_printf(b,
                      "{\"id\": \"%s\", \"first_name\": \"Ada\", \"last_name\": \"L\", \"avatar\": \"\", "
                      "\"avatar_url\": null, \"display_name\": \"ada\"}",
                      f->assignee);
    pb_buf_printf(
        b,
        "], \"project\": \"" FX_PROJECT "\", \"workspace\": \"" FX_WS_ID "\", \"created_at\": \"%s\", "
        "\"updated_at\": \"%s\", \"deleted_at\": null, \"created_by\": \"" FX_USER
        "\", \"updated_by\": \"" FX_USER "\"}, \"activity\": {\"field\": %s%s%s, \"new_value\": null, "
        "\"old_value\": null, \"actor\": {\"id\": \"%s\", \"first_name\": \"Ada\", \"last_name\": \"L\", "
        "\"email\": \"ada@example.com\", \"avatar\": \"\", \"avatar_url\": null, \"display_name\": \"ada\"}, "
        "\"old_identifier\": null, \"new_identifier\": null}}",
        ca, ua, f->field ? "\"" : "", f->field ? f->field : "null", f->field ? "\"" : "",
        f->actor ? f->actor : FX_USER);
}

#endif
