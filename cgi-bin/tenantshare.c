/* tenantshare: see tenantshare.h. */
#include "tenantshare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void tenant_share_init(struct tenant_share *s, int nthreads, int limit)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    s->nthreads = nthreads;
    s->limit = limit > 0 ? limit : nthreads / 2;
    if (s->limit < 1)
        s->limit = 1;
    if (s->limit > nthreads)
        s->limit = nthreads;
    s->serving = xcalloc((size_t)nthreads, sizeof(*s->serving));
}

void tenant_share_cleanup(struct tenant_share *s)
{
    free(s->serving);
    s->serving = NULL;
    pthread_mutex_destroy(&s->lock);
}

bool tenant_share_enter(struct tenant_share *s, int index, const char *id, int64_t now_ms,
                        int *held)
{
    int n = 0, busy = 0;
    pthread_mutex_lock(&s->lock);
    if (strcmp(s->last, id) != 0) {
        /* Turns change hands: contention, if the last one is still asking. */
        if (s->last[0] != '\0' && now_ms - s->last_ms < TENANT_SHARE_QUIET_MS)
            s->contended_until_ms = now_ms + TENANT_SHARE_QUIET_MS;
        snprintf(s->last, sizeof(s->last), "%s", id);
    }
    s->last_ms = now_ms;
    for (int i = 0; i < s->nthreads; i++) {
        if (i == index)
            continue;
        n += strcmp(s->serving[i], id) == 0;
        busy += s->serving[i][0] != '\0';
    }
    /* Alone, anything; else over the limit only while another thread
     * stays free after this one. */
    bool ok = now_ms >= s->contended_until_ms || n < s->limit || s->nthreads - busy - 1 >= 1;
    if (ok) {
        snprintf(s->serving[index], sizeof(s->serving[index]), "%s", id);
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    *held = n;
    return ok;
}

void tenant_share_leave(struct tenant_share *s, int index)
{
    pthread_mutex_lock(&s->lock);
    s->serving[index][0] = '\0';
    pthread_mutex_unlock(&s->lock);
}
