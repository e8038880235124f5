/* pool: see pool.h. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "xalloc.h"

/* The publish -> stored latency in ms: 5 ms to 60 s. */
static const struct mtm_histogram_layout latency_layout = {
    .units_per_s = 1000,
    .nbounds = 11,
    .bounds = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 60000},
};

struct tenant_pool *pool_new(struct pool_env *env, const char *tenant_id)
{
    struct tenant_pool *p = xcalloc(1, sizeof(*p));
    if (mtm_queue_name(tenant_id, MTM_QUEUE_MAIN, p->queue) ||
        mtm_queue_name(tenant_id, MTM_QUEUE_RETRY, p->retry_queue)) {
        free(p);
        return NULL;
    }
    memcpy(p->tenant_id, tenant_id, MTM_UUID_STRLEN);
    p->tenant_id[MTM_UUID_STRLEN] = '\0';
    p->env = env;
    p->nslots = env->cfg->max_concurrency;
    p->slots = xcalloc((size_t)p->nslots, sizeof(*p->slots));
    p->queue_depth = -1;
    mtm_histogram_init(&p->latency, &latency_layout);
    return p;
}

void pool_free(struct tenant_pool *p)
{
    if (!p)
        return;
    free(p->slots);
    free(p);
}

void pool_set_target(struct tenant_pool *p, int n)
{
    if (n < 0)
        n = 0;
    if (n > p->nslots)
        n = p->nslots;
    int old = atomic_exchange(&p->target, n);
    /* Workers wait for deliveries without a timeout worth speaking of (an
     * idle one costs no CPU): wake those that must stop. */
    bool stopping = atomic_load(&p->env->stopping);
    if (n < old || stopping)
        for (int i = stopping ? 0 : n; i < p->hi; i++)
            if (p->slots[i])
                worker_poke(p->slots[i]);
}

int pool_maintain(struct tenant_pool *p)
{
    int target = atomic_load(&p->target), alive = 0, hi = 0;
    int end = target > p->hi ? target : p->hi;
    if (end > p->nslots)
        end = p->nslots;
    for (int i = 0; i < end; i++) {
        struct worker *w = p->slots[i];
        if (w && atomic_load(&w->done)) {
            worker_join(w);
            p->slots[i] = w = NULL;
        }
        if (!w && i < target && !atomic_load(&p->env->stopping))
            p->slots[i] = w = worker_start(p, i);
        alive += w != NULL;
        if (w)
            hi = i + 1;
    }
    p->hi = hi;
    return alive;
}

int pool_live_threads(const struct tenant_pool *p)
{
    int n = 0;
    for (int i = 0; i < p->hi; i++)
        n += p->slots[i] != NULL;
    return n;
}

void pool_observe_latency(struct tenant_pool *p, int64_t latency_ms)
{
    /* Negative (clocks of different hosts may disagree a little) counts as 0. */
    mtm_histogram_observe(&p->latency, latency_ms);
}
