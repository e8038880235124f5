/* eventlog: see eventlog.h. */
#include "eventlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

void eventlog_init(struct eventlog *l, size_t cap, int64_t epoch)
{
    l->ring = xcalloc(cap, sizeof(*l->ring));
    l->cap = cap;
    l->next_seq = 1;
    l->epoch = epoch;
}

void eventlog_cleanup(struct eventlog *l)
{
    for (size_t i = 0; l->ring && i < l->cap; i++)
        free(l->ring[i].frame);
    free(l->ring);
    l->ring = NULL;
}

const struct event *eventlog_append(struct eventlog *l, const char *tenant, const char *type,
                                    const char *data)
{
    struct event *e = &l->ring[l->next_seq % l->cap];
    free(e->frame);
    e->seq = l->next_seq++;
    snprintf(e->tenant, sizeof(e->tenant), "%s", tenant ? tenant : "");
    struct mtm_buf b;
    mtm_buf_init(&b, SIZE_MAX);
    /* The data is one line of JSON (json-c never writes a raw newline). */
    if (mtm_buf_printf(&b, "id: %" PRId64 "-%" PRIu64 "\nevent: %s\ndata: %s\n\n", l->epoch, e->seq,
                       type, data))
        abort(); /* no cap: only running out of memory, which aborts first */
    e->len = b.len;
    e->frame = mtm_buf_steal(&b);
    return e;
}

static uint64_t oldest(const struct eventlog *l)
{
    return l->next_seq > l->cap ? l->next_seq - l->cap : 1;
}

bool eventlog_resume_point(const struct eventlog *l, const char *last_id, uint64_t *after)
{
    if (!last_id)
        return false;
    char *end;
    long long epoch = strtoll(last_id, &end, 10);
    if (end == last_id || *end != '-' || epoch != l->epoch)
        return false;
    const char *s = end + 1;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long seq = strtoull(s, &end, 10);
    if (*end != '\0' || seq >= l->next_seq)
        return false;
    /* Nothing may be missing between what it saw and what is kept. */
    if (seq + 1 < oldest(l))
        return false;
    *after = seq;
    return true;
}

const struct event *eventlog_get(const struct eventlog *l, uint64_t seq)
{
    if (seq < oldest(l) || seq >= l->next_seq)
        return NULL;
    return &l->ring[seq % l->cap];
}

bool eventlog_visible(const struct event *e, bool admin, const char *tenant)
{
    if (admin)
        return true;
    return e->tenant[0] && tenant && strcmp(e->tenant, tenant) == 0;
}
