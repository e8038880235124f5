/* worker: see worker.h. */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backoff.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "delivery.h"
#include "groupstore.h"
#include "message.h"
#include "timeutil.h"
#include "trace.h"
#include "xalloc.h"

/* An idle worker sleeps on its mailbox; deliveries and pokes (pool.c) wake
 * it, this only bounds how long a lost wake-up could last. */
#define IDLE_WAIT_MS 60000
/* For basic.consume-ok. Long: when 10,000 workers attach at once (a start,
 * a broker restart) the broker needs tens of seconds for all the channels,
 * and a worker that gave up would close its channel and ask again, adding
 * to that work. A stopping worker is poked out of the wait. */
#define ATTACH_WAIT_MS 60000
#define PUBLISH_WAIT_MS 10000 /* for a retry republish's confirm */
#define OUTAGE_BASE_MS 100
#define OUTAGE_CAP_MS 2000

/*
 * A worker's life. It takes a channel, consumes until the channel or its
 * connection is lost, backs off and takes one again, and stops when consumerd stops or its
 * pool shrinks below it:
 *
 *   CONNECTING -> CONSUMING | BACKING_OFF | STOPPED
 *   CONSUMING  -> BACKING_OFF | STOPPED
 *   BACKING_OFF -> CONNECTING | STOPPED
 *
 * Every change goes through become(), which keeps the pool's count of
 * consuming workers and aborts on any other change: a bug, not a state.
 */
enum worker_state {
    WORKER_CONNECTING,
    WORKER_CONSUMING,
    WORKER_BACKING_OFF,
    WORKER_STOPPED,
};

struct wctx {
    struct worker *w;
    struct tenant_pool *pool;
    const struct mtm_config *cfg;
    struct mtm_log_ctx log;
    char thread_name[16];
    struct mux_chan *ch; /* &w->chan */
    enum worker_state state;
    struct mtm_backoff outage;
    amqp_envelope_t batch[WORKER_BATCH_MAX];
    struct delivery verdicts[WORKER_BATCH_MAX];
};

static bool should_exit(const struct wctx *c)
{
    return atomic_load(&c->pool->env->stopping) || c->w->index >= atomic_load(&c->pool->target);
}

/* Sleeps up to ms, returning early once the worker should exit. */
static void nap(const struct wctx *c, uint32_t ms)
{
    int64_t until = mtm_mono_ms() + ms;
    while (!should_exit(c) && mtm_mono_ms() < until)
        mux_nap(c->ch, (int)(until - mtm_mono_ms()));
}

/* ---- consuming --------------------------------------------------------- */

static bool allowed(enum worker_state from, enum worker_state to)
{
    switch (from) {
    case WORKER_CONNECTING: return to != WORKER_CONNECTING;
    case WORKER_CONSUMING: return to == WORKER_BACKING_OFF || to == WORKER_STOPPED;
    case WORKER_BACKING_OFF: return to == WORKER_CONNECTING || to == WORKER_STOPPED;
    case WORKER_STOPPED: return false;
    }
    return false;
}

static void become(struct wctx *c, enum worker_state to)
{
    if (!allowed(c->state, to)) {
        LOG_ERROR(&c->log, "%s: impossible change of state %d -> %d", c->thread_name, c->state, to);
        abort();
    }
    if (to == WORKER_CONSUMING)
        atomic_fetch_add(&c->pool->running, 1);
    if (c->state == WORKER_CONSUMING)
        atomic_fetch_sub(&c->pool->running, 1);
    /* Leaving CONSUMING (or a channel that failed half way): closing the
     * channel returns every unacknowledged delivery to the queue. */
    if (to == WORKER_BACKING_OFF || to == WORKER_STOPPED)
        mux_detach(c->ch);
    c->state = to;
}

static int start_consuming(struct wctx *c)
{
    char err[512];
    int rc = mux_consume(c->pool->env->mux, c->ch, c->pool->queue, 2 * WORKER_BATCH_MAX,
                         ATTACH_WAIT_MS, err, sizeof(err));
    if (rc) {
        if (should_exit(c))
            LOG_DEBUG(&c->log, "%s: stopped before consuming: %s", c->thread_name, err);
        else
            LOG_WARN(&c->log, "%s: cannot consume: %s", c->thread_name, err);
        return rc;
    }
    mtm_backoff_reset(&c->outage);
    LOG_DEBUG(&c->log, "%s: consuming %s", c->thread_name, c->pool->queue);
    return 0;
}

