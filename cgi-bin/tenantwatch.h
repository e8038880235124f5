/*
 * tenantwatch: the responder's thread that keeps its tenant cache right.
 *
 * It owns one PostgreSQL connection, LISTENs on mtm_tenants and mtm_tokens
 * and forgets every tenant a notification names. The cache is live only
 * while it listens: after LISTEN succeeds it marks the cache live (and
 * empty), and as soon as the connection fails it marks it not live, so
 * requests read the database until it listens again. It reconnects with
 * capped backoff and stops within WATCH_POLL_MS of `stopping` being set.
 */
#ifndef MTM_TENANTWATCH_H
#define MTM_TENANTWATCH_H

#include <pthread.h>
#include <stdatomic.h>

#include "log.h"
#include "tenantcache.h"

struct tenant_watch {
    struct tenant_cache *cache;  /* borrowed */
    const char *pg_url;          /* borrowed */
    const atomic_bool *stopping; /* borrowed */
    struct mtm_log_ctx log;
    pthread_t tid;
};

/* Starts the thread; 0, or MTM_EIO when it cannot be created. */
int tenant_watch_start(struct tenant_watch *w, struct tenant_cache *cache, const char *pg_url,
                       const atomic_bool *stopping);
/* Waits for the thread after `stopping` was set. */
void tenant_watch_join(struct tenant_watch *w);

#endif
