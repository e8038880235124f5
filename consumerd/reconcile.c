/* reconcile: see reconcile.h. */
#include "reconcile.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "metrics.h"
#include "timeutil.h"
#include "xalloc.h"

#define DEPTHS_PER_REPORT 250
/* How long a pass may spend making partitions; the rest wait for the next
 * pass, a tick later (the main thread, heartbeat included, waits for it). */
#define PARTITION_BUDGET_MS "250"
/* How long detaching a deleted tenant's partition may wait (below). */
#define DETACH_LOCK_TIMEOUT "'2s'"

void reconciler_init(struct reconciler *r, const struct mtm_config *cfg,
                     const struct mtm_log_ctx *log, const char *consumer)
{
    memset(r, 0, sizeof(*r));
    r->env.cfg = cfg;
    r->env.db = &r->db;
    atomic_init(&r->env.stopping, false);
    dbpool_init(&r->db, cfg->pg_url, cfg->db_pool_size);
    group_store_init(&r->store, &r->db,
                     cfg->store_groups < cfg->db_pool_size ? cfg->store_groups : cfg->db_pool_size);
    r->env.store = &r->store;
    mux_init(&r->mux, cfg->amqp_url, cfg->amqp_channels_per_connection, log);
    r->env.mux = &r->mux;
    r->log = log;
    r->consumer = consumer;
}

void reconciler_cleanup(struct reconciler *r)
{
    atomic_store(&r->env.stopping, true);
    for (size_t i = 0; i < r->npools; i++)
        pool_set_target(r->pools[i], 0);
    /* Workers notice within one consume wait and finish their batch. */
    for (;;) {
        int alive = 0;
        for (size_t i = 0; i < r->npools; i++)
            alive += pool_maintain(r->pools[i]);
        if (!alive)
            break;
        mtm_sleep_ms(20, NULL);
    }
    for (size_t i = 0; i < r->npools; i++)
        pool_free(r->pools[i]);
    free(r->pools);
    r->pools = NULL;
    r->npools = 0;
    free(r->index);
    r->index = NULL;
    r->index_cap = 0;
    mux_cleanup(&r->mux);
    group_store_cleanup(&r->store);
    dbpool_cleanup(&r->db);
}

/* ---- the index of pools by tenant id ---------------------------------------- */

static struct tenant_pool tombstone_;
#define TOMBSTONE (&tombstone_)

static void index_put(struct reconciler *r, struct tenant_pool *p)
{
    size_t mask = r->index_cap - 1;
    for (size_t i = mtm_hash_str(MTM_HASH_INIT, p->tenant_id) & mask;; i = (i + 1) & mask) {
        if (!r->index[i] || r->index[i] == TOMBSTONE) {
            r->index[i] = p;
            return;
        }
    }
}

/* Rebuilds the index for npools + room pools, dropping tombstones. */
static void index_rebuild(struct reconciler *r, size_t room)
{
    size_t cap = 64;
    while (cap < 2 * (r->npools + room))
        cap *= 2;
    free(r->index);
    r->index = xcalloc(cap, sizeof(*r->index));
    r->index_cap = cap;
    for (size_t i = 0; i < r->npools; i++)
        index_put(r, r->pools[i]);
}

static struct tenant_pool **index_slot(struct reconciler *r, const char *id)
{
    if (!r->index_cap)
        return NULL;
    size_t mask = r->index_cap - 1;
    for (size_t i = mtm_hash_str(MTM_HASH_INIT, id) & mask;; i = (i + 1) & mask) {
        struct tenant_pool *p = r->index[i];
        if (!p)
            return NULL;
        if (p != TOMBSTONE && strcmp(p->tenant_id, id) == 0)
            return &r->index[i];
    }
}

static struct tenant_pool *find(struct reconciler *r, const char *id)
{
    struct tenant_pool **slot = index_slot(r, id);
    return slot ? *slot : NULL;
}