/* Gathers up to WORKER_BATCH_MAX deliveries; *lost when the connection ended. */
static size_t collect(struct wctx *c, bool *lost)
{
    size_t n = 0;
    int64_t window_end = 0;
    *lost = false;
    while (n < WORKER_BATCH_MAX) {
        int64_t wait = IDLE_WAIT_MS;
        if (n > 0) {
            wait = window_end - mtm_mono_ms();
            if (wait <= 0)
                break;
        }
        int rc = mux_next(c->ch, &c->batch[n], (int)wait);
        if (rc == MTM_ETIMEOUT)
            break; /* or poked: the caller looks at should_exit */
        if (rc) {
            *lost = true; /* the consumer was cancelled, or its channel or connection ended */
            break;
        }
        if (n++ == 0)
            window_end = mtm_mono_ms() + WORKER_BATCH_WINDOW_MS;
    }
    return n;
}

/* ---- storing ----------------------------------------------------------- */

/* One try at a statement: 0, or its error (mtm_pg_retryable says whether
 * the same statement may simply be run again). */
typedef int (*db_attempt_fn)(struct wctx *c, const void *arg, char *err, size_t errlen);

/*
 * Runs attempt until it succeeds or the worker should exit (consumerd stops,
 * the pool shrinks, or consumerd fenced itself off: its batch then goes back
 * to the queue for whoever holds the tenant now), waiting out outages. An
 * outage is what mtm_pg_retryable says: the server unreachable, out of disk
 * or memory, read-only, or silent past the batch deadline; both statements
 * run here are idempotent (ON CONFLICT), so one whose fate is unknown is
 * simply run again. None of it counts against a message. Returns 0,
 * MTM_EUNAVAIL (gave up), or the statement's own error.
 */
static int with_retries(struct wctx *c, db_attempt_fn attempt, const void *arg, char *err,
                        size_t errlen)
{
    for (;;) {
        int rc = attempt(c, arg, err, errlen);
        if (!mtm_pg_retryable(rc)) {
            if (!rc)
                mtm_backoff_reset(&c->outage);
            return rc;
        }
        if (should_exit(c))
            return MTM_EUNAVAIL;
        uint32_t wait = mtm_backoff_next(&c->outage);
        LOG_WARN(&c->log, "%s: database unavailable (%s); retrying in %u ms", c->thread_name, err,
                 wait);
        nap(c, wait);
        if (should_exit(c))
            return MTM_EUNAVAIL;
    }
}

struct store_arg {
    const char *batch; /* the JSON array */
    long long *inserted;
};

/* Through the group store, perhaps with other tenants' batches (groupstore.h). */
static int store_attempt(struct wctx *c, const void *arg, char *err, size_t errlen)
{
    const struct store_arg *a = arg;
    return group_store_exec(c->pool->env->store, c->pool->tenant_id, a->batch, a->inserted, err,
                            errlen);
}

static int store(struct wctx *c, const struct mtm_buf *arr, long long *inserted, char *err,
                 size_t errlen)
{
    struct store_arg a = {.batch = mtm_buf_cstr(arr), .inserted = inserted};
    return with_retries(c, store_attempt, &a, err, errlen);
}

/* ---- failures ---------------------------------------------------------- */

/* The first `kept` bytes of b as a bytea literal in hex form; caller frees. */
static char *hex_bytea(const amqp_bytes_t *b, size_t kept)
{
    static const char hex[] = "0123456789abcdef";
    char *out = xmalloc(2 * kept + 3);
    const unsigned char *s = b->bytes;
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < kept; i++) {
        out[2 + 2 * i] = hex[s[i] >> 4];
        out[3 + 2 * i] = hex[s[i] & 0xf];
    }
    out[2 + 2 * kept] = '\0';
    return out;
}

/* On a connection borrowed from the dbpool; arg is the statement's parameters. */
static int dead_letter_attempt(struct wctx *c, const void *arg, char *err, size_t errlen)
{
    struct mtm_pg *pg = dbpool_acquire(c->pool->env->db, 1000);
    if (!pg) {
        snprintf(err, errlen, "no database connection free");
        return MTM_EUNAVAIL;
    }
    int rc = mtm_pg_exec(pg, MTM_STMT_DEAD_LETTER_INSERT, arg, NULL, err, errlen);
    dbpool_release(c->pool->env->db, pg);
    return rc;
}

/* One attempt at a dead letter: 0, MTM_EUNAVAIL (stopping) or the
 * statement's error, whose detail goes to err. */
static int insert_dead_letter(struct wctx *c, const char *id, const char *reason, const char *code,
                              int attempts, int64_t first_ms, const char *body, const char *props,
                              char *err, size_t errlen)
{
    char attempts_s[16], first_s[24];
    snprintf(attempts_s, sizeof(attempts_s), "%d", attempts);
    snprintf(first_s, sizeof(first_s), "%lld", (long long)first_ms);
    const char *params[] = {c->pool->tenant_id, id, reason, attempts_s, first_s, body, props, code};
    return with_retries(c, dead_letter_attempt, params, err, errlen);
}

