/*
 * pool: one tenant's pool of consumer threads.
 *
 * Ownership and threads: the main thread creates, resizes, reaps and frees
 * pools; worker threads only read their pool's constant fields and update
 * its atomics. A worker with index i runs while i < target and consumerd is
 * not stopping; when that stops being true (pool_set_target pokes the
 * workers it stops, so they notice at once) it finishes the batch in hand,
 * closes its broker channel (unacknowledged deliveries return to the
 * queue) and sets its `done` flag. The main thread joins done workers in
 * pool_maintain and spawns missing ones below the target, so resizing is
 * just storing a new target and calling pool_maintain.
 *
 * No locks: slots[] is touched by the main thread only; everything shared
 * with workers is atomic.
 */
#ifndef MTM_CONSUMERD_POOL_H
#define MTM_CONSUMERD_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "dbpool.h"
#include "histogram.h"
#include "topology.h"
#include "uuid.h"

/* What every pool shares; owned by the daemon, outlives all pools. */
struct mux;
struct group_store;

struct pool_env {
    const struct mtm_config *cfg;
    struct dbpool *db;
    struct group_store *store; /* where workers store their batches (groupstore.h) */
    struct mux *mux;           /* consumerd's shared broker connections */
    atomic_bool stopping;
};

struct worker;

/* The live figures of a pool as tenant_status holds them. */
struct pool_figures {
    int running, busy;
    int64_t queue_depth; /* -1: unknown (the row keeps what it had) */
    int64_t consumed, stored, failed, dead_lettered;
};

struct tenant_pool {
    char tenant_id[MTM_UUID_STRLEN + 1];
    char queue[MTM_QUEUE_NAME_MAX];
    char retry_queue[MTM_QUEUE_NAME_MAX];
    struct pool_env *env; /* borrowed */

    atomic_int target;  /* workers wanted */
    atomic_int running; /* workers consuming */
    atomic_int busy;    /* workers handling a batch */
    atomic_llong consumed, stored, retried, failed, dead_lettered, dropped;
    struct mtm_histogram latency; /* publish -> stored, in ms (5 ms to 60 s, pool.c) */

    /* Main thread only. */
    char name[65];         /* the tenant's name, for mtm_tenant_info */
    struct worker **slots; /* env->cfg->max_concurrency entries */
    int nslots;
    int hi;    /* slots[hi..] are all NULL: loops stop there (10,000 pools x 64 slots, 4 times a
                  second) */
    bool seen; /* marked during a reconcile pass */
    bool partitioned;    /* its partition of messages is attached: workers may start */
    int64_t queue_depth; /* -1: unknown */
    int64_t dlq_depth;   /* dead letters stored */
    /* What the last successful status report wrote; reported == false:
     * nothing yet, or the next report must write the row again. */
    bool reported;
    struct pool_figures last;
};

/* Records that a message was stored latency_ms after it was published. */
void pool_observe_latency(struct tenant_pool *p, int64_t latency_ms);

/* NULL when tenant_id is not a UUID. */
struct tenant_pool *pool_new(struct pool_env *env, const char *tenant_id);
/* Requires pool_live_threads(p) == 0. pool_free(NULL) does nothing. */
void pool_free(struct tenant_pool *p);

void pool_set_target(struct tenant_pool *p, int n);
/* Joins finished workers, starts missing ones; returns threads alive. */
int pool_maintain(struct tenant_pool *p);
int pool_live_threads(const struct tenant_pool *p);

#endif
