/*
 * daemon: consumerd's main loop.
 *
 * One thread (the main thread) owns two connections: `pg`, on which it
 * LISTENs, writes the heartbeat and reads tenant state, and `amqp`, its
 * administrative broker connection. It waits in poll(2) on the PostgreSQL
 * socket and a signalfd, waking at least once a second to
 *   - reconnect whatever is down, with capped exponential backoff; after
 *     (re)connecting to PostgreSQL it applies migrations and LISTENs again;
 *   - write the heartbeat row and the metrics textfile;
 *   - check the broker connection with a round trip.
 * SIGTERM/SIGINT end the loop; consumerd_run returns and main frees.
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
};

/* Sets up state; blocks SIGTERM/SIGINT and opens the signalfd. */
int consumerd_init(struct consumerd *d, const struct mtm_config *cfg) MTM_MUST_CHECK;
void consumerd_cleanup(struct consumerd *d);
/* Runs until SIGTERM/SIGINT. */
int consumerd_run(struct consumerd *d) MTM_MUST_CHECK;

#endif