/* Where p is in pools[] (linear: only for the rare deletion). */
static size_t position(const struct reconciler *r, const struct tenant_pool *p)
{
    size_t i = 0;
    while (i < r->npools && r->pools[i] != p)
        i++;
    return i;
}

static struct tenant_pool *add(struct reconciler *r, const char *id)
{
    struct tenant_pool *p = pool_new(&r->env, id);
    if (!p)
        return NULL;
    if (r->npools == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->pools = xrealloc(r->pools, r->cap * sizeof(*r->pools));
    }
    r->pools[r->npools++] = p;
    if (2 * r->npools > r->index_cap)
        index_rebuild(r, r->npools);
    else
        index_put(r, p);
    LOG_INFO(r->log, "tenant %s: pool created", id);
    return p;
}

/* Removes pools[at] once its threads are gone; returns true if it did. */
static bool retire(struct reconciler *r, size_t at)
{
    struct tenant_pool *p = r->pools[at];
    pool_set_target(p, 0);
    if (pool_maintain(p) > 0)
        return false;
    struct tenant_pool **slot = index_slot(r, p->tenant_id);
    if (slot)
        *slot = TOMBSTONE;
    pool_free(p);
    r->pools[at] = r->pools[--r->npools];
    return true;
}

/*
 * Detaches the tenant's partition from messages without locking messages
 * against the other tenants (sql/0024_partition_detach.sql): DETACH
 * CONCURRENTLY, or FINALIZE after a detach whose wait was cut short. Its
 * wait for the transactions that may still see the partition is bounded by
 * DETACH_LOCK_TIMEOUT, well inside the connection's answer deadline, so a
 * long read elsewhere postpones the deletion instead of holding up this
 * thread. 0 when detached (or there was nothing to detach).
 */
static int detach_partition(struct reconciler *r, struct mtm_pg *pg, const char *id, char *err,
                            size_t errlen)
{
    const char *params[] = {id};
    PGresult *res;
    int rc = mtm_pg_exec(pg, MTM_STMT_TENANT_DETACH_PARTITION_SQL, params, &res, err, errlen);
    if (rc)
        return rc;
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return 0;
    }
    rc = mtm_pg_exec_fixed(pg, "SET lock_timeout = " DETACH_LOCK_TIMEOUT, err, errlen);
    if (!rc)
        rc = mtm_pg_exec_fixed(pg, PQgetvalue(res, 0, 0), err, errlen);
    PQclear(res);
    /* The setting must not outlive the statement: a session that cannot
     * be reset is dropped, and the next one starts without it. */
    char rerr[256];
    if (mtm_pg_connected(pg) && mtm_pg_exec_fixed(pg, "RESET lock_timeout", rerr, sizeof(rerr))) {
        LOG_WARN(r->log, "RESET lock_timeout: %s; reconnecting", rerr);
        mtm_pg_disconnect(pg);
    }
    return rc;
}

/* Tears a deleting tenant down; an error leaves it for a later pass. */
static int teardown(struct reconciler *r, struct mtm_pg *pg, struct mtm_amqp *admin, const char *id,
                    char *err, size_t errlen)
{
    const char *params[] = {id};
    int rc = mtm_topology_delete(admin, id, err, errlen);
    if (!rc)
        rc = detach_partition(r, pg, id, err, errlen);
    if (!rc)
        rc = mtm_pg_exec(pg, MTM_STMT_TENANT_DROP_PARTITION, params, NULL, err, errlen);
    if (!rc)
        rc = mtm_pg_exec(pg, MTM_STMT_TENANT_DELETE, params, NULL, err, errlen);
    if (!rc) {
        struct mtm_log_ctx lc = *r->log;
        lc.tenant = id;
        LOG_INFO(&lc, "tenant deleted: queues, partition and row removed");
    }
    return rc;
}