/*
 * Parks a delivery in dead_letters with its reason code and at most
 * MTM_MAX_BODY bytes of its body. If the database refuses that row, a
 * minimal one (no body, no properties) is tried; if that is refused too
 * (the tenant was deleted meanwhile), the delivery is dropped with an
 * error in the log and a count in mtm_messages_dropped_total. Either way
 * the caller acks it: a delivery is never redelivered forever.
 * Returns 0 (parked), 1 (dropped), or MTM_EUNAVAIL (consumerd stopping).
 */
static int dead_letter(struct wctx *c, const amqp_envelope_t *e, const struct delivery *d)
{
    char id[MTM_MESSAGE_ID_MAX + 1], err[512];
    if (d->id[0])
        snprintf(id, sizeof(id), "%s", d->id);
    else if (mtm_uuid7_new(id))
        snprintf(id, sizeof(id), "no-id-%lld", (long long)mtm_wall_ms());
    const amqp_bytes_t *body = &e->message.body;
    size_t kept = body->len > (size_t)c->cfg->max_body ? (size_t)c->cfg->max_body : body->len;
    int64_t first = d->first_failed_ms ? d->first_failed_ms : mtm_wall_ms();
    const char *code = delivery_fault_code(d->fault);
    char *hex = hex_bytea(body, kept);
    char *props = delivery_dead_letter_properties(d, body->len, kept);
    int rc = insert_dead_letter(c, id, d->reason, code, d->failures + 1, first, hex, props, err,
                                sizeof(err));
    free(hex);
    free(props);
    if (rc && rc != MTM_EUNAVAIL) {
        LOG_ERROR(&c->log, "%s: dead letter %s refused (%s); storing a minimal one", c->thread_name,
                  id, err);
        rc = insert_dead_letter(c, id, d->reason, code, d->failures + 1, mtm_wall_ms(), "\\x",
                                "{\"minimal\":true}", err, sizeof(err));
    }
    if (rc == MTM_EUNAVAIL)
        return rc;
    if (rc) {
        LOG_ERROR(&c->log, "%s: dropped %s: no dead letter could be stored (%s)", c->thread_name,
                  id, err);
        return 1;
    }
    LOG_WARN(&c->log, "%s: dead-lettered %s after %d attempt(s): %s: %s", c->thread_name, id,
             d->failures + 1, code, d->reason);
    return 0;
}

/*
 * Republishes e to the retry queue with its next attempt's delay. Returns
 * 0, MTM_EINVAL when the message itself cannot be republished (its
 * properties no longer fit a frame: the caller dead-letters it), or
 * MTM_EUNAVAIL when the connection failed.
 */
static int retry_later(struct wctx *c, const amqp_envelope_t *e, const struct delivery *d)
{
    char err[512], ttl[24], last[DELIVERY_REASON_MAX + 32];
    int failures = d->failures + 1;
    struct mtm_backoff b;
    mtm_backoff_init(&b, (uint32_t)c->cfg->retry_base_ms, (uint32_t)c->cfg->retry_base_ms * 64u);
    b.attempt = (uint32_t)(failures - 1);
    snprintf(ttl, sizeof(ttl), "%u", mtm_backoff_next(&b));
    snprintf(last, sizeof(last), "%s: %s", delivery_fault_code(d->fault), d->reason);

    /* Same properties, our bookkeeping headers replaced. */
    amqp_basic_properties_t props = e->message.properties;
    const amqp_table_t *old = (props._flags & AMQP_BASIC_HEADERS_FLAG) ? &props.headers : NULL;
    int nold = old && old->entries ? old->num_entries : 0;
    amqp_table_entry_t *entries = xcalloc((size_t)nold + MTM_MESSAGE_TABLE_MAX, sizeof(*entries));
    struct mtm_message_headers h = {
        .attempts = failures,
        .first_failed_ms = d->first_failed_ms ? d->first_failed_ms : mtm_wall_ms(),
        .last_error = last,
    };
    props.headers.num_entries = mtm_message_table(&h, old, entries);
    props.headers.entries = entries;
    props._flags |=
        AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.expiration = amqp_cstring_bytes(ttl);
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;

    int rc = mux_publish(c->ch, c->pool->retry_queue, &props, e->message.body, PUBLISH_WAIT_MS, err,
                         sizeof(err));
    free(entries);
    if (rc == MTM_EINVAL) {
        LOG_WARN(&c->log, "%s: %s cannot be republished for a retry: %s", c->thread_name,
                 d->id[0] ? d->id : "(no id)", err);
        return MTM_EINVAL;
    }
    if (rc) {
        LOG_WARN(&c->log, "%s: retry publish: %s", c->thread_name, err);
        return MTM_EUNAVAIL;
    }
    LOG_INFO(&c->log, "%s: %s will be retried in %s ms (attempt %d failed: %s)", c->thread_name,
             d->id[0] ? d->id : "(no id)", ttl, failures, last);
    return 0;
}

