/* dbpool: see dbpool.h. */
#include "dbpool.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "xalloc.h"

void dbpool_init(struct dbpool *p, const char *url, int size)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->freed, &attr);
    pthread_condattr_destroy(&attr);
    p->size = size;
    p->conns = xcalloc((size_t)size, sizeof(*p->conns));
    p->lent = xcalloc((size_t)size, sizeof(*p->lent));
    for (int i = 0; i < size; i++) {
        mtm_pg_init(&p->conns[i], url, 2);
        mtm_pg_set_deadline(&p->conns[i], MTM_PG_BATCH_ANSWER_MS);
        mtm_pg_set_options(&p->conns[i], MTM_PG_OPTIONS_ALL_TENANTS);
    }
}

void dbpool_cleanup(struct dbpool *p)
{
    for (int i = 0; i < p->size; i++)
        mtm_pg_cleanup(&p->conns[i]);
    free(p->conns);
    free(p->lent);
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
}

struct mtm_pg *dbpool_acquire(struct dbpool *p, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    struct mtm_pg *got = NULL;
    pthread_mutex_lock(&p->lock);
    while (!got) {
        /* Prefer a connection that is already open. */
        int pick = -1;
        for (int i = 0; i < p->size; i++) {
            if (p->lent[i])
                continue;
            if (mtm_pg_connected(&p->conns[i])) {
                pick = i;
                break;
            }
            if (pick < 0)
                pick = i;
        }
        if (pick >= 0) {
            p->lent[pick] = true;
            got = &p->conns[pick];
            break;
        }
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&p->lock);
    return got;
}

void dbpool_release(struct dbpool *p, struct mtm_pg *pg)
{
    pthread_mutex_lock(&p->lock);
    p->lent[pg - p->conns] = false;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

int dbpool_open_count(struct dbpool *p)
{
    int n = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->size; i++)
        n += p->lent[i] ||
             mtm_pg_connected(&p->conns[i]); /* lent ones: their borrower owns them now */
    pthread_mutex_unlock(&p->lock);
    return n;
}
