/*
 * httpmetrics: the responder's own Prometheus metrics.
 *
 *   mtm_http_requests_total{route,method,code}
 *   mtm_http_request_duration_seconds{route,method} (histogram)
 *   mtm_messages_published_total{tenant}
 *
 * Counters are atomics indexed by route (the route table's position; one
 * extra slot for requests that matched no route) and status, with one
 * histogram (lib/histogram.h) per route; request threads only add. The
 * per-tenant publish counts live in a small table under a mutex (a leaf
 * lock) because tenants come and go: a tenant's entry goes when it is
 * deleted through this process (httpmetrics_forget). Rendering reads everything without
 * stopping the request threads, so a scrape may see a counter a few
 * increments behind its histogram: Prometheus tolerates that.
 *
 * The method label is the matched route's own method (a route has one; HEAD
 * is counted under its GET route), "any" for requests that matched no
 * route: label values come from the route table, never from the request,
 * so a client cannot create series by sending made-up methods.
 */
#ifndef MTM_API_HTTPMETRICS_H
#define MTM_API_HTTPMETRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "histogram.h"
#include "router.h"
#include "uuid.h"

#define HTTPM_MAX_ROUTES 48
#define HTTPM_CODES 18

struct httpm_tenant {
    char id[MTM_UUID_STRLEN + 1];
    unsigned long long published;
};

struct httpmetrics {
    const struct mtm_route *routes[HTTPM_MAX_ROUTES]; /* borrowed: the route table's entries */
    size_t nroutes;
    atomic_ullong requests[HTTPM_MAX_ROUTES + 1][HTTPM_CODES];
    struct mtm_histogram duration[HTTPM_MAX_ROUTES + 1]; /* microseconds */
    pthread_mutex_t lock;                                /* guards tenants */
    struct httpm_tenant *tenants;
    size_t ntenants, cap;
};

void httpmetrics_init(struct httpmetrics *m);
void httpmetrics_cleanup(struct httpmetrics *m);
/* Adds the route table's next entry (borrowed; its position counts from 0
 * in the order added). At most HTTPM_MAX_ROUTES: the route table checks
 * that when it is compiled. */
void httpmetrics_add_route(struct httpmetrics *m, const struct mtm_route *route);
/* Counts one answer of the route at position `route`; a position past
 * the routes added counts as "unmatched". */
void httpmetrics_observe(struct httpmetrics *m, size_t route, int status, int64_t micros);
void httpmetrics_published(struct httpmetrics *m, const char *tenant, size_t n);
/* Drops the tenant's publish count (its series leaves the next scrape): the
 * tenant was deleted. Without it the table keeps one entry for every tenant
 * ever published to, for the life of the process. A publish that passed its
 * checks before the deletion may add the entry back: one entry, not a
 * growth. Unknown tenants are ignored. */
void httpmetrics_forget(struct httpmetrics *m, const char *tenant);
int httpmetrics_render(struct httpmetrics *m, struct mtm_buf *out) MTM_MUST_CHECK;

#endif
