/*
 * metrics: consumerd's own gauges in Prometheus text format, and the
 * textfile (mtm.prom) they are written to.
 *
 * The daemon fills a struct consumerd_metrics, renders it here followed by
 * the per-tenant metrics (reconciler_metrics), and hands the text to
 * consumerd_metrics_write, which names the file; writing it atomically is
 * lib/textfile's job.
 */
#ifndef MTM_CONSUMERD_METRICS_H
#define MTM_CONSUMERD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct consumerd_metrics {
    int64_t heartbeat_ms;      /* wall clock of the last heartbeat */
    int64_t last_reconcile_ms; /* wall clock of the last finished reconcile, 0 if none */
    bool pg_connected;
    bool amqp_connected;
    int worker_threads;        /* consumer threads alive */
    int db_connections;        /* shared pool connections open */
    int broker_connections;    /* the workers' shared broker connections (mux.h) */
    int broker_connections_up; /* of those, connected */
    bool stopped;              /* written once at a clean stop: mtm_consumerd_up 0 */
    bool fenced;               /* pools stopped: no heartbeat reached the database (daemon.c) */
    long long fenced_total;
};

/* Renders the metrics in text exposition format into out. */
int consumerd_metrics_render(const struct consumerd_metrics *m, struct mtm_buf *out) MTM_MUST_CHECK;

/* Writes text as dir/mtm.prom (mtm_textfile_write: atomic, error in err). */
int consumerd_metrics_write(const char *dir, const char *text, size_t len, char *err,
                            size_t errlen) MTM_MUST_CHECK;

#endif
