/* metrics: see metrics.h. */
#include "metrics.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "textfile.h"

void consumerd_metrics_name(const char *configured, const char *hostname,
                            char out[CONSUMERD_NAME_MAX + 1])
{
    const char *src = configured && *configured ? configured : hostname;
    size_t n = 0;
    for (const char *c = src ? src : ""; *c && n < CONSUMERD_NAME_MAX; c++)
        out[n++] = isalnum((unsigned char)*c) || *c == '.' || *c == '_' || *c == '-' ? *c : '-';
    out[n] = '\0';
    if (!n)
        snprintf(out, CONSUMERD_NAME_MAX + 1, "consumerd");
}

/* One gauge or counter family with this consumerd's sample. */
static int family(struct mtm_buf *out, const char *name, const char *type, const char *help,
                  const char *consumerd, long long value)
{
    return mtm_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s{consumerd=\"%s\"} %lld\n", name,
                          help, name, type, name, consumerd, value);
}

int consumerd_metrics_render(const struct consumerd_metrics *m, const char *name,
                             struct mtm_buf *out)
{
    /* A file that exists belongs to a consumerd that runs (or died
     * without stopping: its heartbeat then goes stale). */
    int rc = family(out, "mtm_consumerd_up", "gauge",
                    "Whether consumerd is running (its file is removed when it stops cleanly).",
                    name, 1);
    rc = rc ? rc
            : mtm_buf_printf(out,
                             "# HELP mtm_consumerd_heartbeat_timestamp_seconds Time of "
                             "consumerd's last heartbeat.\n"
                             "# TYPE mtm_consumerd_heartbeat_timestamp_seconds gauge\n"
                             "mtm_consumerd_heartbeat_timestamp_seconds{consumerd=\"%s\"} %.3f\n",
                             name, (double)m->heartbeat_ms / 1000.0);
    if (m->last_reconcile_ms)
        rc = rc ? rc
                : mtm_buf_printf(out,
                                 "# HELP mtm_consumerd_last_reconcile_timestamp_seconds Time "
                                 "the last reconcile finished.\n"
                                 "# TYPE mtm_consumerd_last_reconcile_timestamp_seconds gauge\n"
                                 "mtm_consumerd_last_reconcile_timestamp_seconds{consumerd=\"%s\"} "
                                 "%.3f\n",
                                 name, (double)m->last_reconcile_ms / 1000.0);
    rc = rc ? rc
            : family(out, "mtm_consumerd_postgres_connected", "gauge",
                     "Whether consumerd is connected to PostgreSQL.", name, m->pg_connected);
    rc = rc ? rc
            : family(out, "mtm_consumerd_rabbitmq_connected", "gauge",
                     "Whether consumerd is connected to RabbitMQ.", name, m->amqp_connected);
    rc = rc ? rc
            : family(out, "mtm_consumerd_fenced", "gauge",
                     "Whether consumerd has stopped its pools because no heartbeat reached "
                     "PostgreSQL for too long.",
                     name, m->fenced);
    rc = rc ? rc
            : family(out, "mtm_consumerd_fenced_total", "counter",
                     "Times consumerd fenced itself off.", name, m->fenced_total);
    rc = rc ? rc
            : family(out, "mtm_consumerd_worker_threads", "gauge", "Consumer threads alive.", name,
                     m->worker_threads);
    rc = rc ? rc
            : family(out, "mtm_consumerd_db_connections", "gauge",
                     "Shared PostgreSQL connections open.", name, m->db_connections);
    rc = rc ? rc
            : family(out, "mtm_consumerd_broker_connections", "gauge",
                     "The workers' shared RabbitMQ connections "
                     "(MTM_AMQP_CHANNELS_PER_CONNECTION channels each at most).",
                     name, m->broker_connections);
    rc = rc ? rc
            : family(out, "mtm_consumerd_broker_connections_up", "gauge",
                     "Of those, the ones connected.", name, m->broker_connections_up);
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
    char path[4096 + CONSUMERD_NAME_MAX + 32], file[CONSUMERD_NAME_MAX + 32];
    file_name(name, file, sizeof(file));
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "textfile: remove %s: %s", path, strerror(errno));
        return MTM_EIO;
    }
    return 0;
}
