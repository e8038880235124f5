/*
 * allowance: the responder's local share of each tenant's publish limit.
 *
 * The limit is one token bucket per tenant in PostgreSQL, shared by every
 * responder process and host (sql/0009, sql/0020). Asking it for every
 * publish cost a round trip and the bucket's row lock per request (a third
 * of the throughput, docs/performance.md). Instead each process takes a
 * chunk of tokens from the bucket at once and spends it locally:
 *
 *   chunk = min(burst, max(1, rate × ALLOWANCE_SLICE_MS / 1000))
 *
 * A publish of n messages spends n local tokens when the process holds
 * them, without any I/O. Otherwise it sets aside what the process holds
 * ("reserved"), and takes from the shared bucket at least the rest
 * ("need") and at most need + chunk ("want"): it spends what it needs and
 * keeps the remainder, at most one chunk. When the bucket cannot give need,
 * the request is refused (429, with the bucket's wait) and the reserved
 * tokens go back to the local allowance.
 *
 * Invariant: a process never holds more than one chunk of a tenant's tokens
 * (every deposit is capped at the chunk; what is over it is dropped). Only
 * one draw per tenant and process refills at a time; the others take just
 * what their request needs, so the cap rarely has anything to drop.
 *
 * Overshoot bound. Tokens leave the shared bucket exactly as before, so
 * over any interval of w seconds the bucket gives at most burst + rate × w.
 * A process can additionally spend, in that interval, what it held when the
 * interval began: at most one chunk. With P responder processes, a tenant's
 * accepted messages in any interval of w seconds are at most
 *
 *   burst + rate × w + P × chunk
 *
 * i.e. at most ALLOWANCE_SLICE_MS (100 ms) of the rate per process beyond
 * the shared bucket, and never more than burst per process. Tested in
 * tests/unit/test_allowance.c (a simulated bucket and processes) and
 * tests/integration/ratelimit.test.mjs (two responder processes).
 *
 * Unused tokens are not returned: an entry idle for ALLOWANCE_IDLE_MS is
 * dropped with what it held (at most a chunk: 100 ms of the rate), and so
 * is an entry whose tenant's rate or burst changed. The price is that one
 * process may refuse while another still holds a few tokens: with P
 * processes a tenant can see up to (P - 1) × chunk fewer tokens at a given
 * moment than the shared bucket alone would give. Returning them would
 * cost a round trip for a fraction of a second of the rate.
 *
 * Bounded: at most ALLOWANCE_MAX entries; past it, tenants that have no
 * entry draw exactly what each request needs from the shared bucket (the
 * old behaviour, correct, just slower) until idle entries are swept.
 *
 * Thread-safe: one mutex, a leaf lock, held for a lookup or an update,
 * never across I/O. The caller passes the time (a monotonic clock in ms),
 * so the tests drive it.
 */
#ifndef MTM_ALLOWANCE_H
#define MTM_ALLOWANCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "uuid.h"

#define ALLOWANCE_SLICE_MS 100  /* a chunk is this much of the rate */
#define ALLOWANCE_IDLE_MS 5000  /* an entry unused this long is dropped */
#define ALLOWANCE_SWEEP_MS 1000 /* idle entries are looked for at most this often */
#define ALLOWANCE_BUCKETS 1024
#define ALLOWANCE_MAX 16384 /* entries */

struct allowance_entry;

struct allowance {
    pthread_mutex_t lock;
    struct allowance_entry *buckets[ALLOWANCE_BUCKETS];
    size_t count;
    uint64_t serial; /* numbers entries, so a draw settles only into its own */
    int64_t swept_ms;
    atomic_llong local, shared; /* publishes granted locally / by the shared bucket */
};

/* What to take from the shared bucket; filled by allowance_spend. */
struct allowance_draw {
    char id[MTM_UUID_STRLEN + 1];
    uint64_t serial; /* the entry's, or 0 when the tenant has none */
    long reserved;   /* local tokens set aside for this request */
    long need;       /* the least the bucket must give: n - reserved */
    long want;       /* the most to take: need, plus a chunk when refilling */
    bool refill;     /* this draw refills the entry (one at a time) */
};

void allowance_init(struct allowance *a);
void allowance_cleanup(struct allowance *a);

/* The most tokens a process keeps for a tenant with this limit (rate > 0). */
long allowance_chunk(int rate, int burst);

/*
 * Spends n tokens (1 <= n <= burst, rate > 0) of the tenant's limit. True
 * when they came from the local allowance: nothing more to do. False: *d
 * says what to take from the shared bucket, and the caller must then call
 * allowance_settle exactly once with what the bucket granted (0 when it
 * refused or could not be asked).
 */
bool allowance_spend(struct allowance *a, const char *id, int rate, int burst, long n,
                     int64_t now_ms, struct allowance_draw *d);

/* Ends a draw: granted >= d->need means the request is granted (the
 * remainder is kept, up to a chunk); otherwise the reserved tokens go back. */
void allowance_settle(struct allowance *a, const struct allowance_draw *d, long granted,
                      int64_t now_ms);

/* The tokens held for the tenant now (tests and diagnostics). */
long allowance_held(struct allowance *a, const char *id);

/* Appends mtm_api_publish_limit_* in Prometheus text format. */
int allowance_render(struct allowance *a, struct mtm_buf *out) MTM_MUST_CHECK;

#endif
