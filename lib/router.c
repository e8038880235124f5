/* router: see router.h. */
#include "router.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "uuid.h"

/* Matches path against pattern; fills r->params when r is not NULL. */
static bool match_path(const char *pattern, const char *path, struct mtm_request *r)
{
    const char *p = pattern, *s = path;
    size_t np = 0;

    while (*p && *s) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            size_t seg = strcspn(s, "/");
            if (!pe || seg == 0 || seg >= sizeof(r->params[0]) || np >= MTM_HTTP_MAX_PARAMS)
                return false;
            if (r) {
                memcpy(r->params[np], s, seg);
                r->params[np][seg] = '\0';
                mtm_uuid_canonical(r->params[np]);
            }
            np++;
            p = pe + 1;
            s += seg;
        } else {
            if (*p != *s)
                return false;
            p++;
            s++;
        }
    }
    if (*p || *s)
        return false;
    if (r)
        r->nparams = np;
    return true;
}

static bool method_matches(const char *route_method, const char *method)
{
    return strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

enum mtm_route_result mtm_router_match(const struct mtm_route *first, size_t n, size_t size,
                                       struct mtm_request *r, size_t *index, char *allow,
                                       size_t allowlen)
{
    size_t used = 0;
    bool path_known = false;

    if (allowlen)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct mtm_route *route =
            (const struct mtm_route *)(const void *)((const char *)first + i * size);
        if (!match_path(route->pattern, r->path, NULL))
            continue;
        if (method_matches(route->method, r->method)) {
            match_path(route->pattern, r->path, r);
            *index = i;
            return MTM_ROUTE_FOUND;
        }
        path_known = true;
        if (used < allowlen) {
            int w =
                snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", route->method);
            if (w > 0)
                used += (size_t)w;
        }
    }
    return path_known ? MTM_ROUTE_BAD_METHOD : MTM_ROUTE_NOT_FOUND;
}
