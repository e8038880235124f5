/*
 * router: matches a method and a raw path against a static route table.
 *
 * Patterns are literal segments and `{name}` captures, e.g.
 * "/api/tenants/{id}/messages". A capture takes one whole non-empty segment
 * of at most 127 bytes and never contains '/'. A capture that is a UUID is
 * lowered to its canonical form (mtm_uuid_canonical), so that "{id}" names
 * one tenant, one queue and one partition however the client spelled it;
 * this happens here, once, before authorization and handlers see it (ids
 * in the query: mtm_request_canonical_query). When the path matches some
 * route but not with this method, the answer is 405 and `allow` lists the
 * methods that would match; when nothing matches, 404.
 */
#ifndef MTM_ROUTER_H
#define MTM_ROUTER_H

#include <stddef.h>

#include "http.h"

enum mtm_route_flags {
    MTM_ROUTE_JSON_BODY = 1 << 0,     /* reads and parses a JSON body before the handler */
    MTM_ROUTE_OPTIONAL_BODY = 1 << 1, /* reads a body (maybe empty); the handler parses it */
};

/* What the router matches on. An application embeds it as the first
 * member of its own route type, next to its handler and access rule. */
struct mtm_route {
    const char *method;
    const char *pattern;
    const char *name; /* stable label for metrics and logs */
    unsigned flags;
};

enum mtm_route_result {
    MTM_ROUTE_FOUND = 0,
    MTM_ROUTE_NOT_FOUND = 1,
    MTM_ROUTE_BAD_METHOD = 2,
};

/*
 * Matches r against n routes laid out `size` bytes apart from `first` (an
 * array of the application's route type, whose first member is a struct
 * mtm_route). On MTM_ROUTE_FOUND stores the route's position in *index and
 * the captures in r->params. On MTM_ROUTE_BAD_METHOD writes "GET, DELETE"
 * style text into allow. HEAD matches GET routes.
 */
enum mtm_route_result mtm_router_match(const struct mtm_route *first, size_t n, size_t size,
                                       struct mtm_request *r, size_t *index, char *allow,
                                       size_t allowlen);

#endif