/* ---- partitions ------------------------------------------------------------ */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Makes sure the partitions of the tenants in rows that are not being
 * deleted and whose pool has not had its partition yet exist
 * (sql/0022_partition_attach.sql): one statement for all of them, so that
 * a restart with 10,000 tenants is one round trip; it makes missing ones
 * for PARTITION_BUDGET_MS at most, and the pass after makes more (the
 * caller sets pending for the tenants left). On return *ready holds
 * the ids (PQgetvalue pointers into *res, sorted) whose partition is
 * attached; the caller PQclears *res. A failure leaves none ready.
 */
static void ensure_partitions(struct reconciler *r, struct mtm_pg *pg, PGresult *rows,
                              PGresult **res, const char ***ready, size_t *nready)
{
    *res = NULL;
    *ready = NULL;
    *nready = 0;
    struct mtm_buf ids; /* a PostgreSQL array literal of uuids: nothing to quote */
    mtm_buf_init(&ids, (size_t)PQntuples(rows) * (MTM_UUID_STRLEN + 1) + 2);
    int brc = mtm_buf_puts(&ids, "{");
    size_t asked = 0;
    for (int row = 0; row < PQntuples(rows) && !brc; row++) {
        const char *id = PQgetvalue(rows, row, 0);
        struct tenant_pool *p = find(r, id);
        if (strcmp(PQgetvalue(rows, row, 1), "deleting") == 0 || (p && p->partitioned))
            continue;
        brc = mtm_buf_printf(&ids, "%s%s", asked++ ? "," : "", id);
    }
    if (!brc)
        brc = mtm_buf_puts(&ids, "}");
    char err[512];
    const char *params[] = {mtm_buf_cstr(&ids), PARTITION_BUDGET_MS};
    if (brc)
        LOG_ERROR(r->log, "partitions: the list of %zu tenant(s) did not fit", asked);
    else if (asked &&
             mtm_pg_exec(pg, MTM_STMT_TENANTS_ENSURE_PARTITIONS, params, res, err, sizeof(err)))
        LOG_WARN(r->log, "partitions of %zu new tenant(s) not made yet: %s", asked, err);
    mtm_buf_cleanup(&ids);
    if (!*res)
        return;
    int n = PQntuples(*res);
    *ready = xcalloc(n ? (size_t)n : 1, sizeof(**ready));
    for (int i = 0; i < n; i++)
        (*ready)[i] = PQgetvalue(*res, i, 0);
    *nready = (size_t)n;
    qsort(*ready, *nready, sizeof(**ready), cmp_id);
    if (*nready < asked)
        LOG_INFO(r->log, "%zu of %zu new tenant(s) have no partition yet: their pools wait",
                 asked - *nready, asked);
}

static bool is_ready(const char *const *ready, size_t nready, const char *id)
{
    return nready && bsearch(&id, ready, nready, sizeof(*ready), cmp_id) != NULL;
}

