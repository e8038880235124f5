/* allowance: see allowance.h. */
#include "allowance.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "xalloc.h"

struct allowance_entry {
    struct allowance_entry *next;
    char id[MTM_UUID_STRLEN + 1]; /* lower case */
    int rate, burst;              /* the limit the tokens were taken under */
    uint64_t serial;
    long held;       /* tokens taken from the shared bucket, not yet spent; <= chunk */
    bool refilling;  /* a draw with refill set is in flight */
    int64_t used_ms; /* last spend or settle */
};

static size_t bucket_of(const char *key)
{
    return (size_t)(mtm_hash_str(MTM_HASH_INIT, key) % ALLOWANCE_BUCKETS);
}

long allowance_chunk(int rate, int burst)
{
    long c = (long)rate * ALLOWANCE_SLICE_MS / 1000;
    if (c < 1)
        c = 1;
    return c < burst ? c : (long)burst;
}

void allowance_init(struct allowance *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    atomic_init(&a->local, 0);
    atomic_init(&a->shared, 0);
}

void allowance_cleanup(struct allowance *a)
{
    for (size_t b = 0; b < ALLOWANCE_BUCKETS; b++) {
        struct allowance_entry *e = a->buckets[b];
        while (e) {
            struct allowance_entry *next = e->next;
            free(e);
            e = next;
        }
        a->buckets[b] = NULL;
    }
    a->count = 0;
    pthread_mutex_destroy(&a->lock);
}

/* The entry's link in its bucket, or the bucket's end; the caller holds the lock. */
static struct allowance_entry **find(struct allowance *a, const char *key)
{
    struct allowance_entry **at = &a->buckets[bucket_of(key)];
    while (*at && strcmp((*at)->id, key) != 0)
        at = &(*at)->next;
    return at;
}

/* Drops entries unused for ALLOWANCE_IDLE_MS with what they hold, at most
 * every ALLOWANCE_SWEEP_MS; the caller holds the lock. */
static void sweep(struct allowance *a, int64_t now_ms)
{
    if (now_ms - a->swept_ms < ALLOWANCE_SWEEP_MS)
        return;
    a->swept_ms = now_ms;
    for (size_t b = 0; b < ALLOWANCE_BUCKETS; b++) {
        struct allowance_entry **at = &a->buckets[b];
        while (*at) {
            if (now_ms - (*at)->used_ms >= ALLOWANCE_IDLE_MS) {
                struct allowance_entry *gone = *at;
                *at = gone->next;
                free(gone);
                a->count--;
            } else {
                at = &(*at)->next;
            }
        }
    }
}

/* The tenant's entry for this limit, made if need be; NULL when the table
 * is full. Tokens taken under another limit are dropped: they were sized
 * for it. The caller holds the lock. */
static struct allowance_entry *entry_for(struct allowance *a, const char *key, int rate, int burst)
{
    struct allowance_entry **at = find(a, key), *e = *at;
    if (!e) {
        if (a->count >= ALLOWANCE_MAX)
            return NULL;
        e = *at = xcalloc(1, sizeof(*e));
        memcpy(e->id, key, sizeof(e->id));
        a->count++;
    } else if (e->rate == rate && e->burst == burst) {
        return e;
    }
    e->rate = rate;
    e->burst = burst;
    e->serial = ++a->serial;
    e->held = 0;
    e->refilling = false;
    return e;
}

bool allowance_spend(struct allowance *a, const char *id, int rate, int burst, long n,
                     int64_t now_ms, struct allowance_draw *d)
{
    memset(d, 0, sizeof(*d));
    d->need = d->want = n;
    if (!mtm_uuid_key(id, d->id))
        return false;
    pthread_mutex_lock(&a->lock);
    sweep(a, now_ms);
    struct allowance_entry *e = entry_for(a, d->id, rate, burst);
    if (e) {
        e->used_ms = now_ms;
        if (e->held >= n) {
            e->held -= n;
            pthread_mutex_unlock(&a->lock);
            atomic_fetch_add(&a->local, 1);
            return true;
        }
        d->serial = e->serial;
        d->reserved = e->held;
        d->need = n - e->held;
        e->held = 0;
        if (!e->refilling) {
            e->refilling = d->refill = true;
            d->want = d->need + allowance_chunk(rate, burst);
        } else {
            d->want = d->need;
        }
    }
    pthread_mutex_unlock(&a->lock);
    return false;
}

void allowance_settle(struct allowance *a, const struct allowance_draw *d, long granted,
                      int64_t now_ms)
{
    bool ok = granted >= d->need;
    if (ok)
        atomic_fetch_add(&a->shared, 1);
    if (!d->serial)
        return;
    pthread_mutex_lock(&a->lock);
    struct allowance_entry *e = *find(a, d->id);
    if (e && e->serial == d->serial) { /* else: dropped or re-limited meanwhile */
        if (d->refill)
            e->refilling = false;
        long back = ok ? granted - d->need : d->reserved,
             chunk = allowance_chunk(e->rate, e->burst);
        e->held = e->held + back < chunk ? e->held + back : chunk;
        e->used_ms = now_ms;
    }
    pthread_mutex_unlock(&a->lock);
}

long allowance_held(struct allowance *a, const char *id)
{
    char key[MTM_UUID_STRLEN + 1];
    long held = 0;
    if (!mtm_uuid_key(id, key))
        return 0;
    pthread_mutex_lock(&a->lock);
    struct allowance_entry *e = *find(a, key);
    if (e)
        held = e->held;
    pthread_mutex_unlock(&a->lock);
    return held;
}

int allowance_render(struct allowance *a, struct mtm_buf *out)
{
    pthread_mutex_lock(&a->lock);
    size_t count = a->count;
    pthread_mutex_unlock(&a->lock);
    return mtm_buf_printf(
        out,
        "# HELP mtm_api_publish_limit_checks_total Publishes under a rate limit granted from "
        "this process's local allowance (local) or by the shared bucket in PostgreSQL (shared).\n"
        "# TYPE mtm_api_publish_limit_checks_total counter\n"
        "mtm_api_publish_limit_checks_total{granted_by=\"local\"} %lld\n"
        "mtm_api_publish_limit_checks_total{granted_by=\"shared\"} %lld\n"
        "# HELP mtm_api_publish_limit_allowances Tenants this process holds a local allowance "
        "for.\n"
        "# TYPE mtm_api_publish_limit_allowances gauge\n"
        "mtm_api_publish_limit_allowances %zu\n",
        (long long)atomic_load(&a->local), (long long)atomic_load(&a->shared), count);
}
