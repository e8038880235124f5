/*
 * metrics: consumerd's own gauges in Prometheus text format, and the
 * textfile (mtm-consumerd-<name>.prom) they are written to.
 *
 * The daemon fills a struct consumerd_metrics, renders it here followed by
 * the per-tenant metrics (reconciler_metrics), and hands the text to
 * consumerd_metrics_write, which names the file; writing it atomically is
 * lib/textfile's job.
 *
 * Several consumerd may share one metrics folder (one host, or a volume
 * shared by containers): each has a name (MTM_CONSUMER_NAME, by default
 * the host name), writes its own file and labels every sample
 * consumerd="<name>", so node_exporter's textfile collector and
 * GET /api/metrics see every consumerd's figures side by side, and a
 * tenant that moves between two of them never has two samples with the
 * same labels. A consumerd that stops cleanly removes its file: it handed
 * its tenants over on purpose (a dead one's file stays, and its heartbeat
 * goes stale: MtmConsumerdDown).
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
    int worker_threads;           /* consumer threads alive */
    int db_connections;           /* shared pool connections open */
    long long store_transactions; /* the group store's transactions (groupstore.h) */
    long long store_batches;      /* the batches they stored */
    int broker_connections;       /* the workers' shared broker connections (mux.h) */
    int broker_connections_up;    /* of those, connected */
    bool fenced;                  /* pools stopped: no heartbeat reached the database (daemon.c) */
    long long fenced_total;
};

#define CONSUMERD_NAME_MAX 64

/* This consumerd's name: configured (MTM_CONSUMER_NAME, already checked by
 * lib/config), else the host name with every character a name may not
 * hold replaced by '-', cut to CONSUMERD_NAME_MAX bytes ("consumerd" when
 * there is none). out holds CONSUMERD_NAME_MAX + 1 bytes. */
void consumerd_metrics_name(const char *configured, const char *hostname,
                            char out[CONSUMERD_NAME_MAX + 1]);

/* Renders the metrics in text exposition format into out, every sample
 * labelled consumerd="<name>". */
int consumerd_metrics_render(const struct consumerd_metrics *m, const char *name,
                             struct mtm_buf *out) MTM_MUST_CHECK;

/* Writes text as dir/mtm-consumerd-<name>.prom (mtm_textfile_write:
 * atomic, error in err). */
int consumerd_metrics_write(const char *dir, const char *name, const char *text, size_t len,
                            char *err, size_t errlen) MTM_MUST_CHECK;

/* Removes dir/mtm-consumerd-<name>.prom (a missing file is no error). */
int consumerd_metrics_remove(const char *dir, const char *name, char *err,
                             size_t errlen) MTM_MUST_CHECK;

#endif
