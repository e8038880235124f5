/*
 * worker: one consumer thread of a tenant's pool.
 *
 * Each worker owns one broker connection with two channels: channel 1
 * consumes the tenant's queue (manual acks, prefetch 2 x batch), channel 2
 * republishes failed messages to the retry queue inside broker
 * transactions (tx.commit is an RPC, so it interleaves safely with the
 * deliveries arriving on channel 1). It borrows a PostgreSQL connection
 * from the shared dbpool per batch.
 *
 * A batch closes at WORKER_BATCH_MAX deliveries or WORKER_BATCH_WINDOW_MS
 * after its first one. Storing is one INSERT .. ON CONFLICT DO NOTHING of the
 * whole batch in one transaction; the batch is acknowledged (multiple) only
 * after COMMIT, so a crash anywhere means redelivery, and redelivery means
 * no duplicate. A delivery that cannot be stored goes to the retry queue
 * with an exponential, jittered TTL, or after MTM_MAX_ATTEMPTS to the
 * dead_letters table, before the batch's ack. Outages (database or broker)
 * never count as attempts: the worker waits and retries the same batch.
 */
#ifndef MTM_CONSUMERD_WORKER_H
#define MTM_CONSUMERD_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "pool.h"

#define WORKER_BATCH_MAX 200
#define WORKER_BATCH_WINDOW_MS 5
#define WORKER_STACK_BYTES (512 * 1024)

struct worker {
    struct tenant_pool *pool; /* borrowed; outlives the worker */
    int index;
    pthread_t tid;
    atomic_bool done; /* set by the thread as its last act */
};

/* Starts the thread; NULL if it could not be created. */
struct worker *worker_start(struct tenant_pool *pool, int index);
/* Joins a worker (blocks until it ends) and frees it. */
void worker_join(struct worker *w);

#endif
