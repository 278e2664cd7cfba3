/* scope: see scope.h. */
#include "auth/scope.h"
#include "core/err.h"
#include "core/util.h"

#include <string.h>

static const struct {
    const char *name;
    pb_scopes bit;
    int min_role; /* Plane role needed to hold it */
} scopes[] = {
    {"issues:read", PB_SCOPE_ISSUES_READ, 5},
    {"issues:write", PB_SCOPE_ISSUES_WRITE, 15},
    {"issues:delete", PB_SCOPE_ISSUES_DELETE, 15},
    {"projects:read", PB_SCOPE_PROJECTS_READ, 5},
    {"projects:write", PB_SCOPE_PROJECTS_WRITE, 15},
    {"comments:read", PB_SCOPE_COMMENTS_READ, 5},
    {"comments:write", PB_SCOPE_COMMENTS_WRITE, 15},
    {"documents:read", PB_SCOPE_DOCUMENTS_READ, 5},
    {"documents:write", PB_SCOPE_DOCUMENTS_WRITE, 15},
    {"search:read", PB_SCOPE_SEARCH_READ, 5},
    {"webhooks:admin", PB_SCOPE_WEBHOOKS_ADMIN, 20},
    {"keys:admin", PB_SCOPE_KEYS_ADMIN, 20},
};
#define NSCOPES (sizeof scopes / sizeof scopes[0])

pb_scopes pb_scope_bit(const char *name)
{
    if (!name) return 0;
    for (size_t i = 0; i < NSCOPES; i++)
        if (strcmp(scopes[i].name, name) == 0) return scopes[i].bit;
    return 0;
}

const char *pb_scope_name(pb_scopes bit)
{
    for (size_t i = 0; i < NSCOPES; i++)
        if (scopes[i].bit == bit) return scopes[i].name;
    return NULL;
}

/* One entry (not NUL-terminated): exact name, "*", or "resource:*". */
static pb_scopes entry_bits(const char *s, size_t n)
{
    if (n == 1 && s[0] == '*') return PB_SCOPE_ALL;
    if (n > 2 && s[n - 2] == ':' && s[n - 1] == '*') {
        pb_scopes out = 0;
        for (size_t i = 0; i < NSCOPES; i++)
            if (strncmp(scopes[i].name, s, n - 1) == 0) out |= scopes[i].bit;
        return out;
    }
    for (size_t i = 0; i < NSCOPES; i++)
        if (strlen(scopes[i].name) == n && memcmp(scopes[i].name, s, n) == 0) return scopes[i].bit;
    return 0;
}

int pb_scope_parse(const char *list, pb_scopes *out, const char **bad)
{
    static _Thread_local char badbuf[64];
    pb_scopes acc = 0;
    int any = 0;
    *out = 0;
    if (bad) *bad = NULL;
    if (!list) return PB_EINVAL;
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *s = p;
        while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
        size_t n = (size_t)(p - s);
        pb_scopes b = n < 64 ? entry_bits(s, n) : 0;
        if (!b) {
            if (bad) {
                size_t c = n < sizeof badbuf - 1 ? n : sizeof badbuf - 1;
                memcpy(badbuf, s, c);
                badbuf[c] = '\0';
                *bad = badbuf;
            }
            return PB_EINVAL;
        }
        acc |= b;
        any = 1;
    }
    if (!any) return PB_EINVAL;
    *out = acc;
    return 0;
}

size_t pb_scope_format(pb_scopes s, char *out, size_t outlen)
{
    size_t need = 0;
    if (outlen) out[0] = '\0';
    if ((s & PB_SCOPE_ALL) == PB_SCOPE_ALL) {
        if (outlen > 1) pb_strlcpy(out, "*", outlen);
        return 1;
    }
    for (size_t i = 0; i < NSCOPES; i++) {
        if (!(s & scopes[i].bit)) continue;
        size_t n = strlen(scopes[i].name);
        if (need + n + 2 <= outlen) {
            if (need) out[need] = ',';
            memcpy(out + need + (need ? 1 : 0), scopes[i].name, n + 1);
        }
        need += n + (need ? 1 : 0);
    }
    return need;
}

pb_scopes pb_scope_ceiling(int role)
{
    pb_scopes out = 0;
    if (role != 5 && role != 15 && role != 20) return 0;
    for (size_t i = 0; i < NSCOPES; i++)
        if (role >= scopes[i].min_role) out |= scopes[i].bit;
    return out;
}

int pb_scope_min_role(pb_scopes s)
{
    int r = 5;
    for (size_t i = 0; i < NSCOPES; i++)
        if ((s & scopes[i].bit) && scopes[i].min_role > r) r = scopes[i].min_role;
    return r;
}
