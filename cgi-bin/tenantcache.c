/* tenantcache: see tenantcache.h. */
#include "tenantcache.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

struct cached_token {
    char jti[MTM_UUID_STRLEN + 1]; /* lower case; "" while the slot is free */
    int64_t read_ms;
};

struct tenant_cache_entry {
    struct tenant_cache_entry *next;
    char id[MTM_UUID_STRLEN + 1]; /* lower case */
    bool has_facts;               /* an entry made for a token has none yet */
    struct tenant_facts facts;
    int64_t read_ms;
    struct cached_token tokens[TENANT_CACHE_TOKENS];
};

static size_t bucket_of(const char *key)
{
    return (size_t)(mtm_hash_str(MTM_HASH_INIT, key) % TENANT_CACHE_BUCKETS);
}

void tenant_cache_init(struct tenant_cache *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->hits, 0);
    atomic_init(&c->misses, 0);
    atomic_init(&c->token_hits, 0);
    atomic_init(&c->token_misses, 0);
}

/* Drops every entry; the caller holds the lock. */
static void drop_all(struct tenant_cache *c)
{
    for (size_t b = 0; b < TENANT_CACHE_BUCKETS; b++) {
        struct tenant_cache_entry *e = c->buckets[b];
        while (e) {
            struct tenant_cache_entry *next = e->next;
            free(e);
            e = next;
        }
        c->buckets[b] = NULL;
    }
    c->count = 0;
}

void tenant_cache_cleanup(struct tenant_cache *c)
{
    drop_all(c);
    pthread_mutex_destroy(&c->lock);
}

/* The entry's link in its bucket, or the bucket's end; the caller holds the lock. */
static struct tenant_cache_entry **find(struct tenant_cache *c, const char *key)
{
    struct tenant_cache_entry **at = &c->buckets[bucket_of(key)];
    while (*at && strcmp((*at)->id, key) != 0)
        at = &(*at)->next;
    return at;
}

bool tenant_cache_get(struct tenant_cache *c, const char *id, int64_t now_ms,
                      struct tenant_facts *out)
{
    char key[MTM_UUID_STRLEN + 1];
    bool hit = false;
    if (mtm_uuid_key(id, key)) {
        pthread_mutex_lock(&c->lock);
        struct tenant_cache_entry *e = c->live ? *find(c, key) : NULL;
        if (e && e->has_facts && now_ms - e->read_ms < TENANT_CACHE_TTL_MS) {
            *out = e->facts;
            hit = true;
        }
        pthread_mutex_unlock(&c->lock);
    }
    atomic_fetch_add(hit ? &c->hits : &c->misses, 1);
    return hit;
}

uint64_t tenant_cache_generation(struct tenant_cache *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t g = c->generation;
    pthread_mutex_unlock(&c->lock);
    return g;
}

/* The entry for key, made if missing, when a read at generation may still
 * be kept (the cache is live and nothing was forgotten since); else NULL.
 * The caller holds the lock. */
static struct tenant_cache_entry *entry_to_keep(struct tenant_cache *c, const char *key,
                                                uint64_t generation)
{
    if (!c->live || c->generation != generation)
        return NULL;
    struct tenant_cache_entry **at = find(c, key);
    if (!*at) {
        if (c->count >= TENANT_CACHE_MAX) {
            drop_all(c);
            at = find(c, key);
        }
        *at = xcalloc(1, sizeof(**at));
        memcpy((*at)->id, key, MTM_UUID_STRLEN + 1);
        c->count++;
    }
    return *at;
}

void tenant_cache_put(struct tenant_cache *c, const char *id, const struct tenant_facts *f,
                      uint64_t generation, int64_t now_ms)
{
    char key[MTM_UUID_STRLEN + 1];
    if (!mtm_uuid_key(id, key))
        return;
    pthread_mutex_lock(&c->lock);
    struct tenant_cache_entry *e = entry_to_keep(c, key, generation);
    if (e) {
        e->has_facts = true;
        e->facts = *f;
        e->read_ms = now_ms;
    }
    pthread_mutex_unlock(&c->lock);
}