/* ---- one batch --------------------------------------------------------- */

/* Renders the sound deliveries among [from, to) as one JSON array (cap bytes
 * expected) and stores it. Returns store()'s result, or the rendering error
 * with err saying so. */
static int store_range(struct wctx *c, size_t from, size_t to, size_t cap, long long *inserted,
                       char *err, size_t errlen)
{
    struct mtm_buf arr;
    mtm_buf_init(&arr, cap);
    int rc = mtm_buf_puts(&arr, "[");
    for (size_t i = from; !rc && i < to; i++)
        if (!c->verdicts[i].fault)
            rc = delivery_append_element(&c->verdicts[i], &c->batch[i].message.body, &arr);
    if (!rc)
        rc = mtm_buf_puts(&arr, "]");
    if (!rc)
        rc = store(c, &arr, inserted, err, errlen);
    else
        snprintf(err, errlen, "rendering: %s", mtm_strerror(rc));
    mtm_buf_cleanup(&arr);
    return rc;
}

/*
 * The database refused the batch for a reason other than an outage (a
 * payload jsonb rejects, say): store the messages one by one and mark each
 * one refused as failed, so one bad message never blocks the rest. The
 * database's own text goes to the log, not into the dead letter a tenant
 * reads. Returns 0, or MTM_EUNAVAIL when consumerd is stopping.
 */
static int store_singly(struct wctx *c, size_t n, long long *inserted, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        struct delivery *d = &c->verdicts[i];
        if (d->fault)
            continue;
        char err[512];
        long long got = 0;
        size_t cap = delivery_element_bound(d, c->batch[i].message.body.len) + 8;
        int rc = store_range(c, i, i + 1, cap, &got, err, sizeof(err));
        if (rc == MTM_EUNAVAIL)
            return rc;
        if (rc) {
            LOG_WARN(&c->log, "%s: %s refused: %s", c->thread_name, d->id, err);
            delivery_fail(d, DELIVERY_REFUSED, "the database refused the message");
            (*bad)++;
        }
        *inserted += got;
    }
    return 0;
}

/* Retries or dead-letters every delivery marked failed. */
static int settle_failures(struct wctx *c, size_t n, size_t *retried, size_t *dead, size_t *dropped)
{
    for (size_t i = 0; i < n; i++) {
        const struct delivery *d = &c->verdicts[i];
        if (!d->fault)
            continue;
        int rc = MTM_EINVAL;
        if (d->failures + 1 < c->cfg->max_attempts) {
            rc = retry_later(c, &c->batch[i], d);
            if (rc == MTM_EUNAVAIL)
                return rc;
            *retried += rc == 0;
        }
        if (rc) {
            rc = dead_letter(c, &c->batch[i], d);
            if (rc == MTM_EUNAVAIL)
                return rc;
            *dead += rc == 0;
            *dropped += rc == 1;
        }
    }
    return 0;
}

/* Stores, retries or dead-letters every delivery, then acks them all.
 * Non-zero (an outage, or stopping) means the batch was not acknowledged:
 * it will be redelivered. Nothing a delivery holds can make this fail. */
