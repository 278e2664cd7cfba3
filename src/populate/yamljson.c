/* yamljson: YAML -> cJSON. See yamljson.h. */
#include "populate/yamljson.h"

#include <string.h>
#include <yaml.h>

#define YJ_MAX_DEPTH 64
#define YJ_MAX_NODES 200000

typedef struct yj {
    yaml_parser_t p;
    pb_error *err;
    long nodes;
} yj;

static int yj_fail(yj *y, int line, const char *msg)
{
    int rc = pb_error_set(y->err, PB_EPARSE, "line %d: %s", line, msg);
    if (y->err) y->err->line = line;
    return rc;
}

static int yj_node(yj *y, yaml_event_t *ev, int depth, cJSON **out);

/* Reads events until the end of the current collection. */
static int yj_collection(yj *y, int is_map, int depth, cJSON *coll)
{
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->p, &ev))
            return yj_fail(y, (int)y->p.problem_mark.line + 1, y->p.problem ? y->p.problem : "YAML syntax error");
        if (ev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&ev);
            return 0;
        }
        int line = (int)ev.start_mark.line + 1;
        if (is_map) {
            if (ev.type != YAML_SCALAR_EVENT) {
                yaml_event_delete(&ev);
                return yj_fail(y, line, "mapping keys must be plain strings");
            }
            char key[256];
            size_t kl = ev.data.scalar.length;
            if (kl >= sizeof key) {
                yaml_event_delete(&ev);
                return yj_fail(y, line, "mapping key too long");
            }
            memcpy(key, ev.data.scalar.value, kl);
            key[kl] = 0;
            yaml_event_delete(&ev);
            if (cJSON_GetObjectItemCaseSensitive(coll, key)) return yj_fail(y, line, "duplicate mapping key");
            yaml_event_t vev;
            if (!yaml_parser_parse(&y->p, &vev))
                return yj_fail(y, (int)y->p.problem_mark.line + 1, y->p.problem ? y->p.problem : "YAML syntax error");
            cJSON *v = NULL;
            int rc = yj_node(y, &vev, depth + 1, &v);
            yaml_event_delete(&vev);
            if (rc) return rc;
            cJSON_AddItemToObject(coll, key, v);
        } else {
            cJSON *v = NULL;
            int rc = yj_node(y, &ev, depth + 1, &v);
            yaml_event_delete(&ev);
            if (rc) return rc;
            cJSON_AddItemToArray(coll, v);
        }
    }
}

static int yj_node(yj *y, yaml_event_t *ev, int depth, cJSON **out)
{
    int line = (int)ev->start_mark.line + 1;
    *out = NULL;
    if (depth > YJ_MAX_DEPTH) return yj_fail(y, line, "nesting too deep");
    if (++y->nodes > YJ_MAX_NODES) return yj_fail(y, line, "document too large");
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return yj_fail(y, line, "YAML aliases are not supported");
    case YAML_SCALAR_EVENT: {
        if (ev->data.scalar.anchor) return yj_fail(y, line, "YAML anchors are not supported");
        const char *s = (const char *)ev->data.scalar.value;
        size_t n = ev->data.scalar.length;
        if (ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (n == 0 || (n == 1 && s[0] == '~') || (n == 4 && memcmp(s, "null", 4) == 0) ||
             (n == 4 && memcmp(s, "Null", 4) == 0) || (n == 4 && memcmp(s, "NULL", 4) == 0))) {
            *out = cJSON_CreateNull();
        } else {
            if (memchr(s, 0, n)) return yj_fail(y, line, "NUL byte in a scalar");
            *out = cJSON_CreateString(s);
        }
        return *out ? 0 : pb_error_set(y->err, PB_ENOMEM, "out of memory");
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        if (is_map ? ev->data.mapping_start.anchor != NULL : ev->data.sequence_start.anchor != NULL)
            return yj_fail(y, line, "YAML anchors are not supported");
        cJSON *c = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
        if (!c) return pb_error_set(y->err, PB_ENOMEM, "out of memory");
        int rc = yj_collection(y, is_map, depth, c);
        if (rc) {
            cJSON_Delete(c);
            return rc;
        }
        *out = c;
        return 0;
    }
    default:
        return yj_fail(y, line, "unexpected YAML event");
    }
}

int pb_yaml_to_json(const char *text, size_t len, cJSON **out, pb_error *err)
{
    *out = NULL;
    yj y;
    memset(&y, 0, sizeof y);
    y.err = err;
    if (!yaml_parser_initialize(&y.p)) return pb_error_set(err, PB_ENOMEM, "yaml parser");
    yaml_parser_set_input_string(&y.p, (const unsigned char *)text, len);
    int rc = 0;
    cJSON *root = NULL;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y.p, &ev)) {
            rc = yj_fail(&y, (int)y.p.problem_mark.line + 1, y.p.problem ? y.p.problem : "YAML syntax error");
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        rc = yj_node(&y, &ev, 0, &root);
        yaml_event_delete(&ev);
        break;
    }
    yaml_parser_delete(&y.p);
    if (rc) {
        cJSON_Delete(root);
        return rc;
    }
    *out = root ? root : cJSON_CreateNull();
    return 0;
}
