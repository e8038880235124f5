/*
 * dbpool: a bounded set of PostgreSQL connections shared by all workers.
 *
 * PostgreSQL allows about a hundred connections and an installation has
 * many tenants, so workers do not own connections: they borrow one for a
 * batch and give it back. Connections are opened lazily by the borrower
 * (mtm_pg_exec connects on demand) and dropped by it when they break.
 *
 * Lock order: the pool's mutex is a leaf; nothing else is locked while it
 * is held.
 */
#ifndef MTM_CONSUMERD_DBPOOL_H
#define MTM_CONSUMERD_DBPOOL_H

#include <pthread.h>
#include <stdbool.h>

#include "pg.h"

struct dbpool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct mtm_pg *conns; /* owned, size entries */
    bool *lent;           /* lent[i]: conns[i] is borrowed */
    int size;
};

void dbpool_init(struct dbpool *p, const char *url, int size);
void dbpool_cleanup(struct dbpool *p);
/* Borrows a connection, waiting up to timeout_ms; NULL on timeout. */
struct mtm_pg *dbpool_acquire(struct dbpool *p, int timeout_ms);
void dbpool_release(struct dbpool *p, struct mtm_pg *pg);
/* Connections currently open (for metrics and tests). */
int dbpool_open_count(struct dbpool *p);

#endif