bool tenant_cache_token_valid(struct tenant_cache *c, const char *id, const char *jti,
                              int64_t now_ms)
{
    char key[MTM_UUID_STRLEN + 1], token[MTM_UUID_STRLEN + 1];
    bool hit = false;
    if (mtm_uuid_key(id, key) && mtm_uuid_key(jti, token)) {
        pthread_mutex_lock(&c->lock);
        const struct tenant_cache_entry *e = c->live ? *find(c, key) : NULL;
        for (size_t i = 0; e && !hit && i < TENANT_CACHE_TOKENS; i++)
            hit = strcmp(e->tokens[i].jti, token) == 0 &&
                  now_ms - e->tokens[i].read_ms < TENANT_CACHE_TTL_MS;
        pthread_mutex_unlock(&c->lock);
    }
    atomic_fetch_add(hit ? &c->token_hits : &c->token_misses, 1);
    return hit;
}

void tenant_cache_token_put(struct tenant_cache *c, const char *id, const char *jti,
                            uint64_t generation, int64_t now_ms)
{
    char key[MTM_UUID_STRLEN + 1], token[MTM_UUID_STRLEN + 1];
    if (!mtm_uuid_key(id, key) || !mtm_uuid_key(jti, token))
        return;
    pthread_mutex_lock(&c->lock);
    struct tenant_cache_entry *e = entry_to_keep(c, key, generation);
    if (e) {
        /* Its own slot if it has one, else the one read longest ago (a
         * free slot, zeroed, reads as the oldest). */
        struct cached_token *slot = &e->tokens[0];
        for (size_t i = 0; i < TENANT_CACHE_TOKENS; i++) {
            struct cached_token *t = &e->tokens[i];
            if (strcmp(t->jti, token) == 0) {
                slot = t;
                break;
            }
            if (t->read_ms < slot->read_ms)
                slot = t;
        }
        memcpy(slot->jti, token, sizeof(token));
        slot->read_ms = now_ms;
    }
    pthread_mutex_unlock(&c->lock);
}

void tenant_cache_forget(struct tenant_cache *c, const char *id)
{
    char key[MTM_UUID_STRLEN + 1];
    bool valid = mtm_uuid_key(id, key);
    pthread_mutex_lock(&c->lock);
    /* The generation moves even for an id not cached (or not a UUID): a
     * reader may be about to offer a row read before this change. */
    c->generation++;
    struct tenant_cache_entry **at = valid ? find(c, key) : NULL;
    if (at && *at) {
        struct tenant_cache_entry *gone = *at;
        *at = gone->next;
        free(gone);
        c->count--;
    }
    pthread_mutex_unlock(&c->lock);
}

void tenant_cache_set_live(struct tenant_cache *c, bool live)
{
    pthread_mutex_lock(&c->lock);
    drop_all(c);
    c->generation++;
    c->live = live;
    pthread_mutex_unlock(&c->lock);
}

int tenant_cache_render(struct tenant_cache *c, struct mtm_buf *out)
{
    pthread_mutex_lock(&c->lock);
    bool live = c->live;
    size_t count = c->count;
    pthread_mutex_unlock(&c->lock);
    return mtm_buf_printf(
        out,
        "# HELP mtm_api_tenant_cache_lookups_total Tenant checks answered from the cache (hit) "
        "or the database (miss).\n"
        "# TYPE mtm_api_tenant_cache_lookups_total counter\n"
        "mtm_api_tenant_cache_lookups_total{result=\"hit\"} %lld\n"
        "mtm_api_tenant_cache_lookups_total{result=\"miss\"} %lld\n"
        "# HELP mtm_api_tenant_cache_live 1 while tenant changes are being listened for (the "
        "cache is used), else 0.\n"
        "# TYPE mtm_api_tenant_cache_live gauge\n"
        "mtm_api_tenant_cache_live %d\n"
        "# HELP mtm_api_tenant_cache_entries Tenants held in the cache.\n"
        "# TYPE mtm_api_tenant_cache_entries gauge\n"
        "mtm_api_tenant_cache_entries %zu\n"
        "# HELP mtm_api_token_cache_lookups_total Tenant token checks (revoked, tenant being "
        "deleted) answered from the cache (hit) or the database (miss).\n"
        "# TYPE mtm_api_token_cache_lookups_total counter\n"
        "mtm_api_token_cache_lookups_total{result=\"hit\"} %lld\n"
        "mtm_api_token_cache_lookups_total{result=\"miss\"} %lld\n",
        (long long)atomic_load(&c->hits), (long long)atomic_load(&c->misses), live ? 1 : 0, count,
        (long long)atomic_load(&c->token_hits), (long long)atomic_load(&c->token_misses));
}
