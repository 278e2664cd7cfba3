/* scope: API-key scopes as a bit set.
 *
 * Scope names: issues:read|write|delete, projects:read|write, comments:read|write,
 * documents:read|write, search:read, webhooks:admin, keys:admin; "*" means all of them and
 * "resource:*" every scope of that resource ("issues:*"). Lists are comma- or
 * space-separated. Roles cap scopes: a guest (5) gets read scopes only, a member (15) also
 * write and delete, an admin (20) everything (the *:admin scopes). */
#ifndef PB_AUTH_SCOPE_H
#define PB_AUTH_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#define PB_SCOPE_ISSUES_READ (1u << 0)
#define PB_SCOPE_ISSUES_WRITE (1u << 1)
#define PB_SCOPE_ISSUES_DELETE (1u << 2)
#define PB_SCOPE_PROJECTS_READ (1u << 3)
#define PB_SCOPE_PROJECTS_WRITE (1u << 4)
#define PB_SCOPE_COMMENTS_READ (1u << 5)
#define PB_SCOPE_COMMENTS_WRITE (1u << 6)
#define PB_SCOPE_DOCUMENTS_READ (1u << 7)
#define PB_SCOPE_DOCUMENTS_WRITE (1u << 8)
#define PB_SCOPE_SEARCH_READ (1u << 9)
#define PB_SCOPE_WEBHOOKS_ADMIN (1u << 10)
#define PB_SCOPE_KEYS_ADMIN (1u << 11)
#define PB_SCOPE_ALL ((1u << 12) - 1)
#define PB_SCOPE_READS                                                                           \
    (PB_SCOPE_ISSUES_READ | PB_SCOPE_PROJECTS_READ | PB_SCOPE_COMMENTS_READ |                    \
     PB_SCOPE_DOCUMENTS_READ | PB_SCOPE_SEARCH_READ)

typedef uint32_t pb_scopes;

/* The bit of one exact scope name ("issues:read"), or 0 if unknown (wildcards give 0). */
pb_scopes pb_scope_bit(const char *name);
/* Name of a single bit, or NULL. */
const char *pb_scope_name(pb_scopes bit);
/* Parses a list ("issues:read, projects:*"); 0 or PB_EINVAL with *bad (optional) pointing
 * into a static copy of the first unknown entry. An empty list is PB_EINVAL. */
int pb_scope_parse(const char *list, pb_scopes *out, const char **bad);
/* Canonical text: "*" for all, else the names in table order joined by ','. Returns the
 * length that was needed (like snprintf). */
size_t pb_scope_format(pb_scopes s, char *out, size_t outlen);
/* The most a user with this role may hold (0 for an unknown role). */
pb_scopes pb_scope_ceiling(int role);
/* The lowest role able to hold every scope in s. */
int pb_scope_min_role(pb_scopes s);

#endif