int reconcile(struct reconciler *r, struct mtm_pg *pg, struct mtm_amqp *admin, char *err,
              size_t errlen)
{
    PGresult *res;
    const char *params[] = {r->consumer};
    int rc = mtm_pg_exec(pg, MTM_STMT_TENANTS_DESIRED, params, &res, err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < r->npools; i++)
        r->pools[i]->seen = false;
    r->pending = false;
    index_rebuild(r, (size_t)PQntuples(res));
    PGresult *made;
    const char **ready;
    size_t nready;
    ensure_partitions(r, pg, res, &made, &ready, &nready);
    bool postponed = false; /* a deletion failed this pass */

    for (int row = 0; row < PQntuples(res); row++) {
        const char *id = PQgetvalue(res, row, 0);
        const char *status = PQgetvalue(res, row, 1);
        int concurrency = (int)strtol(PQgetvalue(res, row, 2), NULL, 10);
        struct tenant_pool *p = find(r, id);

        if (strcmp(status, "deleting") == 0) {
            if (p && !retire(r, position(r, p))) {
                p->seen = true;
                r->pending = true; /* threads still finishing their batch */
                continue;
            }
            /* After one teardown failed (an outage, a detach that waited
             * its whole lock timeout), the others wait for the next pass
             * too rather than each spending its own wait now. */
            if (postponed) {
                r->pending = true;
                continue;
            }
            char terr[512];
            int trc = teardown(r, pg, admin, id, terr, sizeof(terr));
            if (trc) {
                LOG_WARN(r->log, "tenant %s: deletion postponed: %s", id, terr);
                postponed = true;
                r->pending = true;
                if (trc == MTM_EUNAVAIL && !mtm_pg_connected(pg))
                    break;
            }
            continue;
        }
        if (!p)
            p = add(r, id);
        if (!p)
            continue;
        p->seen = true;
        snprintf(p->name, sizeof(p->name), "%s", PQgetvalue(res, row, 3));
        if (!p->partitioned)
            p->partitioned = is_ready(ready, nready, id);
        int target = strcmp(status, "active") == 0 ? concurrency : 0;
        if (!p->partitioned) {
            target = 0; /* nothing could be stored: the pool waits for its partition */
            r->pending = true;
        }
        if (target != atomic_load(&p->target))
            LOG_INFO(r->log, "tenant %s: %s, %d worker(s)", id, status, target);
        pool_set_target(p, target);
    }
    PQclear(res);
    free(ready);
    PQclear(made);

    /* Pools whose lease went to another consumerd, or whose row vanished
     * without a deletion (removed by hand). */
    for (size_t i = 0; i < r->npools;) {
        if (r->pools[i]->seen) {
            i++;
        } else if (!retire(r, i)) {
            r->pending = true; /* threads still finishing */
            i++;
        } /* else retire() moved another pool into slot i: look at it next */
    }
    reconciler_maintain(r);
    return mtm_pg_connected(pg) ? 0 : MTM_EUNAVAIL;
}

void reconciler_fence(struct reconciler *r)
{
    for (size_t i = 0; i < r->npools;) {
        if (!retire(r, i)) {
            r->pending = true; /* threads still finishing */
            i++;
        } /* else retire() moved another pool into slot i */
    }
}

void reconciler_maintain(struct reconciler *r)
{
    for (size_t i = 0; i < r->npools; i++)
        pool_maintain(r->pools[i]);
}

int reconciler_threads(const struct reconciler *r)
{
    int n = 0;
    for (size_t i = 0; i < r->npools; i++)
        n += pool_live_threads(r->pools[i]);
    return n;
}

/* Dead letters per tenant, for the metrics. */
static void read_dlq_depths(struct reconciler *r, struct mtm_pg *pg)
{
    char err[512];
    PGresult *res;
    if (mtm_pg_exec(pg, MTM_STMT_DLQ_DEPTHS, NULL, &res, err, sizeof(err))) {
        LOG_DEBUG(r->log, "dlq depths: %s", err);
        return;
    }
    for (size_t i = 0; i < r->npools; i++)
        r->pools[i]->dlq_depth = 0;
    for (int row = 0; row < PQntuples(res); row++) {
        struct tenant_pool *p = find(r, PQgetvalue(res, row, 0));
        if (p)
            p->dlq_depth = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    }
    PQclear(res);
}

static bool figures_equal(const struct pool_figures *a, const struct pool_figures *b)
{
    return a->running == b->running && a->busy == b->busy && a->queue_depth == b->queue_depth &&
           a->consumed == b->consumed && a->stored == b->stored && a->failed == b->failed &&
           a->dead_lettered == b->dead_lettered;
}

/*
 * Whether p's queue has no message ready without asking the broker: every
 * worker it should have holds a consumer and none is handling a batch. The
 * broker then pushes whatever is ready at once (the prefetch, 2 x batch, is
 * far from used up by an idle worker), so a passive declare would only say
 * 0 — or count a message for the milliseconds it is on its way. Skipping
 * it spares an idle installation a broker round trip per tenant (and a
 * wake-up of each queue's process) every few seconds.
 */