static int handle_batch(struct wctx *c, size_t n)
{
    size_t good = 0, bad = 0, retried = 0, dead = 0, dropped = 0, cap = 16;
    long long inserted = 0;
    int64_t now = mtm_wall_ms();

    for (size_t i = 0; i < n; i++) {
        struct delivery *d = &c->verdicts[i];
        const amqp_envelope_t *e = &c->batch[i];
        delivery_judge(d, &e->message.properties, &e->message.body, (size_t)c->cfg->max_body, now);
        if (d->fault) {
            bad++;
            continue;
        }
        cap += delivery_element_bound(d, e->message.body.len);
        good++;
        if (d->trace_id[0]) {
            struct mtm_log_ctx lc = c->log;
            lc.trace_id = d->trace_id;
            LOG_DEBUG(&lc, "%s: storing %s", c->thread_name, d->id);
        }
    }
    int rc = 0;
    if (good) {
        char err[512];
        rc = store_range(c, 0, n, cap, &inserted, err, sizeof(err));
        if (rc && rc != MTM_EUNAVAIL) {
            LOG_WARN(&c->log, "%s: batch refused (%s); storing one by one", c->thread_name, err);
            rc = store_singly(c, n, &inserted, &bad);
        }
    }
    if (!rc)
        rc = settle_failures(c, n, &retried, &dead, &dropped);
    if (!rc) {
        rc = mux_ack_upto(c->ch, c->batch[n - 1].delivery_tag);
        if (rc)
            LOG_WARN(&c->log, "%s: ack: the channel ended; the batch comes back", c->thread_name);
    }

    atomic_fetch_add(&c->pool->consumed, (long long)n);
    if (!rc) {
        int64_t done = mtm_wall_ms();
        for (size_t i = 0; i < n; i++)
            if (!c->verdicts[i].fault)
                pool_observe_latency(c->pool, done - c->verdicts[i].published_ms);
        atomic_fetch_add(&c->pool->stored, inserted);
        atomic_fetch_add(&c->pool->failed, (long long)bad);
        atomic_fetch_add(&c->pool->retried, (long long)retried);
        atomic_fetch_add(&c->pool->dead_lettered, (long long)dead);
        atomic_fetch_add(&c->pool->dropped, (long long)dropped);
    }
    for (size_t i = 0; i < n; i++)
        delivery_cleanup(&c->verdicts[i]);
    return rc;
}

/* Takes one batch and handles it; MTM_EUNAVAIL when the connection was
 * lost (the batch in hand is not acknowledged and comes back). */
static int consume_once(struct wctx *c)
{
    bool lost;
    size_t n = collect(c, &lost);
    if (n) {
        atomic_fetch_add(&c->pool->busy, 1);
        int rc = lost ? MTM_EUNAVAIL : handle_batch(c, n);
        atomic_fetch_sub(&c->pool->busy, 1);
        for (size_t i = 0; i < n; i++)
            amqp_destroy_envelope(&c->batch[i]);
        lost = lost || rc;
    }
    return lost ? MTM_EUNAVAIL : 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    /* Mapped, not malloc'd: its batch arrays are large and mostly never
     * touched by an idle tenant, and pages of a fresh mapping cost no memory
     * until written (10,000 workers, docs/architecture.md "Scale"). */
    struct wctx *c =
        mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED) {
        perror("consumerd: mmap of a worker's state");
        abort();
    }
    c->w = w;
    c->ch = &w->chan;
    c->pool = w->pool;
    c->cfg = w->pool->env->cfg;
    c->log.component = "worker";
    c->log.tenant = c->pool->tenant_id;
    snprintf(c->thread_name, sizeof(c->thread_name), "w%.8s-%d", c->pool->tenant_id, w->index);
    pthread_setname_np(pthread_self(), c->thread_name);
    mtm_backoff_init(&c->outage, OUTAGE_BASE_MS, OUTAGE_CAP_MS);

    c->state = WORKER_CONNECTING;
    while (c->state != WORKER_STOPPED) {
        if (should_exit(c)) {
            become(c, WORKER_STOPPED);
            break;
        }
        switch (c->state) {
        case WORKER_CONNECTING:
            become(c, start_consuming(c) ? WORKER_BACKING_OFF : WORKER_CONSUMING);
            break;
        case WORKER_BACKING_OFF:
            nap(c, mtm_backoff_next(&c->outage));
            become(c, WORKER_CONNECTING);
            break;
        case WORKER_CONSUMING:
            if (consume_once(c)) {
                LOG_WARN(&c->log, "%s: consumer ended (%s); consuming again", c->thread_name,
                         c->ch->end_err[0] ? c->ch->end_err : "channel lost");
                become(c, WORKER_BACKING_OFF);
            }
            break;
        case WORKER_STOPPED: break;
        }
    }
    LOG_DEBUG(&c->log, "%s: exited", c->thread_name);
    munmap(c, sizeof(*c));
    atomic_store(&w->done, true);
    return NULL;
}

struct worker *worker_start(struct tenant_pool *pool, int index)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    w->pool = pool;
    w->index = index;
    atomic_init(&w->done, false);
    mux_chan_init(&w->chan);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_BYTES);
    int rc = pthread_create(&w->tid, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (rc) {
        mux_chan_cleanup(&w->chan);
        free(w);
        return NULL;
    }
    return w;
}

void worker_join(struct worker *w)
{
    pthread_join(w->tid, NULL);
    mux_chan_cleanup(&w->chan);
    free(w);
}

void worker_poke(struct worker *w)
{
    mux_chan_poke(&w->chan);
}
