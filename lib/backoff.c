/* backoff: see backoff.h. */
#include "backoff.h"

#include <sys/random.h>
#include <time.h>

void mtm_backoff_init(struct mtm_backoff *b, uint32_t base_ms, uint32_t cap_ms)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->attempt = 0;
    if (getrandom(&b->rng, sizeof(b->rng), GRND_NONBLOCK) != (ssize_t)sizeof(b->rng)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        b->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
    }
    if (!b->rng)
        b->rng = 0x9e3779b97f4a7c15ull;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

uint32_t mtm_backoff_next(struct mtm_backoff *b)
{
    uint64_t ceiling = b->base_ms;
    for (uint32_t i = 0; i < b->attempt && ceiling < b->cap_ms; i++)
        ceiling *= 2;
    if (ceiling > b->cap_ms)
        ceiling = b->cap_ms;
    if (b->attempt < 64)
        b->attempt++;
    uint64_t floor = ceiling / 2;
    return (uint32_t)(floor + xorshift(&b->rng) % (ceiling - floor + 1));
}

void mtm_backoff_reset(struct mtm_backoff *b)
{
    b->attempt = 0;
}