static bool idle_consuming(const struct tenant_pool *p)
{
    int target = atomic_load(&p->target);
    return target > 0 && atomic_load(&p->running) == target && atomic_load(&p->busy) == 0;
}

int reconciler_report(struct reconciler *r, struct mtm_pg *pg, struct mtm_amqp *admin, char *err,
                      size_t errlen)
{
    read_dlq_depths(r, pg);
    /* Queue depths cost a broker round trip each: at most
     * DEPTHS_PER_REPORT a pass, round robin (idle consuming pools need
     * none, see idle_consuming), so 1000 tenants are refreshed
     * every few seconds instead of costing 1000 round trips a second. */
    size_t asked = 0, looked = 0;
    for (; looked < r->npools && asked < DEPTHS_PER_REPORT; looked++) {
        struct tenant_pool *p = r->pools[(r->depth_cursor + looked) % r->npools];
        uint32_t depth;
        char derr[256];
        if (idle_consuming(p)) {
            p->queue_depth = 0;
            continue;
        }
        asked++;
        if (mtm_amqp_is_open(admin) &&
            mtm_topology_depth(admin, p->tenant_id, &depth, derr, sizeof(derr)) == 0)
            p->queue_depth = depth;
        else
            p->queue_depth = -1;
    }
    if (r->npools)
        r->depth_cursor = (r->depth_cursor + looked) % r->npools;
    /* Only rows that would change are sent: an idle tenant's row is not
     * rewritten every second (each rewrite is a dead tuple and WAL). */
    struct json_object *arr = json_object_new_array();
    struct tenant_pool **sent = xcalloc(r->npools ? r->npools : 1, sizeof(*sent));
    struct pool_figures *figs = xcalloc(r->npools ? r->npools : 1, sizeof(*figs));
    size_t nsent = 0;
    for (size_t i = 0; i < r->npools; i++) {
        struct tenant_pool *p = r->pools[i];
        struct pool_figures f = {
            .running = atomic_load(&p->running),
            .busy = atomic_load(&p->busy),
            /* Unknown depth: the row keeps its value (COALESCE in the upsert). */
            .queue_depth = p->queue_depth >= 0 ? p->queue_depth
                           : p->reported       ? p->last.queue_depth
                                               : -1,
            .consumed = atomic_load(&p->consumed),
            .stored = atomic_load(&p->stored),
            .failed = atomic_load(&p->failed),
            .dead_lettered = atomic_load(&p->dead_lettered),
        };
        if (p->reported && figures_equal(&f, &p->last))
            continue;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(p->tenant_id));
        json_object_object_add(o, "running", json_object_new_int(f.running));
        json_object_object_add(o, "busy", json_object_new_int(f.busy));
        json_object_object_add(o, "depth",
                               f.queue_depth < 0 ? NULL : json_object_new_int64(f.queue_depth));
        json_object_object_add(o, "consumed", json_object_new_int64(f.consumed));
        json_object_object_add(o, "stored", json_object_new_int64(f.stored));
        json_object_object_add(o, "failed", json_object_new_int64(f.failed));
        json_object_object_add(o, "dead_lettered", json_object_new_int64(f.dead_lettered));
        json_object_array_add(arr, o);
        sent[nsent] = p;
        figs[nsent++] = f;
    }
    const char *params[] = {json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN)};
    int rc = nsent ? mtm_pg_exec(pg, MTM_STMT_TENANT_STATUS_UPSERT, params, NULL, err, errlen) : 0;
    /* Remembered only once written: a failed report is sent again whole. */
    for (size_t k = 0; !rc && k < nsent; k++) {
        sent[k]->last = figs[k];
        sent[k]->reported = true;
    }
    json_object_put(arr);
    free(sent);
    free(figs);
    return rc;
}

void reconciler_report_all(struct reconciler *r)
{
    for (size_t i = 0; i < r->npools; i++)
        r->pools[i]->reported = false;
}

