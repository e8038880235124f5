/*
 * groupstore: the workers' batches stored several tenants to a transaction.
 *
 * A tenant that receives a message every 50 ms stores each one in a batch
 * of one: with 100 such tenants PostgreSQL paid a statement and a commit,
 * and consumerd a round trip, per message (docs/performance.md, "Many
 * tenants"). Here a worker hands its batch over and waits; at most
 * `max_groups` transactions run at once. A worker that arrives while fewer
 * run leads one itself at once, so a quiet installation stores exactly as
 * before; one that arrives while they all run waits, and the next leader
 * takes every batch waiting by then (up to GROUP_STORE_MAX, one per tenant)
 * into one statement, `mtm_store_groups` (sql/0023_store_groups.sql). Each
 * worker still acks its own deliveries after the commit that stored them.
 *
 * Nothing changes for a message's fate: a group the database refuses (a
 * payload it rejects, a partition gone) is run again batch by batch on the
 * same connection, so each worker gets its own batch's answer and handles
 * it as before (worker.c stores a refused batch one message at a time). An
 * outage is every member's answer, and each waits it out on its own.
 *
 * Locks: the mutex is taken by workers only, never while a statement runs,
 * and nothing else is locked while it is held, except that a leader borrows
 * a connection from the dbpool after releasing it.
 */
#ifndef MTM_CONSUMERD_GROUPSTORE_H
#define MTM_CONSUMERD_GROUPSTORE_H

#include <pthread.h>

#include "dbpool.h"
#include "err.h"

#define GROUP_STORE_MAX 64 /* batches in one transaction */

struct group_store_req;

struct group_store {
    pthread_mutex_t lock;
    pthread_cond_t finished;              /* a group's members have their answers */
    struct group_store_req *head, **tail; /* waiting, oldest first */
    int running, max_groups;
    struct dbpool *db;         /* borrowed */
    long long groups, batches; /* since the start */
};

struct group_store_figures {
    long long groups;  /* transactions run */
    long long batches; /* batches stored through them */
    int running;       /* transactions running now */
    int waiting;       /* batches waiting for one now */
};

void group_store_init(struct group_store *g, struct dbpool *db, int max_groups);
/* No worker may be inside group_store_exec. */
void group_store_cleanup(struct group_store *g);

/*
 * Stores batch (a JSON array of messages as mtm_store_messages takes it)
 * for tenant, perhaps in one transaction with other workers' batches.
 * Answers as mtm_pg_exec of MTM_STMT_MESSAGES_INSERT would: 0 with
 * *inserted the rows new to the table, or its error (MTM_EUNAVAIL also
 * when no connection was free within a second).
 */
int group_store_exec(struct group_store *g, const char *tenant, const char *batch,
                     long long *inserted, char *err, size_t errlen) MTM_MUST_CHECK;

void group_store_figures(struct group_store *g, struct group_store_figures *out);

#endif
