/* metrics: see metrics.h. */
#include "metrics.h"

#include "textfile.h"

int consumerd_metrics_render(const struct consumerd_metrics *m, struct mtm_buf *out)
{
    int rc = 0;
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_up Whether consumerd is running (0 once it "
                             "stopped cleanly).\n"
                             "# TYPE mtm_consumerd_up gauge\n"
                             "mtm_consumerd_up %d\n",
                             m->stopped ? 0 : 1);
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_heartbeat_timestamp_seconds Time of "
                             "consumerd's last heartbeat.\n"
                             "# TYPE mtm_consumerd_heartbeat_timestamp_seconds gauge\n"
                             "mtm_consumerd_heartbeat_timestamp_seconds %.3f\n",
                             (double)m->heartbeat_ms / 1000.0);
    if (m->last_reconcile_ms)
        rc = rc ? rc
                : mtm_buf_printf(out,
                                 "# HELP mtm_consumerd_last_reconcile_timestamp_seconds Time "
                                 "the last reconcile finished.\n"
                                 "# TYPE mtm_consumerd_last_reconcile_timestamp_seconds gauge\n"
                                 "mtm_consumerd_last_reconcile_timestamp_seconds %.3f\n",
                                 (double)m->last_reconcile_ms / 1000.0);
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_postgres_connected Whether consumerd is "
                             "connected to PostgreSQL.\n"
                             "# TYPE mtm_consumerd_postgres_connected gauge\n"
                             "mtm_consumerd_postgres_connected %d\n"
                             "# HELP mtm_consumerd_rabbitmq_connected Whether consumerd is "
                             "connected to RabbitMQ.\n"
                             "# TYPE mtm_consumerd_rabbitmq_connected gauge\n"
                             "mtm_consumerd_rabbitmq_connected %d\n",
                             m->pg_connected ? 1 : 0, m->amqp_connected ? 1 : 0);
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_fenced Whether consumerd has stopped its "
                             "pools because no heartbeat reached PostgreSQL for too long.\n"
                             "# TYPE mtm_consumerd_fenced gauge\n"
                             "mtm_consumerd_fenced %d\n"
                             "# HELP mtm_consumerd_fenced_total Times consumerd fenced itself "
                             "off.\n"
                             "# TYPE mtm_consumerd_fenced_total counter\n"
                             "mtm_consumerd_fenced_total %lld\n",
                             m->fenced ? 1 : 0, m->fenced_total);
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_worker_threads Consumer threads alive.\n"
                             "# TYPE mtm_consumerd_worker_threads gauge\n"
                             "mtm_consumerd_worker_threads %d\n"
                             "# HELP mtm_consumerd_db_connections Shared PostgreSQL connections "
                             "open.\n"
                             "# TYPE mtm_consumerd_db_connections gauge\n"
                             "mtm_consumerd_db_connections %d\n",
                             m->worker_threads, m->db_connections);
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_broker_connections The workers' shared "
                             "RabbitMQ connections (MTM_AMQP_CHANNELS_PER_CONNECTION channels "
                             "each at most).\n"
                             "# TYPE mtm_consumerd_broker_connections gauge\n"
                             "mtm_consumerd_broker_connections %d\n"
                             "# HELP mtm_consumerd_broker_connections_up Of those, the ones "
                             "connected.\n"
                             "# TYPE mtm_consumerd_broker_connections_up gauge\n"
                             "mtm_consumerd_broker_connections_up %d\n",
                             m->broker_connections, m->broker_connections_up);
    return rc;
}

int consumerd_metrics_write(const char *dir, const char *text, size_t len, char *err, size_t errlen)
{
    return mtm_textfile_write(dir, "mtm.prom", text, len, err, errlen);
}
