/* groupstore: see groupstore.h. */
#include "groupstore.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "statements.h"

struct group_store_req {
    const char *tenant, *batch; /* borrowed from the waiting worker */
    long long inserted;
    int rc;
    char err[512];
    bool done;
    struct group_store_req *next;
};

void group_store_init(struct group_store *g, struct dbpool *db, int max_groups)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->finished, NULL);
    g->tail = &g->head;
    g->max_groups = max_groups > 0 ? max_groups : 1;
    g->db = db;
}

void group_store_cleanup(struct group_store *g)
{
    pthread_cond_destroy(&g->finished);
    pthread_mutex_destroy(&g->lock);
}

/* Takes up to GROUP_STORE_MAX waiting requests, one per tenant, oldest
 * first; the others keep their place. Called with the lock held. */
static size_t take_group(struct group_store *g, struct group_store_req **out)
{
    size_t n = 0;
    struct group_store_req **link = &g->head;
    while (*link && n < GROUP_STORE_MAX) {
        struct group_store_req *r = *link;
        bool dup = false;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(out[i]->tenant, r->tenant) == 0;
        if (dup) {
            link = &r->next;
            continue;
        }
        out[n++] = r;
        *link = r->next;
        if (!*link)
            g->tail = link;
    }
    return n;
}

static void store_one(struct mtm_pg *pg, struct group_store_req *r)
{
    const char *params[] = {r->tenant, r->batch};
    PGresult *res;
    r->rc = mtm_pg_exec(pg, MTM_STMT_MESSAGES_INSERT, params, &res, r->err, sizeof(r->err));
    if (!r->rc) {
        r->inserted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
}

/* The group as mtm_store_groups takes it: [{"tenant": .., "messages": ..}, ..]. */
static int render(struct group_store_req **reqs, size_t n, struct mtm_buf *out)
{
    int rc = mtm_buf_puts(out, "[");
    for (size_t i = 0; i < n && !rc; i++)
        rc = mtm_buf_printf(out, "%s{\"tenant\":\"%s\",\"messages\":%s}", i ? "," : "",
                            reqs[i]->tenant, reqs[i]->batch);
    return rc ? rc : mtm_buf_puts(out, "]");
}

/* One transaction for the whole group; 0, or its error in err. */
static int store_together(struct mtm_pg *pg, struct group_store_req **reqs, size_t n, char *err,
                          size_t errlen)
{
    struct mtm_buf json;
    mtm_buf_init(&json, (size_t)-1);
    int rc = render(reqs, n, &json);
    PGresult *res = NULL;
    if (rc) {
        snprintf(err, errlen, "rendering the group: %s", mtm_strerror(rc));
    } else {
        const char *params[] = {mtm_buf_cstr(&json)};
        rc = mtm_pg_exec(pg, MTM_STMT_MESSAGES_INSERT_GROUPS, params, &res, err, errlen);
    }
    mtm_buf_cleanup(&json);
    if (rc)
        return rc;
    /* A row per tenant that gained rows; a tenant without one gained none
     * (every message was stored before: a redelivery). */
    for (size_t i = 0; i < n; i++) {
        reqs[i]->rc = 0;
        reqs[i]->inserted = 0;
        for (int row = 0; row < PQntuples(res); row++)
            if (strcmp(PQgetvalue(res, row, 0), reqs[i]->tenant) == 0)
                reqs[i]->inserted = strtoll(PQgetvalue(res, row, 1), NULL, 10);
    }
    PQclear(res);
    return 0;
}

static void run_group(struct group_store *g, struct group_store_req **reqs, size_t n)
{
    struct mtm_pg *pg = dbpool_acquire(g->db, 1000);
    if (!pg) {
        for (size_t i = 0; i < n; i++) {
            reqs[i]->rc = MTM_EUNAVAIL;
            snprintf(reqs[i]->err, sizeof(reqs[i]->err), "no database connection free");
        }
        return;
    }
    if (n == 1) {
        store_one(pg, reqs[0]);
        dbpool_release(g->db, pg);
        return;
    }
    char err[512];
    int rc = store_together(pg, reqs, n, err, sizeof(err));
    if (rc) {
        if (mtm_pg_retryable(rc)) {
            for (size_t i = 0; i < n; i++) {
                reqs[i]->rc = rc;
                snprintf(reqs[i]->err, sizeof(reqs[i]->err), "%s", err);
            }
        } else {
            /* Refused as a whole: each batch gets its own answer. */
            for (size_t i = 0; i < n; i++)
                store_one(pg, reqs[i]);
        }
    }
    dbpool_release(g->db, pg);
}

int group_store_exec(struct group_store *g, const char *tenant, const char *batch,
                     long long *inserted, char *err, size_t errlen)
{
    /* The request lives on this stack until it is done: a leader takes it
     * off the queue (take_group, which also moves the tail off it) before
     * it answers, and this function returns only after the answer. */
    struct group_store_req me = {.tenant = tenant, .batch = batch};
    pthread_mutex_lock(&g->lock);
    *g->tail = &me;
    // cppcheck-suppress autoVariables
    g->tail = &me.next;
    while (!me.done) {
        if (g->running >= g->max_groups || !g->head) {
            pthread_cond_wait(&g->finished, &g->lock);
            continue;
        }
        /* Lead a group (which may not hold this worker's own batch: the
         * loop then goes on until it is done). */
        struct group_store_req *reqs[GROUP_STORE_MAX];
        size_t n = take_group(g, reqs);
        g->running++;
        pthread_mutex_unlock(&g->lock);
        run_group(g, reqs, n);
        pthread_mutex_lock(&g->lock);
        g->running--;
        g->groups++;
        g->batches += (long long)n;
        for (size_t i = 0; i < n; i++)
            reqs[i]->done = true;
        pthread_cond_broadcast(&g->finished);
    }
    pthread_mutex_unlock(&g->lock);
    *inserted = me.inserted;
    if (me.rc)
        snprintf(err, errlen, "%s", me.err);
    return me.rc;
}

void group_store_figures(struct group_store *g, struct group_store_figures *out)
{
    pthread_mutex_lock(&g->lock);
    out->groups = g->groups;
    out->batches = g->batches;
    out->running = g->running;
    out->waiting = 0;
    for (const struct group_store_req *r = g->head; r; r = r->next)
        out->waiting++;
    pthread_mutex_unlock(&g->lock);
}
