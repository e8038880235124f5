/*
 * tenantshare: how many of a responder process's request threads each
 * tenant holds at once, and the cap that keeps one tenant from holding
 * them all.
 *
 * A request for a tenant (a route naming it by {id} or ?tenant_id) enters
 * before its handler runs and leaves when it is answered. A tenant may
 * hold up to `limit` threads at any time; it may take more only while at
 * least one other thread is left free after it, so a tenant alone can use
 * nearly the whole responder. Once the responder is that full, a tenant
 * at or over its limit is refused (api: 429 with Retry-After), so however
 * many connections one tenant opens, the threads it frees go to the
 * others. The table is one slot per request thread under a mutex: with at
 * most a few dozen threads a scan is cheaper than a map.
 */
#ifndef MTM_API_TENANTSHARE_H
#define MTM_API_TENANTSHARE_H

#include <pthread.h>
#include <stdbool.h>

#include "uuid.h"

struct tenant_share {
    pthread_mutex_t lock;
    int nthreads;
    int limit;                            /* threads one tenant may hold */
    char (*serving)[MTM_UUID_STRLEN + 1]; /* per thread: its tenant, "" for none */
};

/* limit 0 means half of nthreads (at least 1); a limit above nthreads is
 * nthreads. */
void tenant_share_init(struct tenant_share *s, int nthreads, int limit);
void tenant_share_cleanup(struct tenant_share *s);
/*
 * Thread `index` starts serving tenant `id`: true, or false when the
 * tenant already holds its limit and no other thread would be left free
 * (nothing recorded). *held is the number of threads the tenant holds,
 * this one included when entered.
 */
bool tenant_share_enter(struct tenant_share *s, int index, const char *id, int *held);
/* Thread `index` is done with its tenant (nothing if it had none). */
void tenant_share_leave(struct tenant_share *s, int index);

#endif
