/*
 * worker: one consumer thread of a tenant's pool.
 *
 * Each worker holds one channel on one of consumerd's shared broker
 * connections (mux.h), consuming the tenant's queue with manual acks and a
 * prefetch of 2 x batch; it never calls librabbitmq itself: deliveries come
 * through its mailbox, acks and retry republishes go to the connection's
 * I/O thread. Republishes go through the connection's confirm channel and
 * the worker waits for the broker's confirm before it acks. It borrows a
 * PostgreSQL connection from the shared dbpool per batch.
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

#include "mux.h"
#include "pool.h"

#define WORKER_BATCH_MAX 200
#define WORKER_BATCH_WINDOW_MS 5
#define WORKER_STACK_BYTES (512 * 1024)

struct worker {
    struct tenant_pool *pool; /* borrowed; outlives the worker */
    int index;
    pthread_t tid;
    atomic_bool done;     /* set by the thread as its last act */
    struct mux_chan chan; /* its channel's mailbox (mux.h) */
};

/* Starts the thread; NULL if it could not be created. */
struct worker *worker_start(struct tenant_pool *pool, int index);
/* Joins a worker (blocks until it ends) and frees it. */
void worker_join(struct worker *w);
/* Makes a waiting worker look at whether it should stop (its pool shrank,
 * consumerd is stopping) now rather than at its next delivery. */
void worker_poke(struct worker *w);

#endif
