/*
 * metrics: consumerd's Prometheus textfile.
 *
 * The file is rendered into memory, written to a temporary file in the same
 * folder, fsync'd and renamed over mtm.prom, so node_exporter's textfile
 * collector never reads a half-written file.
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
    int worker_threads; /* consumer threads alive */
    int db_connections; /* shared pool connections open */
    bool stopped;       /* written once at a clean stop: mtm_consumerd_up 0 */
};

/* Renders the metrics in text exposition format into out. */
int consumerd_metrics_render(const struct consumerd_metrics *m, struct mtm_buf *out) MTM_MUST_CHECK;

/* Writes text atomically as dir/mtm.prom. */
int consumerd_metrics_write(const char *dir, const char *text, size_t len, char *err,
                            size_t errlen) MTM_MUST_CHECK;

#endif
