/*
 * reconcile: converges consumerd's pools (actual state) on the tenants
 * table (desired state).
 *
 *   active    a pool with `concurrency` workers, once the tenant's partition
 *             of messages exists: the pass makes the missing ones first
 *             (sql/0022_partition_attach.sql)
 *   paused    a pool with no workers (kept, so its queue depth is reported)
 *   deleting  no workers; once the pool's threads are gone: delete the
 *             tenant's queues, drop its partition, delete its row
 *   (absent)  no pool
 *
 * Only the tenants this consumerd holds the lease of count (daemon.h); a
 * tenant whose lease went elsewhere is like one whose row vanished: its
 * pool stops. A pass reads them all and is idempotent, so it runs whenever in
 * doubt: at start, on every NOTIFY, after every reconnect and every 30 s.
 * A deletion whose threads are still finishing, or whose queues cannot be
 * deleted because the broker is down, is left pending and finished by a
 * later pass (reconcile_pending says whether one is needed soon).
 *
 * Main thread only, except the pools' atomics (see pool.h).
 */
#ifndef MTM_CONSUMERD_RECONCILE_H
#define MTM_CONSUMERD_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "amqp.h"
#include "buf.h"
#include "dbpool.h"
#include "groupstore.h"
#include "log.h"
#include "mux.h"
#include "pg.h"
#include "pool.h"

struct reconciler {
    struct pool_env env; /* shared with every pool */
    struct dbpool db;
    struct group_store store;   /* over db */
    struct mux mux;             /* the workers' shared broker connections */
    struct tenant_pool **pools; /* owned */
    size_t npools, cap;
    /* An open-addressing index of pools by tenant id (pointers into pools[],
     * NULL: empty, TOMBSTONE: removed), rebuilt at each pass: with 10,000
     * tenants a linear search per row made a pass quadratic. */
    struct tenant_pool **index;
    size_t index_cap;    /* a power of two, at least twice npools */
    bool pending;        /* a deletion waits for its threads or the broker */
    size_t depth_cursor; /* next pool whose queue depth the report refreshes */
    const struct mtm_log_ctx *log;
    const char *consumer; /* this consumerd's id (daemon.h): its leases, its metrics; borrowed */
};

void reconciler_init(struct reconciler *r, const struct mtm_config *cfg,
                     const struct mtm_log_ctx *log, const char *consumer);
/* Stops every worker, joins them and frees everything. */
void reconciler_cleanup(struct reconciler *r);

/* One pass over the tenants this consumerd (r->consumer) holds the lease
 * of; pg and admin are the main thread's connections. */
int reconcile(struct reconciler *r, struct mtm_pg *pg, struct mtm_amqp *admin, char *err,
              size_t errlen) MTM_MUST_CHECK;
/* Stops every pool, as if every lease were lost: workers give their
 * unacknowledged deliveries back to the queue and exit. The next pass
 * (after a heartbeat that holds leases again) starts pools anew. */
void reconciler_fence(struct reconciler *r);
/* Joins finished workers and starts missing ones in every pool. */
void reconciler_maintain(struct reconciler *r);
/* Writes the live status (and queue depth) of every pool whose figures
 * changed since its last successful report, and of every pool not reported
 * yet, to tenant_status: a row's updated_at is when its figures last
 * changed or this process took the tenant (docs/architecture.md). */
int reconciler_report(struct reconciler *r, struct mtm_pg *pg, struct mtm_amqp *admin, char *err,
                      size_t errlen) MTM_MUST_CHECK;
/* The next report writes every pool's row, changed or not (after a
 * reconnect to PostgreSQL). */
void reconciler_report_all(struct reconciler *r);
/* Per-tenant metrics in text exposition format, labelled tenant and
 * consumerd="<consumerd>" (this consumerd's name, metrics.h). */
int reconciler_metrics(const struct reconciler *r, const char *consumerd,
                       struct mtm_buf *out) MTM_MUST_CHECK;
/* Worker threads alive across all pools. */
int reconciler_threads(const struct reconciler *r);

#endif
