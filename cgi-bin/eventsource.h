/*
 * eventsource: turns what PostgreSQL knows into events for mtm-events.
 *
 * Sources, all from what is already true (no event is made up here):
 *   - NOTIFY mtm_tenants (the tenants trigger, sql/0001): the tenant is
 *     read and sent whole as `tenant`, or `tenant.deleted` once its row
 *     is gone;
 *   - NOTIFY mtm_dead_letters (sql/0016): `dead_letter`;
 *   - NOTIFY mtm_alerts (sql/0017): `alert`;
 *   - every second, the tenants_live view (consumerd writes the live
 *     figures each second): a tenant whose figures changed is sent as
 *     `tenant` with its rates (stored and published per second, from the
 *     counters and the queue depth), a tenant gone as `tenant.deleted`,
 *     and the sums as `overview` (global) when they changed.
 * The once-a-second read also heals anything a lost notification missed
 * (after a reconnect, say). NOTIFY is a hint; the read is the truth.
 *
 * The read is skipped while no stream is open (`idle`, set by mtm-events):
 * with 10,000 tenants it was most of an idle installation's CPU (here and
 * in PostgreSQL). Nothing is lost: `seen` keeps what was last sent, so the
 * first read after a client connects sends every tenant that changed
 * meanwhile, and the rates of that read cover the whole gap.
 *
 * One connection, used by the mtm-events loop only: its socket is polled
 * with the clients', and queries on it are short.
 */
#ifndef MTM_EVENTSOURCE_H
#define MTM_EVENTSOURCE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "log.h"
#include "pg.h"

/* Receives each event: tenant ("" for a global one), type, JSON text. */
typedef void (*eventsource_emit_fn)(void *ud, const char *tenant, const char *type,
                                    const char *data);

#define EVENTSOURCE_POLL_MS 1000
#define EVENTSOURCE_TAKE_MAX 64 /* notifications handled per turn of the loop */

struct eventsource {
    struct mtm_pg pg;
    struct mtm_log_ctx log;
    bool listening;
    struct mtm_backoff backoff;
    int64_t retry_at_ms;
    int64_t next_poll_ms;
    struct json_object *seen; /* owned: tenant id -> what was last sent about it */
    char *overview;           /* owned: the last overview sent, or NULL */
    bool more;                /* notifications wait in libpq's queue: call eventsource_continue */
    bool idle;                /* no stream is open: skip the once-a-second read */
    eventsource_emit_fn emit;
    void *ud;
};

void eventsource_init(struct eventsource *es, const char *pg_url, eventsource_emit_fn emit,
                      void *ud);
void eventsource_cleanup(struct eventsource *es);

/* The socket to poll for notifications, or -1 while not listening. */
int eventsource_fd(const struct eventsource *es);
/* Reads notifications after the socket was readable. */
void eventsource_readable(struct eventsource *es);
/* Takes the next slice of notifications still queued (es->more). */
void eventsource_continue(struct eventsource *es);
/* Reconnects when due and reads the tenants once a second; returns the
 * time (mono ms) it wants to be called again. */
int64_t eventsource_tick(struct eventsource *es, int64_t now_ms);

#endif
