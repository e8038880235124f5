/*
 * daemon: consumerd's main loop.
 *
 * The main thread owns two connections: `pg`, on which it LISTENs, writes
 * the heartbeat and status and reads tenant state, and `amqp`, its
 * administrative broker connection (queue depth, queue deletion). Worker
 * threads (worker.h) own their own broker connections and borrow database
 * connections from the reconciler's dbpool; they never touch these two.
 *
 * The main thread waits in poll(2) on the PostgreSQL socket and a signalfd,
 * waking every TICK_MS to
 *   - reconnect whatever is down, with capped exponential backoff; after
 *     (re)connecting to PostgreSQL it applies migrations and LISTENs again;
 *   - reconcile when asked (NOTIFY, reconnect), when a deletion is pending,
 *     and every RECONCILE_EVERY_MS regardless;
 *   - join finished workers and start missing ones;
 * and once a second writes the heartbeat, which also evens out the share of
 * the tenants among every consumerd running (sql/0019_consumer_leases.sql:
 * this one consumes only the tenants it holds the lease of), the tenants'
 * live status and the metrics textfile. Every LOGIN_SWEEP_EVERY_MS it deletes expired login
 * throttle records and old failed-login audit entries (mtm_login_sweep,
 * sql/0014_login_throttle.sql), so neither grows without bound.
 * SIGTERM/SIGINT end the loop; consumerd_cleanup then stops every worker
 * (each finishes its batch; unacknowledged deliveries return to the queue)
 * and gives its leases back, so the other consumerd take its tenants at
 * their next heartbeat.
 */
#ifndef MTM_CONSUMERD_DAEMON_H
#define MTM_CONSUMERD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "amqp.h"
#include "backoff.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "pg.h"
#include "reconcile.h"
#include "uuid.h"

struct consumerd {
    const struct mtm_config *cfg; /* borrowed */
    struct mtm_log_ctx log;
    struct mtm_pg pg;     /* owned; main thread only */
    struct mtm_amqp amqp; /* owned; main thread only */
    struct mtm_backoff pg_backoff, amqp_backoff;
    int64_t pg_retry_at, amqp_retry_at; /* monotonic ms; 0: now */
    bool listening;
    int signal_fd;
    bool stop;
    struct consumerd_metrics metrics;
    char hostname[256];
    /* in the metrics: label consumerd, its textfile (metrics.h) */
    char name[CONSUMERD_NAME_MAX + 1];
    char id[MTM_UUID_STRLEN + 1]; /* this process among the consumerd (new at each start) */
    uint64_t leases_hash;         /* the tenants held at the last heartbeat */
    int leases;
    int64_t last_claim_ms;    /* monotonic ms of the last heartbeat PostgreSQL took; 0: none yet */
    bool fenced;              /* pools stopped: no heartbeat for too long (daemon.c, fence) */
    struct reconciler rec;    /* owns the pools and the shared dbpool */
    bool need_reconcile;      /* a NOTIFY or a reconnect asked for a pass */
    int64_t next_reconcile;   /* monotonic ms of the periodic pass */
    int64_t next_login_sweep; /* monotonic ms of the next login sweep */
    int64_t next_metrics;     /* monotonic ms of the next metrics textfile */
};

/* Sets up state; blocks SIGTERM/SIGINT and opens the signalfd. */
int consumerd_init(struct consumerd *d, const struct mtm_config *cfg) MTM_MUST_CHECK;
void consumerd_cleanup(struct consumerd *d);
/* Runs until SIGTERM/SIGINT. */
int consumerd_run(struct consumerd *d) MTM_MUST_CHECK;

#endif
