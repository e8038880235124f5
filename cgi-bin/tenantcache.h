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
 * Tokens: beside a tenant's facts the cache keeps the ids (jti) of the
 * tenant tokens this process recently found valid (not revoked, the
 * tenant not being deleted: statement TOKEN_VALID), TENANT_CACHE_TOKENS at
 * most per tenant, each for TENANT_CACHE_TTL_MS after its read. Revoking a
 * token NOTIFYs mtm_tokens with its tenant's id (sql/0025_token_notify.sql),
 * which the watcher also listens on: forgetting the tenant forgets its
 * tokens, with the same generation rule for a read that races the change.
 * The handler that revokes forgets the tenant before it answers.
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
#define TENANT_CACHE_TOKENS 4  /* valid tokens kept per tenant; the oldest makes room */

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
    uint64_t generation;       /* advanced by every forget, clear and change of liveness */
    bool live;                 /* the watcher is listening */
    atomic_llong hits, misses; /* facts lookups */
    atomic_llong token_hits, token_misses; /* token checks */
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
/* True when the cache is live and found token jti of tenant id valid less
 * than TENANT_CACHE_TTL_MS before now_ms. */
bool tenant_cache_token_valid(struct tenant_cache *c, const char *id, const char *jti,
                              int64_t now_ms);
/* Keeps that token jti of tenant id was found valid by a read at now_ms,
 * if the cache is live and still at generation (taken before the read). */
void tenant_cache_token_put(struct tenant_cache *c, const char *id, const char *jti,
                            uint64_t generation, int64_t now_ms);
/* The tenant changed (or may have): drop what is known of it and its tokens. */
void tenant_cache_forget(struct tenant_cache *c, const char *id);
/* The watcher started or stopped listening: either way, start afresh. */
void tenant_cache_set_live(struct tenant_cache *c, bool live);

/* Appends mtm_api_tenant_cache_* and mtm_api_token_cache_lookups_total in
 * Prometheus text format. */
int tenant_cache_render(struct tenant_cache *c, struct mtm_buf *out) MTM_MUST_CHECK;

#endif
