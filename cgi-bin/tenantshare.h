/*
 * tenantshare: how many of a responder process's request threads each
 * tenant holds at once, and the cap that keeps one tenant from holding
 * them all.
 *
 * A request for a tenant (a route naming it by {id} or ?tenant_id) enters
 * before its handler runs and leaves when it is answered. The cap applies
 * only under contention: while one tenant alone has been asking (no other
 * tenant entered for TENANT_SHARE_QUIET_MS), it may hold every thread, so
 * a lone tenant is never refused. Once another tenant shows up, a tenant
 * may hold up to `limit` threads, and more only while at least one other
 * thread is left free after it; past that it is refused (api: 429 with
 * Retry-After), so however many connections one tenant opens, the threads
 * it frees go to the others. Contention is noticed in O(1): the last tenant
 * to enter and when are remembered, and a different one entering while
 * the last one asked within TENANT_SHARE_QUIET_MS marks the responder
 * contended for the next TENANT_SHARE_QUIET_MS. The table is one slot per
 * request thread under a mutex: with at most a few dozen threads a scan is
 * cheaper than a map.
 */
#ifndef MTM_API_TENANTSHARE_H
#define MTM_API_TENANTSHARE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "uuid.h"

struct tenant_share {
    pthread_mutex_t lock;
    int nthreads;
    int limit;                            /* threads one tenant may hold */
    char (*serving)[MTM_UUID_STRLEN + 1]; /* per thread: its tenant, "" for none */
    char last[MTM_UUID_STRLEN + 1];       /* the tenant that entered last, "" for none */
    int64_t last_ms;                      /* monotonic: when it entered */
    int64_t contended_until_ms;           /* monotonic: the cap applies before this */
};

/* How long after two different tenants last took turns the cap applies. */
#define TENANT_SHARE_QUIET_MS 1000

/* limit 0 means half of nthreads (at least 1); a limit above nthreads is
 * nthreads. */
void tenant_share_init(struct tenant_share *s, int nthreads, int limit);
void tenant_share_cleanup(struct tenant_share *s);
/*
 * Thread `index` starts serving tenant `id` at monotonic time now_ms: true,
 * or false when another tenant asked within TENANT_SHARE_QUIET_MS, this
 * tenant already holds its limit and no other thread would be left free
 * (nothing recorded then). *held is the number of threads the tenant
 * holds, this one included when entered.
 */
bool tenant_share_enter(struct tenant_share *s, int index, const char *id, int64_t now_ms,
                        int *held);
/* Thread `index` is done with its tenant (nothing if it had none). */
void tenant_share_leave(struct tenant_share *s, int index);

#endif
