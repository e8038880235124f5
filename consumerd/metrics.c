/* metrics: see metrics.h. */
#include "metrics.h"

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "textfile.h"

void consumerd_metrics_name(const char *configured, const char *hostname,
                            char out[CONSUMERD_NAME_MAX + 1])
{
    const char *src = configured && *configured ? configured : hostname;
    size_t n = 0;
    for (const char *c = src ? src : ""; *c && n < CONSUMERD_NAME_MAX; c++)
        out[n++] = mtm_config_name_char(*c) ? *c : '-';
    out[n] = '\0';
    if (!n)
        snprintf(out, CONSUMERD_NAME_MAX + 1, "consumerd");
}

int consumerd_metrics_render(const struct consumerd_metrics *m, const char *name,
                             struct mtm_buf *out)
{
    /* Timestamps are printed in seconds with milliseconds; the rest are
     * whole numbers. A family whose `show` is false is left out. */
    const struct {
        const char *name, *type, *help;
        double value;
        bool seconds, show;
    } families[] = {
        /* A file that exists belongs to a consumerd that runs (or died
         * without stopping: its heartbeat then goes stale). */
        {"mtm_consumerd_up", "gauge",
         "Whether consumerd is running (its file is removed when it stops cleanly).", 1, false,
         true},
        {"mtm_consumerd_heartbeat_timestamp_seconds", "gauge",
         "Time of consumerd's last heartbeat.", (double)m->heartbeat_ms / 1000.0, true, true},
        {"mtm_consumerd_last_reconcile_timestamp_seconds", "gauge",
         "Time the last reconcile finished.", (double)m->last_reconcile_ms / 1000.0, true,
         m->last_reconcile_ms != 0},
        {"mtm_consumerd_postgres_connected", "gauge",
         "Whether consumerd is connected to PostgreSQL.", m->pg_connected, false, true},
        {"mtm_consumerd_rabbitmq_connected", "gauge", "Whether consumerd is connected to RabbitMQ.",
         m->amqp_connected, false, true},
        {"mtm_consumerd_fenced", "gauge",
         "Whether consumerd has stopped its pools because no heartbeat reached PostgreSQL for "
         "too long.",
         m->fenced, false, true},
        {"mtm_consumerd_fenced_total", "counter", "Times consumerd fenced itself off.",
         (double)m->fenced_total, false, true},
        {"mtm_consumerd_worker_threads", "gauge", "Consumer threads alive.", m->worker_threads,
         false, true},
        {"mtm_consumerd_db_connections", "gauge", "Shared PostgreSQL connections open.",
         m->db_connections, false, true},
        {"mtm_consumerd_store_transactions_total", "counter",
         "Transactions that stored the workers' batches (several tenants' batches each under "
         "load).",
         (double)m->store_transactions, false, true},
        {"mtm_consumerd_store_batches_total", "counter",
         "Batches stored through those transactions.", (double)m->store_batches, false, true},
        {"mtm_consumerd_broker_connections", "gauge",
         "The workers' shared RabbitMQ connections (MTM_AMQP_CHANNELS_PER_CONNECTION channels "
         "each at most).",
         m->broker_connections, false, true},
        {"mtm_consumerd_broker_connections_up", "gauge", "Of those, the ones connected.",
         m->broker_connections_up, false, true},
    };
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof(families) / sizeof(families[0]); i++) {
        if (!families[i].show)
            continue;
        rc = mtm_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s{consumerd=\"%s\"} ",
                            families[i].name, families[i].help, families[i].name, families[i].type,
                            families[i].name, name);
        rc = rc                    ? rc
             : families[i].seconds ? mtm_buf_printf(out, "%.3f\n", families[i].value)
                                   : mtm_buf_printf(out, "%.0f\n", families[i].value);
    }
    return rc;
}

static void file_name(const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "mtm-consumerd-%s.prom", name);
}

int consumerd_metrics_write(const char *dir, const char *name, const char *text, size_t len,
                            char *err, size_t errlen)
{
    char file[CONSUMERD_NAME_MAX + 32];
    file_name(name, file, sizeof(file));
    return mtm_textfile_write(dir, file, text, len, err, errlen);
}

int consumerd_metrics_remove(const char *dir, const char *name, char *err, size_t errlen)
{
    char file[CONSUMERD_NAME_MAX + 32];
    file_name(name, file, sizeof(file));
    return mtm_textfile_remove(dir, file, NULL, err, errlen);
}
