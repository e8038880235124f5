/* tenantwatch: see tenantwatch.h. */
#include "tenantwatch.h"

#include <poll.h>
#include <string.h>

#include "backoff.h"
#include "err.h"
#include "pg.h"
#include "timeutil.h"

#define WATCH_POLL_MS 200

/* Forgets every tenant named by a notification libpq has queued. */
static void take_notifications(struct tenant_watch *w, struct mtm_pg *pg)
{
    PGnotify *note;
    while ((note = mtm_pg_notification(pg))) {
        tenant_cache_forget(w->cache, note->extra);
        PQfreemem(note);
    }
}

/* Listens until the connection fails or the process stops. */
static void listen_loop(struct tenant_watch *w, struct mtm_pg *pg)
{
    char err[512];
    while (!atomic_load(w->stopping)) {
        take_notifications(w, pg);
        struct pollfd pfd = {.fd = mtm_pg_socket(pg), .events = POLLIN};
        int n = poll(&pfd, 1, WATCH_POLL_MS);
        if (n < 0)
            continue; /* EINTR */
        if (n > 0 && mtm_pg_consume(pg, err, sizeof(err))) {
            LOG_WARN(&w->log, "lost the database connection: %s", err);
            return;
        }
    }
}

static void *watch(void *arg)
{
    struct tenant_watch *w = arg;
    struct mtm_pg pg;
    struct mtm_backoff backoff;
    char err[512];
    bool warned = false;

    mtm_pg_init(&pg, w->pg_url, 2);
    mtm_pg_set_deadline(&pg, MTM_PG_ANSWER_MS);
    mtm_backoff_init(&backoff, 250, 5000);
    while (!atomic_load(w->stopping)) {
        /* mtm_tenants: a tenant row changed; mtm_tokens: one of its tokens
         * was revoked (sql/0025_token_notify.sql). Both name the tenant. */
        if (mtm_pg_listen(&pg, "mtm_tenants", err, sizeof(err)) ||
            mtm_pg_listen(&pg, "mtm_tokens", err, sizeof(err))) {
            if (!warned)
                LOG_WARN(&w->log, "cannot listen for tenant changes (retrying): %s", err);
            warned = true;
            mtm_pg_disconnect(&pg);
            mtm_sleep_ms(mtm_backoff_next(&backoff), w->stopping);
            continue;
        }
        /* Anything read before LISTEN took effect may be stale: start
         * afresh, and from now on every change comes as a notification. */
        tenant_cache_set_live(w->cache, true);
        mtm_backoff_reset(&backoff);
        LOG_INFO(&w->log, "listening for tenant changes");
        warned = false;
        listen_loop(w, &pg);
        tenant_cache_set_live(w->cache, false); /* every way out of the loop passes here */
        mtm_pg_disconnect(&pg);
    }
    mtm_pg_cleanup(&pg);
    return NULL;
}

int tenant_watch_start(struct tenant_watch *w, struct tenant_cache *cache, const char *pg_url,
                       const atomic_bool *stopping)
{
    memset(w, 0, sizeof(*w));
    w->cache = cache;
    w->pg_url = pg_url;
    w->stopping = stopping;
    w->log.component = "tenant-watch";
    return pthread_create(&w->tid, NULL, watch, w) == 0 ? 0 : MTM_EIO;
}

void tenant_watch_join(struct tenant_watch *w)
{
    pthread_join(w->tid, NULL);
}
