/* yamljson: YAML text -> cJSON tree (libyaml event parser), for templates and variables files.
 *
 * Mappings become objects (keys must be scalars; a duplicate key is an error), sequences
 * arrays, scalars strings — except the plain scalars `null`, `~` and an empty plain value,
 * which become JSON null. Types are decided later by whoever reads the tree (template
 * variables declare theirs). Aliases and anchors are refused (no billion laughs), depth is
 * capped at 64 and the node count at 200000. Only the first document is read.
 * The returned tree belongs to the caller (cJSON_Delete). Errors carry the line number. */
#ifndef PB_POPULATE_YAMLJSON_H
#define PB_POPULATE_YAMLJSON_H

#include "core/err.h"

#include <cjson/cJSON.h>
#include <stddef.h>

int pb_yaml_to_json(const char *text, size_t len, cJSON **out, pb_error *err);

#endif
