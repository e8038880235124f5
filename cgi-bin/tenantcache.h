/*
 * tenantcache: the responder's copy of the few facts about a tenant that
 * most requests check first (it exists, it is not being deleted, its
 * publish limit), so that a publish does not pay a database round trip for
 * them.
 *
 * Kept right by the tenant watcher (tenantwatch.h), which LISTENs on
 * mtm_tenants (every change to a tenant row NOTIFYs its id, see
 * sql/0001_tenants.sql) and forgets the tenant named; the handlers that
 * change a tenant forget it too, before they answer, so this process reads
 * its own writes at once. The cache is used only while the watcher is
 * listening ("live"): when the watcher's connection drops, everything is
 * forgotten and every lookup misses until it listens again. Entries also
 * expire TENANT_CACHE_TTL_MS after they were read, which bounds how long a
 * change can go unseen if its notification was lost with a connection that
 * died silently.
 *
 * A reader that misses takes the generation before its query and offers
 * the row after it; the row is kept only if nothing was forgotten in
 * between, so a row read before a change is never kept after the change's
 * notification arrived. Negative answers (no such tenant) are not kept.
 *
 * Thread-safe: one mutex, held only for a lookup or an update.
 */
#ifndef MTM_TENANTCACHE_H
#define MTM_TENANTCACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "uuid.h"

#define TENANT_CACHE_TTL_MS 5000
#define TENANT_CACHE_BUCKETS 4096
#define TENANT_CACHE_MAX 65536 /* entries; past it the cache starts afresh */

/* What a request needs to know about a tenant. */
struct tenant_facts {
    bool deleting; /* DELETE accepted, consumerd not done yet */
    int rate;      /* publish limit (messages/s, 0 = none), the tenant's or the default */
    int burst;
};

struct tenant_cache_entry;

struct tenant_cache {
    pthread_mutex_t lock;
    struct tenant_cache_entry *buckets[TENANT_CACHE_BUCKETS];
    size_t count;
    uint64_t generation; /* advanced by every forget, clear and change of liveness */
    bool live;           /* the watcher is listening */
    atomic_llong hits, misses;
};

void tenant_cache_init(struct tenant_cache *c);
void tenant_cache_cleanup(struct tenant_cache *c);

/* True and *out filled when the cache is live and holds a fresh entry. */
bool tenant_cache_get(struct tenant_cache *c, const char *id, int64_t now_ms,
                      struct tenant_facts *out);
/* The generation to pass to tenant_cache_put, taken before reading. */
uint64_t tenant_cache_generation(struct tenant_cache *c);
/* Keeps facts read at now_ms if the cache is live and still at generation. */
void tenant_cache_put(struct tenant_cache *c, const char *id, const struct tenant_facts *f,
                      uint64_t generation, int64_t now_ms);
/* The tenant changed (or may have): drop what is known of it. */
void tenant_cache_forget(struct tenant_cache *c, const char *id);
/* The watcher started or stopped listening: either way, start afresh. */
void tenant_cache_set_live(struct tenant_cache *c, bool live);

/* Appends mtm_api_tenant_cache_* in Prometheus text format. */
int tenant_cache_render(struct tenant_cache *c, struct mtm_buf *out) MTM_MUST_CHECK;

#endif
