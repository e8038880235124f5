/* metrics: see metrics.h. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

int consumerd_metrics_render(const struct consumerd_metrics *m, struct mtm_buf *out)
{
    int rc = 0;
    rc = rc ? rc
            : mtm_buf_puts(out, "# HELP mtm_consumerd_up Whether consumerd is running.\n"
                                "# TYPE mtm_consumerd_up gauge\n"
                                "mtm_consumerd_up 1\n");
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
                             "# HELP mtm_consumerd_worker_threads Consumer threads alive.\n"
                             "# TYPE mtm_consumerd_worker_threads gauge\n"
                             "mtm_consumerd_worker_threads %d\n"
                             "# HELP mtm_consumerd_db_connections Shared PostgreSQL connections "
                             "open.\n"
                             "# TYPE mtm_consumerd_db_connections gauge\n"
                             "mtm_consumerd_db_connections %d\n",
                             m->worker_threads, m->db_connections);
    return rc;
}

int consumerd_metrics_write(const char *dir, const char *text, size_t len, char *err, size_t errlen)
{
    char *tmp = xasprintf("%s/.mtm.prom.%ld.tmp", dir, (long)getpid());
    char *dst = xasprintf("%s/mtm.prom", dir);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "metrics: open %s: %s", tmp, strerror(errno));
        rc = MTM_EIO;
    } else {
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                snprintf(err, errlen, "metrics: write %s: %s", tmp, strerror(errno));
                rc = MTM_EIO;
                break;
            }
            off += (size_t)w;
        }
        if (!rc && fsync(fd) < 0) {
            snprintf(err, errlen, "metrics: fsync %s: %s", tmp, strerror(errno));
            rc = MTM_EIO;
        }
        close(fd);
        if (!rc && rename(tmp, dst) < 0) {
            snprintf(err, errlen, "metrics: rename to %s: %s", dst, strerror(errno));
            rc = MTM_EIO;
        }
        if (rc)
            unlink(tmp);
    }
    free(tmp);
    free(dst);
    return rc;
}
