/*
 * eventlog: the event stream's recent past, in memory, for Last-Event-ID.
 *
 * Each event gets the id "<epoch>-<seq>": epoch is when this mtm-events
 * process started (ms), seq counts from 1. The log keeps the last `cap`
 * events as complete SSE frames ("id: ...\nevent: ...\ndata: ...\n\n"), so
 * sending one to a client is a copy. A client that comes back with a
 * Last-Event-ID of this epoch, no older than the oldest kept event, is
 * sent what it missed; any other id (another process, too old, garbage)
 * cannot be resumed without a gap and the client is told to start afresh.
 *
 * Events are scoped: an event about one tenant (tenant != "") reaches
 * admins and that tenant's tokens; a global event (tenant "") reaches
 * admins only. Single-threaded: owned by the mtm-events loop.
 */
#ifndef MTM_EVENTLOG_H
#define MTM_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uuid.h"

struct event {
    uint64_t seq;
    char tenant[MTM_UUID_STRLEN + 1]; /* "" for a global event */
    char *frame;                      /* owned: the SSE frame */
    size_t len;
};

struct eventlog {
    struct event *ring; /* owned; cap slots */
    size_t cap;
    uint64_t next_seq; /* seq of the next event; the oldest kept is max(1, next_seq - cap) */
    int64_t epoch;
};

void eventlog_init(struct eventlog *l, size_t cap, int64_t epoch);
void eventlog_cleanup(struct eventlog *l);

/*
 * Appends an event of `type` with the JSON text `data` (one line), about
 * `tenant` (NULL or "" for a global one). Returns the stored event,
 * borrowed until it is overwritten (cap appends later).
 */
const struct event *eventlog_append(struct eventlog *l, const char *tenant, const char *type,
                                    const char *data);

/*
 * Where a client resumes: true with *after set to the last seq it has seen
 * when last_id names an event of this epoch that leaves no gap (the next
 * one is still kept, or it is the newest); false when it cannot resume.
 */
bool eventlog_resume_point(const struct eventlog *l, const char *last_id, uint64_t *after);

/* The event with this seq, or NULL when it is not kept (or not yet made). */
const struct event *eventlog_get(const struct eventlog *l, uint64_t seq);

/* Whether a client of this scope receives e: admin sees all; a tenant
 * token (tenant = its id) sees only events about its tenant. */
bool eventlog_visible(const struct event *e, bool admin, const char *tenant);

#endif
