/*
 * backoff: capped exponential backoff with full jitter.
 *
 * Used wherever mtm reconnects (PostgreSQL, RabbitMQ) or retries. The delay
 * before attempt n is a uniform draw from [base*2^n / 2, min(cap, base*2^n)],
 * so a herd of reconnecting workers spreads out but never waits longer than
 * the cap. The state is a value embedded in its owner; no locking.
 */
#ifndef MTM_BACKOFF_H
#define MTM_BACKOFF_H

#include <stdint.h>

struct mtm_backoff {
    uint32_t base_ms;
    uint32_t cap_ms;
    uint32_t attempt;
    uint64_t rng; /* xorshift state, never 0 */
};

void mtm_backoff_init(struct mtm_backoff *b, uint32_t base_ms, uint32_t cap_ms);
/* The delay before the next attempt; advances the attempt count. */
uint32_t mtm_backoff_next(struct mtm_backoff *b);
/* Call after a success: the next failure starts again from base. */
void mtm_backoff_reset(struct mtm_backoff *b);

#endif
