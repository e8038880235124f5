/* daemon: see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "migrate.h"
#include "textfile.h"
#include "timeutil.h"

#define TICK_MS 250
#define METRICS_MS_PER_TENANT 1 /* between two writes of the metrics textfile */
#define BEAT_MS 1000
#define RECONCILE_EVERY_MS 30000
#define RECONNECT_BASE_MS 200
#define RECONNECT_CAP_MS 5000
#define LOGIN_SWEEP_EVERY_MS 10000
#define LOGIN_AUDIT_KEEP_DAYS "30" /* failed-login audit entries; text: a parameter */

int consumerd_init(struct consumerd *d, const struct mtm_config *cfg)
{
    memset(d, 0, sizeof(*d));
    d->cfg = cfg;
    d->log.component = "consumerd";
    mtm_pg_init(&d->pg, cfg->pg_url, 2);
    mtm_pg_set_deadline(&d->pg, MTM_PG_ANSWER_MS);
    mtm_pg_set_options(&d->pg, MTM_PG_OPTIONS_ALL_TENANTS);
    mtm_amqp_init(&d->amqp, cfg->amqp_url, 2000, 0);
    mtm_backoff_init(&d->pg_backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
    mtm_backoff_init(&d->amqp_backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
    if (gethostname(d->hostname, sizeof(d->hostname) - 1) != 0)
        snprintf(d->hostname, sizeof(d->hostname), "unknown");
    consumerd_metrics_name(cfg->consumer_name, d->hostname, d->name);
    if (mtm_uuid7_new(d->id)) {
        LOG_ERROR(&d->log, "cannot make this consumerd's id");
        mtm_amqp_cleanup(&d->amqp);
        mtm_pg_cleanup(&d->pg);
        return MTM_EIO;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (mkdir(cfg->metrics_dir, 0755) != 0 && errno != EEXIST)
        LOG_WARN(&d->log, "metrics folder %s: %s", cfg->metrics_dir, strerror(errno));
    /* Earlier versions wrote mtm.prom: left behind, its heartbeat would go
     * stale and keep MtmConsumerdDown firing. */
    bool legacy = false;
    char err[512];
    if (mtm_textfile_remove(cfg->metrics_dir, "mtm.prom", &legacy, err, sizeof(err)))
        LOG_WARN(&d->log, "%s", err);
    else if (legacy)
        LOG_INFO(&d->log, "removed %s/mtm.prom (an earlier version's metrics file)",
                 cfg->metrics_dir);
    reconciler_init(&d->rec, cfg, &d->log, d->id);
    d->need_reconcile = true;
    if (d->signal_fd < 0) {
        reconciler_cleanup(&d->rec);
        LOG_ERROR(&d->log, "signalfd: %s", strerror(errno));
        mtm_amqp_cleanup(&d->amqp);
        mtm_pg_cleanup(&d->pg);
        return MTM_EIO;
    }
    return 0;
}

void consumerd_cleanup(struct consumerd *d)
{
    char err[512];
    reconciler_cleanup(&d->rec);
    /* Every worker has stopped: hand the tenants over at once. */
    const char *params[] = {d->id};
    if (d->listening &&
        mtm_pg_exec(&d->pg, MTM_STMT_CONSUMER_LEAVE, params, NULL, err, sizeof(err)))
        LOG_WARN(&d->log, "leases not given back (they expire by themselves): %s", err);
    else if (d->listening)
        LOG_INFO(&d->log, "leases given back");
    mtm_amqp_cleanup(&d->amqp);
    mtm_pg_cleanup(&d->pg);
    if (d->signal_fd >= 0)
        close(d->signal_fd);
    d->signal_fd = -1;
}

static void pg_lost(struct consumerd *d, const char *why)
{
    LOG_WARN(&d->log, "postgres connection lost: %s", why);
    mtm_pg_disconnect(&d->pg);
    d->listening = false;
    d->pg_retry_at = mtm_mono_ms() + mtm_backoff_next(&d->pg_backoff);
}

/*
 * Runs a statement on the main connection: 0, or the error, after taking an
 * outage as the connection lost (pg_lost) or logging anything else as
 * `what`.
 */
static int exec_main(struct consumerd *d, enum mtm_stmt stmt, const char *const *params,
                     PGresult **res, const char *what)
{
    char err[512];
    int rc = mtm_pg_exec(&d->pg, stmt, params, res, err, sizeof(err));
    if (rc == MTM_EUNAVAIL)
        pg_lost(d, err);
    else if (rc)
        LOG_WARN(&d->log, "%s: %s", what, err);
    return rc;
}

/* Connects, migrates and LISTENs; schedules a retry on failure. */
static void pg_ensure(struct consumerd *d)
{
    char err[512];
    if (d->listening && mtm_pg_connected(&d->pg))
        return;
    if (mtm_mono_ms() < d->pg_retry_at)
        return;
    int applied = 0;
    int rc = mtm_pg_connect(&d->pg, err, sizeof(err));
    if (!rc)
        rc = mtm_migrate(&d->pg, d->cfg->sql_dir, &d->log, &applied, err, sizeof(err));
    if (!rc)
        rc = mtm_pg_listen(&d->pg, "mtm_tenants", err, sizeof(err));
    if (rc) {
        uint32_t wait = mtm_backoff_next(&d->pg_backoff);
        LOG_WARN(&d->log, "postgres not ready (%s); retrying in %u ms", err, wait);
        if (rc != MTM_EUNAVAIL)
            mtm_pg_disconnect(&d->pg);
        d->pg_retry_at = mtm_mono_ms() + wait;
        return;
    }
    mtm_backoff_reset(&d->pg_backoff);
    d->listening = true;
    d->need_reconcile = true; /* notifications may have been missed */
    /* The rows may not hold what this process last wrote (a report lost
     * with the connection, a restored database): write them all once. */
    reconciler_report_all(&d->rec);
    LOG_INFO(&d->log, "postgres connected, %d migration(s) applied, listening", applied);
}

static void amqp_check(struct consumerd *d)
{
    char err[512];
    if (!mtm_amqp_is_open(&d->amqp) && mtm_mono_ms() < d->amqp_retry_at)
        return;
    bool was_open = mtm_amqp_is_open(&d->amqp);
    int rc = mtm_amqp_ping(&d->amqp, err, sizeof(err));
    if (rc) {
        uint32_t wait = mtm_backoff_next(&d->amqp_backoff);
        LOG_WARN(&d->log, "rabbitmq %s (%s); retrying in %u ms", was_open ? "lost" : "not ready",
                 err, wait);
        d->amqp_retry_at = mtm_mono_ms() + wait;
        return;
    }
    if (!was_open) {
        LOG_INFO(&d->log, "rabbitmq connected");
        d->need_reconcile = true; /* deletions may wait for the broker */
    }
    mtm_backoff_reset(&d->amqp_backoff);
}

static void write_metrics(struct consumerd *d);

/*
 * The heartbeat, which also evens out the share of the tenants among the
 * consumerd running (CONSUMER_BEAT): asks for a reconcile when the set of
 * tenants this one holds changed.
 */
static void claim(struct consumerd *d)
{
    char pid[16], lease_ms[16];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    snprintf(lease_ms, sizeof(lease_ms), "%d", d->cfg->heartbeat_max_age * 1000);
    const char *params[] = {d->id, d->hostname, pid, mtm_amqp_is_open(&d->amqp) ? "true" : "false",
                            lease_ms};
    PGresult *res;
    if (exec_main(d, MTM_STMT_CONSUMER_BEAT, params, &res, "heartbeat"))
        return;
    d->last_claim_ms = mtm_mono_ms();
    if (d->fenced) {
        LOG_INFO(&d->log, "heartbeat taken again: consuming the tenants this consumerd holds");
        d->fenced = false;
        d->metrics.fenced = false;
        d->leases_hash = 0;
        d->leases = -1; /* whatever it holds now differs: reconcile */
    }
    uint64_t h = MTM_HASH_INIT; /* over the sorted ids */
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        h = mtm_hash_str(h, PQgetvalue(res, i, 0));
    PQclear(res);
    if (h != d->leases_hash || n != d->leases) {
        LOG_INFO(&d->log, "consumerd %s holds %d tenant(s) (was %d)", d->id, n, d->leases);
        d->leases_hash = h;
        d->leases = n;
        d->need_reconcile = true;
    }
}

/*
 * Self-fencing. The others free this consumerd's tenants once its
 * heartbeat is MTM_HEARTBEAT_MAX_AGE seconds old; cut off from PostgreSQL,
 * it cannot know whether that has happened, so it stops every pool before
 * then (two beats earlier, at least one beat after the last). Its workers
 * give their unacknowledged deliveries back to the queues, where the new
 * holders' workers get them, instead of holding them until the database
 * answers again. The first heartbeat PostgreSQL takes again ends it.
 */
static void fence(struct consumerd *d, int64_t now)
{
    int64_t lease_ms = (int64_t)d->cfg->heartbeat_max_age * 1000;
    int64_t after = lease_ms - 2 * BEAT_MS > BEAT_MS ? lease_ms - 2 * BEAT_MS : BEAT_MS;
    if (d->fenced || d->last_claim_ms == 0 || now - d->last_claim_ms < after)
        return;
    LOG_WARN(&d->log,
             "no heartbeat reached the database for %lld ms: stopping every pool before the "
             "leases expire (they may go to another consumerd)",
             (long long)(now - d->last_claim_ms));
    reconciler_fence(&d->rec);
    d->fenced = true;
    d->metrics.fenced = true;
    d->metrics.fenced_total++;
}

static void heartbeat(struct consumerd *d)
{
    char err[512];
    d->metrics.heartbeat_ms = mtm_wall_ms();
    if (d->listening)
        claim(d);
    if (d->listening && reconciler_report(&d->rec, &d->pg, &d->amqp, err, sizeof(err)))
        LOG_WARN(&d->log, "status report: %s", err);
    /* The textfile holds about 30 lines per tenant: 10,000 tenants are
     * 20 MB to render every time. Up to 1,000 tenants it is rewritten every
     * second; beyond, every (tenants / 1,000) s, at most every 10 s, well
     * inside MtmConsumerdDown's 30 s and a usual scrape interval. */
    int64_t now = mtm_mono_ms();
    if (now >= d->next_metrics) {
        write_metrics(d);
        int64_t every = (int64_t)d->rec.npools * METRICS_MS_PER_TENANT;
        d->next_metrics = now + (every < 1000 ? 1000 : every > 10000 ? 10000 : every) - TICK_MS;
    }
}

/* The textfile node_exporter (and GET /api/metrics) serves. */
static void write_metrics(struct consumerd *d)
{
    char err[512];
    d->metrics.pg_connected = d->listening && mtm_pg_connected(&d->pg);
    d->metrics.amqp_connected = mtm_amqp_is_open(&d->amqp);
    d->metrics.worker_threads = reconciler_threads(&d->rec);
    d->metrics.db_connections = dbpool_open_count(&d->rec.db);
    struct group_store_figures stores;
    group_store_figures(&d->rec.store, &stores);
    d->metrics.store_transactions = stores.groups;
    d->metrics.store_batches = stores.batches;
    size_t up = 0;
    d->metrics.broker_connections = (int)mux_connections(&d->rec.mux, &up);
    d->metrics.broker_connections_up = (int)up;

    struct mtm_buf text;
    err[0] = '\0';
    mtm_buf_init(&text, 64 << 20);
    if (consumerd_metrics_render(&d->metrics, d->name, &text) ||
        reconciler_metrics(&d->rec, d->name, &text) ||
        consumerd_metrics_write(d->cfg->metrics_dir, d->name, mtm_buf_cstr(&text), text.len, err,
                                sizeof(err)))
        LOG_WARN(&d->log, "%s", err[0] ? err : "metrics: rendering failed");
    mtm_buf_cleanup(&text);
}

/*
 * Takes the notifications libpq has queued. libpq also queues them while
 * consumerd runs its own statements on this connection (heartbeat, status,
 * reconcile), and those leave nothing for poll() to report: the queue must
 * be drained before every wait, not only when the socket is readable.
 */
static void take_notifications(struct consumerd *d)
{
    PGnotify *note;
    while ((note = mtm_pg_notification(&d->pg))) {
        LOG_DEBUG(&d->log, "notified: %s %s", note->relname, note->extra);
        PQfreemem(note);
        d->need_reconcile = true;
    }
}

/* Reads what arrived on the LISTEN socket, then takes the notifications. */
static void read_notifications(struct consumerd *d)
{
    char err[512];
    if (mtm_pg_consume(&d->pg, err, sizeof(err))) {
        pg_lost(d, err);
        return;
    }
    take_notifications(d);
}

static void read_signal(struct consumerd *d)
{
    struct signalfd_siginfo si;
    while (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        LOG_INFO(&d->log, "signal %u: stopping", si.ssi_signo);
        d->stop = true;
    }
}

static void maybe_reconcile(struct consumerd *d, int64_t now)
{
    char err[512];
    if (!d->listening)
        return;
    if (!d->need_reconcile && !d->rec.pending && now < d->next_reconcile)
        return;
    /* A new tenant (NOTIFY) is taken by whoever is short of its share now,
     * not at the next heartbeat. */
    claim(d);
    if (!d->listening)
        return;
    int rc = reconcile(&d->rec, &d->pg, &d->amqp, err, sizeof(err));
    if (rc) {
        /* Try again in a second rather than at every wake-up. */
        LOG_WARN(&d->log, "reconcile: %s", err);
        d->need_reconcile = false;
        d->next_reconcile = now + BEAT_MS;
        if (rc == MTM_EUNAVAIL)
            pg_lost(d, err);
        return;
    }
    d->need_reconcile = false;
    d->next_reconcile = now + RECONCILE_EVERY_MS;
    d->metrics.last_reconcile_ms = mtm_wall_ms();
}

/* Throttle records, failed-login audit entries and resolved alerts: bounded by time. */
static void login_sweep(struct consumerd *d, int64_t now)
{
    if (!d->listening || now < d->next_login_sweep)
        return;
    d->next_login_sweep = now + LOGIN_SWEEP_EVERY_MS;
    const char *params[] = {LOGIN_AUDIT_KEEP_DAYS};
    PGresult *res;
    if (exec_main(d, MTM_STMT_LOGIN_SWEEP, params, &res, "login sweep"))
        return;
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        LOG_INFO(&d->log, "login sweep: %s expired throttle record(s) deleted",
                 PQgetvalue(res, 0, 0));
    PQclear(res);
    /* Resolved alerts older than a day go the same way (sql/0017). */
    if (d->listening)
        (void)exec_main(d, MTM_STMT_ALERTS_SWEEP, NULL, NULL, "alerts sweep");
}

int consumerd_run(struct consumerd *d)
{
    int64_t next_tick = 0, next_beat = 0;
    LOG_INFO(&d->log, "starting (pid %ld, name %s in the metrics)", (long)getpid(), d->name);
    while (!d->stop) {
        int64_t now = mtm_mono_ms();
        bool asked = d->need_reconcile && d->listening;
        if (now >= next_tick || asked) {
            pg_ensure(d);
            if (now >= next_beat)
                amqp_check(d);
            maybe_reconcile(d, now);
            fence(d, now);
            login_sweep(d, now);
            reconciler_maintain(&d->rec);
            if (now >= next_beat) {
                heartbeat(d);
                next_beat = now + BEAT_MS;
            }
            next_tick = now + TICK_MS;
        }
        if (d->listening)
            take_notifications(d);
        struct pollfd fds[2] = {{.fd = d->signal_fd, .events = POLLIN}, {.fd = -1}};
        if (d->listening && mtm_pg_socket(&d->pg) >= 0) {
            fds[1].fd = mtm_pg_socket(&d->pg);
            fds[1].events = POLLIN;
        }
        int wait = d->need_reconcile && d->listening ? 0 : (int)(next_tick - mtm_mono_ms());
        int rc = poll(fds, 2, wait > 0 ? wait : 0);
        if (rc < 0 && errno != EINTR) {
            LOG_ERROR(&d->log, "poll: %s", strerror(errno));
            return MTM_EIO;
        }
        if (rc > 0 && (fds[0].revents & POLLIN))
            read_signal(d);
        if (rc > 0 && fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            read_notifications(d);
    }
    /* A clean stop takes this consumerd's figures away at once (metrics.h):
     * its tenants go to the others; when it was the last, MtmConsumerdDown
     * sees mtm_consumerd_up absent without waiting for a stale heartbeat. */
    char err[512];
    if (consumerd_metrics_remove(d->cfg->metrics_dir, d->name, err, sizeof(err)))
        LOG_WARN(&d->log, "%s", err);
    LOG_INFO(&d->log, "stopped");
    return 0;
}