static int latency_metrics(const struct reconciler *r, const char *consumerd, struct mtm_buf *out)
{
    static const char name[] = "mtm_publish_to_stored_seconds";
    int rc = mtm_histogram_header(out, name, "Time from publish to stored.");
    for (size_t i = 0; !rc && i < r->npools; i++) {
        char labels[64 + MTM_UUID_STRLEN + CONSUMERD_NAME_MAX];
        snprintf(labels, sizeof(labels), "tenant=\"%s\",consumerd=\"%s\"", r->pools[i]->tenant_id,
                 consumerd);
        rc = mtm_histogram_render(&r->pools[i]->latency, name, labels, out);
    }
    return rc;
}

int reconciler_metrics(const struct reconciler *r, const char *consumerd, struct mtm_buf *out)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        {"mtm_queue_depth", "gauge", "Messages ready in the tenant's queue."},
        {"mtm_dlq_depth", "gauge", "Dead letters stored for the tenant."},
        {"mtm_workers_configured", "gauge", "Workers the tenant should have."},
        {"mtm_workers_running", "gauge", "Workers consuming."},
        {"mtm_workers_busy", "gauge", "Workers handling a batch."},
        {"mtm_messages_consumed_total", "counter", "Deliveries taken off the queue."},
        {"mtm_messages_stored_total", "counter", "Messages stored (first time only)."},
        {"mtm_messages_failed_total", "counter", "Deliveries that could not be stored."},
        {"mtm_messages_retried_total", "counter", "Deliveries sent to the retry queue."},
        {"mtm_messages_dead_lettered_total", "counter", "Deliveries parked as dead letters."},
        {"mtm_messages_dropped_total", "counter",
         "Deliveries acknowledged without a dead letter (the database refused even a minimal "
         "one)."},
    };
    int rc = 0;
    for (size_t f = 0; !rc && f < sizeof(families) / sizeof(families[0]); f++) {
        rc = mtm_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
                            families[f].name, families[f].type);
        for (size_t i = 0; !rc && i < r->npools; i++) {
            const struct tenant_pool *p = r->pools[i];
            long long v;
            switch (f) {
            case 0: v = p->queue_depth; break;
            case 1: v = p->dlq_depth; break;
            case 2: v = atomic_load(&p->target); break;
            case 3: v = atomic_load(&p->running); break;
            case 4: v = atomic_load(&p->busy); break;
            case 5: v = atomic_load(&p->consumed); break;
            case 6: v = atomic_load(&p->stored); break;
            case 7: v = atomic_load(&p->failed); break;
            case 8: v = atomic_load(&p->retried); break;
            case 9: v = atomic_load(&p->dead_lettered); break;
            default: v = atomic_load(&p->dropped); break;
            }
            if (f == 0 && v < 0)
                continue; /* depth unknown: no sample rather than a wrong one */
            rc = mtm_buf_printf(out, "%s{tenant=\"%s\",consumerd=\"%s\"} %lld\n", families[f].name,
                                p->tenant_id, consumerd, v);
        }
    }
    if (!rc)
        rc = mtm_buf_puts(out, "# HELP mtm_tenant_info The tenant's name and the consumerd that "
                               "consumes it, for dashboards and alerts (always 1).\n"
                               "# TYPE mtm_tenant_info gauge\n");
    for (size_t i = 0; !rc && i < r->npools; i++) {
        char name[2 * sizeof(r->pools[i]->name)];
        size_t o = 0;
        for (const char *c = r->pools[i]->name; *c && o + 2 < sizeof(name); c++) {
            if (*c == '\\' || *c == '"')
                name[o++] = '\\';
            name[o++] = *c;
        }
        name[o] = '\0';
        rc = mtm_buf_printf(
            out, "mtm_tenant_info{tenant=\"%s\",name=\"%s\",consumer=\"%s\",consumerd=\"%s\"} 1\n",
            r->pools[i]->tenant_id, name, r->consumer, consumerd);
    }
    return rc ? rc : latency_metrics(r, consumerd, out);
}
