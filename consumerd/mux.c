/* mux: see mux.h. */
#include "mux.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "amqp.h"
#include "backoff.h"
#include "chanslots.h"
#include "timeutil.h"
#include "xalloc.h"

#define PUB_CHANNEL 1
#define FIRST_CONSUMER_CHANNEL 2
#define POLL_MS 1000         /* the longest an idle I/O thread sleeps (heartbeats) */
#define FRAMES_PER_ROUND 256 /* then requests get their turn */
#define RECONNECT_BASE_MS 100
#define RECONNECT_CAP_MS 2000
/* Connect, login and the one RPC (confirm.select) of a shared connection.
 * Longer than a responder's: a login that times out under load is retried,
 * which only adds to the load, and nothing waits on it but its workers. */
#define AMQP_TIMEOUT_MS 10000
#define AMQP_HEARTBEAT_S 30

struct mux_item {
    struct mux_item *next;
    amqp_envelope_t env;
};

/* A retry republish on its way: owned by the connection (op, then pending
 * list) until the broker confirms it or it fails. */
struct pub {
    struct pub *next;
    struct mux_chan *owner; /* NULL once its worker stopped waiting */
    uint64_t seq;           /* the owner's pub_seq for it */
    uint64_t tag;           /* its delivery tag on the confirm channel */
    char *queue;
    amqp_pool_t pool; /* holds props' contents */
    amqp_basic_properties_t props;
    amqp_bytes_t body;
};

enum op_kind { OP_OPEN, OP_ACK, OP_CLOSE, OP_PUB };

struct op {
    struct op *next;
    enum op_kind kind;
    uint16_t channel;
    uint64_t epoch;
    uint64_t tag;      /* OP_ACK */
    uint16_t prefetch; /* OP_OPEN */
    char *queue;       /* OP_OPEN, owned */
    struct pub *pub;   /* OP_PUB, owned */
};

struct mux_conn {
    struct mux *mux; /* borrowed */
    int index;
    pthread_t tid;
    int wake_fd;
    char name[16];
    struct mtm_log_ctx log;
    /* Under lock. */
    pthread_mutex_t lock;
    struct chanslots slots;
    struct op *ops, *ops_tail;    /* requests for the I/O thread, in order */
    struct pub *pubs, *pubs_tail; /* sent, waiting for their confirm, by tag */
    bool up;
    /* The I/O thread's alone. */
    struct mtm_amqp amqp;
    struct mtm_backoff backoff;
    bool pub_ready; /* channel 1 is in confirm mode */
    uint64_t next_tag;
};

/* ---- a worker's mailbox ---------------------------------------------------- */

static void cond_init_mono(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* Waits on c until the monotonic deadline (ms); false once it passed. */
static bool wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ms)
{
    int64_t now = mtm_mono_ms();
    if (now >= deadline_ms)
        return false;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t left = deadline_ms - now;
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(c, m, &ts);
    return true;
}

void mux_chan_init(struct mux_chan *ch)
{
    memset(ch, 0, sizeof(*ch));
    pthread_mutex_init(&ch->lock, NULL);
    cond_init_mono(&ch->cond);
    ch->state = MUX_DETACHED;
}

static void drop_items(struct mux_chan *ch)
{
    while (ch->head) {
        struct mux_item *it = ch->head;
        ch->head = it->next;
        amqp_destroy_envelope(&it->env);
        free(it);
    }
    ch->tail = NULL;
    ch->queued = 0;
}

void mux_chan_cleanup(struct mux_chan *ch)
{
    drop_items(ch);
    pthread_cond_destroy(&ch->cond);
    pthread_mutex_destroy(&ch->lock);
}

void mux_chan_poke(struct mux_chan *ch)
{
    pthread_mutex_lock(&ch->lock);
    ch->poked = true;
    pthread_cond_broadcast(&ch->cond);
    pthread_mutex_unlock(&ch->lock);
}

void mux_nap(struct mux_chan *ch, int ms)
{
    int64_t deadline = mtm_mono_ms() + ms;
    pthread_mutex_lock(&ch->lock);
    while (!ch->poked && wait_until(&ch->cond, &ch->lock, deadline)) {
    }
    ch->poked = false;
    pthread_mutex_unlock(&ch->lock);
}

void mux_chan_push(struct mux_chan *ch, const amqp_envelope_t *env)
{
    struct mux_item *it = xmalloc(sizeof(*it));
    it->next = NULL;
    it->env = *env;
    pthread_mutex_lock(&ch->lock);
    if (ch->tail)
        ch->tail->next = it;
    else
        ch->head = it;
    ch->tail = it;
    ch->queued++;
    pthread_cond_broadcast(&ch->cond);
    pthread_mutex_unlock(&ch->lock);
}

/* The I/O thread tells an owner its consumer ended (conn lock held). */
static void chan_end(struct mux_chan *ch, int rc, const char *why)
{
    pthread_mutex_lock(&ch->lock);
    if (ch->state == MUX_OPENING || ch->state == MUX_CONSUMING) {
        ch->state = MUX_ENDED;
        ch->end_rc = rc;
        snprintf(ch->end_err, sizeof(ch->end_err), "%s", why);
        pthread_cond_broadcast(&ch->cond);
    }
    pthread_mutex_unlock(&ch->lock);
}

static void chan_consuming(struct mux_chan *ch)
{
    pthread_mutex_lock(&ch->lock);
    if (ch->state == MUX_OPENING) {
        ch->state = MUX_CONSUMING;
        pthread_cond_broadcast(&ch->cond);
    }
    pthread_mutex_unlock(&ch->lock);
}

/* ---- requests ---------------------------------------------------------------- */

static void wake(struct mux_conn *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter already means "wake up" */
}

/* Appends op to c's queue (lock held). */
static void push_op(struct mux_conn *c, struct op *op)
{
    op->next = NULL;
    if (c->ops_tail)
        c->ops_tail->next = op;
    else
        c->ops = op;
    c->ops_tail = op;
}

static void pub_free(struct pub *p)
{
    if (!p)
        return;
    free(p->queue);
    amqp_bytes_free(p->body);
    empty_amqp_pool(&p->pool);
    free(p);
}

/* ---- deep copies of a message's properties (for a republish request) --------- */

static void *pool_take(amqp_pool_t *pool, size_t n)
{
    void *p = amqp_pool_alloc(pool, n ? n : 1);
    if (!p)
        abort(); /* out of memory, as xmalloc */
    return p;
}

static amqp_bytes_t dup_bytes(amqp_pool_t *pool, amqp_bytes_t b)
{
    amqp_bytes_t out = {b.len, NULL};
    if (b.len) {
        out.bytes = pool_take(pool, b.len);
        memcpy(out.bytes, b.bytes, b.len);
    }
    return out;
}

static void clone_table(amqp_pool_t *pool, const amqp_table_t *in, amqp_table_t *out);

static void clone_value(amqp_pool_t *pool, const amqp_field_value_t *in, amqp_field_value_t *out)
{
    *out = *in;
    switch (in->kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: out->value.bytes = dup_bytes(pool, in->value.bytes); break;
    case AMQP_FIELD_KIND_TABLE: clone_table(pool, &in->value.table, &out->value.table); break;
    case AMQP_FIELD_KIND_ARRAY: {
        int n = in->value.array.num_entries;
        out->value.array.entries = pool_take(pool, (size_t)n * sizeof(amqp_field_value_t));
        for (int i = 0; i < n; i++)
            clone_value(pool, &in->value.array.entries[i], &out->value.array.entries[i]);
        break;
    }
    default: break;
    }
}

static void clone_table(amqp_pool_t *pool, const amqp_table_t *in, amqp_table_t *out)
{
    out->num_entries = in->num_entries;
    out->entries = pool_take(pool, (size_t)in->num_entries * sizeof(amqp_table_entry_t));
    for (int i = 0; i < in->num_entries; i++) {
        out->entries[i].key = dup_bytes(pool, in->entries[i].key);
        clone_value(pool, &in->entries[i].value, &out->entries[i].value);
    }
}

static void clone_props(amqp_pool_t *pool, const amqp_basic_properties_t *in,
                        amqp_basic_properties_t *out)
{
    *out = *in;
    amqp_bytes_t *fields[] = {&out->content_type, &out->content_encoding, &out->correlation_id,
                              &out->reply_to,     &out->expiration,       &out->message_id,
                              &out->type,         &out->user_id,          &out->app_id,
                              &out->cluster_id};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        *fields[i] = dup_bytes(pool, *fields[i]);
    if (in->_flags & AMQP_BASIC_HEADERS_FLAG)
        clone_table(pool, &in->headers, &out->headers);
}

static void op_free(struct op *op)
{
    free(op->queue);
    pub_free(op->pub);
    free(op);
}

/* Tells a republish's owner how it went and frees it (lock held). */
static void pub_settle(struct pub *p, int rc, const char *why)
{
    struct mux_chan *ch = p->owner;
    if (ch) {
        pthread_mutex_lock(&ch->lock);
        if (ch->pub_seq == p->seq) {
            ch->pub_done = true;
            ch->pub_rc = rc;
            snprintf(ch->pub_err, sizeof(ch->pub_err), "%s", why);
            pthread_cond_broadcast(&ch->cond);
        }
        pthread_mutex_unlock(&ch->lock);
    }
    pub_free(p);
}

/* Forgets ch as the owner of any republish (lock held). */
static void disown_pubs(struct mux_conn *c, struct mux_chan *ch)
{
    for (struct op *op = c->ops; op; op = op->next)
        if (op->pub && op->pub->owner == ch)
            op->pub->owner = NULL;
    for (struct pub *p = c->pubs; p; p = p->next)
        if (p->owner == ch)
            p->owner = NULL;
}

/* ---- the I/O thread ---------------------------------------------------------- */

static int send_method(struct mux_conn *c, uint16_t ch, amqp_method_number_t id, void *m)
{
    return amqp_send_method(c->amqp.conn, ch, id, m);
}

/* The connection is gone (or being closed): every consumer on it ends,
 * every request and republish fails. I/O thread. */
static void lost(struct mux_conn *c, const char *why)
{
    if (mtm_amqp_is_open(&c->amqp))
        mtm_amqp_abandon(&c->amqp);
    c->pub_ready = false;
    pthread_mutex_lock(&c->lock);
    c->up = false;
    for (int i = 0; i < c->slots.n; i++)
        if (c->slots.s[i].owner)
            chan_end(c->slots.s[i].owner, MTM_EUNAVAIL, why);
    chanslots_reset(&c->slots);
    struct op *ops = c->ops;
    c->ops = c->ops_tail = NULL;
    struct pub *pubs = c->pubs;
    c->pubs = c->pubs_tail = NULL;
    for (struct op *op = ops, *next; op; op = next) {
        next = op->next;
        if (op->pub) {
            pub_settle(op->pub, MTM_EUNAVAIL, why);
            op->pub = NULL;
        }
        op_free(op);
    }
    for (struct pub *p = pubs, *next; p; p = next) {
        next = p->next;
        pub_settle(p, MTM_EUNAVAIL, why);
    }
    pthread_mutex_unlock(&c->lock);
}

static bool open_pub_channel_sync(struct mux_conn *c, char *err, size_t errlen)
{
    amqp_confirm_select(c->amqp.conn, PUB_CHANNEL);
    if (mtm_amqp_reply_error(&c->amqp, amqp_get_rpc_reply(c->amqp.conn), "confirm.select", err,
                             errlen))
        return false;
    c->pub_ready = true;
    c->next_tag = 1;
    return true;
}

static bool try_connect(struct mux_conn *c)
{
    char err[512];
    if (mtm_amqp_connect(&c->amqp, err, sizeof(err)) ||
        !open_pub_channel_sync(c, err, sizeof(err))) {
        LOG_WARN(&c->log, "%s: %s", c->name, err);
        if (mtm_amqp_is_open(&c->amqp))
            mtm_amqp_abandon(&c->amqp);
        return false;
    }
    mtm_backoff_reset(&c->backoff);
    pthread_mutex_lock(&c->lock);
    c->up = true;
    pthread_mutex_unlock(&c->lock);
    LOG_INFO(&c->log, "%s: connected", c->name);
    return true;
}

/* Settles every pending republish up to tag (or tag alone). */
static void settle_confirms(struct mux_conn *c, uint64_t tag, bool multiple, int rc)
{
    pthread_mutex_lock(&c->lock);
    struct pub **pp = &c->pubs, *last = NULL;
    while (*pp) {
        struct pub *p = *pp;
        if (p->tag == tag || (multiple && p->tag < tag)) {
            *pp = p->next;
            pub_settle(p, rc, rc ? "the broker refused the republish (nack)" : "");
        } else {
            last = p;
            pp = &p->next;
        }
    }
    c->pubs_tail = last;
    pthread_mutex_unlock(&c->lock);
}

/* Runs one request; false when the connection failed. */
static bool run_op(struct mux_conn *c, struct op *op)
{
    amqp_connection_state_t conn = c->amqp.conn;
    int st = AMQP_STATUS_OK;
    bool go;
    switch (op->kind) {
    case OP_OPEN:
        pthread_mutex_lock(&c->lock);
        go = chanslots_open(&c->slots, op->channel, op->epoch);
        pthread_mutex_unlock(&c->lock);
        if (!go)
            break;
        /* Pipelined: the broker answers each in order, and an error in
         * any of them closes this channel only. */
        st = send_method(c, op->channel, AMQP_CHANNEL_OPEN_METHOD, &(amqp_channel_open_t){0});
        if (st == AMQP_STATUS_OK) {
            amqp_basic_qos_t q = {.prefetch_count = op->prefetch};
            st = send_method(c, op->channel, AMQP_BASIC_QOS_METHOD, &q);
        }
        if (st == AMQP_STATUS_OK) {
            amqp_basic_consume_t m = {.queue = amqp_cstring_bytes(op->queue),
                                      .consumer_tag = amqp_empty_bytes,
                                      .arguments = amqp_empty_table};
            st = send_method(c, op->channel, AMQP_BASIC_CONSUME_METHOD, &m);
        }
        break;
    case OP_ACK:
        pthread_mutex_lock(&c->lock);
        go = chanslots_usable(&c->slots, op->channel, op->epoch);
        pthread_mutex_unlock(&c->lock);
        if (go)
            st = amqp_basic_ack(conn, op->channel, op->tag, 1);
        break;
    case OP_CLOSE:
        pthread_mutex_lock(&c->lock);
        go = chanslots_send_close(&c->slots, op->channel, op->epoch);
        pthread_mutex_unlock(&c->lock);
        if (go) {
            amqp_channel_close_t m = {.reply_code = AMQP_REPLY_SUCCESS,
                                      .reply_text = amqp_cstring_bytes("bye")};
            st = send_method(c, op->channel, AMQP_CHANNEL_CLOSE_METHOD, &m);
        }
        break;
    case OP_PUB: {
        struct pub *p = op->pub;
        op->pub = NULL;
        if (!c->pub_ready) {
            pthread_mutex_lock(&c->lock);
            pub_settle(p, MTM_EUNAVAIL, "the confirm channel is being reopened");
            pthread_mutex_unlock(&c->lock);
            break;
        }
        st = amqp_basic_publish(conn, PUB_CHANNEL, amqp_empty_bytes, amqp_cstring_bytes(p->queue),
                                0, 0, &p->props, p->body);
        if (st == AMQP_STATUS_TABLE_TOO_BIG || st == AMQP_STATUS_BAD_AMQP_DATA) {
            /* Encoding failed before anything was sent: the connection is fine. */
            char why[128];
            snprintf(why, sizeof(why), "the message cannot be encoded: %s", amqp_error_string2(st));
            pthread_mutex_lock(&c->lock);
            pub_settle(p, MTM_EINVAL, why);
            pthread_mutex_unlock(&c->lock);
            st = AMQP_STATUS_OK;
            break;
        }
        pthread_mutex_lock(&c->lock);
        if (st != AMQP_STATUS_OK) {
            pub_settle(p, MTM_EUNAVAIL, "publish failed");
        } else {
            p->tag = c->next_tag++;
            p->next = NULL;
            if (c->pubs_tail)
                c->pubs_tail->next = p;
            else
                c->pubs = p;
            c->pubs_tail = p;
        }
        pthread_mutex_unlock(&c->lock);
        break;
    }
    }
    if (st != AMQP_STATUS_OK) {
        char why[160];
        snprintf(why, sizeof(why), "broker connection lost: %s", amqp_error_string2(st));
        lost(c, why);
        return false;
    }
    return true;
}

/* Runs every request queued; false when the connection failed. */
static bool run_ops(struct mux_conn *c)
{
    pthread_mutex_lock(&c->lock);
    struct op *ops = c->ops;
    c->ops = c->ops_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    bool ok = true;
    for (struct op *op = ops, *next; op; op = next) {
        next = op->next;
        if (ok)
            ok = run_op(c, op);
        else if (op->pub) {
            pthread_mutex_lock(&c->lock);
            pub_settle(op->pub, MTM_EUNAVAIL, "broker connection lost");
            pthread_mutex_unlock(&c->lock);
            op->pub = NULL;
        }
        op_free(op);
    }
    return ok;
}

/* While disconnected: republishes fail at once, opens wait for the
 * connection, acks and closes mean nothing any more. */
static void run_ops_offline(struct mux_conn *c)
{
    pthread_mutex_lock(&c->lock);
    struct op *keep = NULL, *keep_tail = NULL;
    for (struct op *op = c->ops, *next; op; op = next) {
        next = op->next;
        if (op->kind == OP_OPEN) {
            op->next = NULL;
            if (keep_tail)
                keep_tail->next = op;
            else
                keep = op;
            keep_tail = op;
            continue;
        }
        if (op->pub) {
            pub_settle(op->pub, MTM_EUNAVAIL, "no broker connection");
            op->pub = NULL;
        }
        op_free(op);
    }
    c->ops = keep;
    c->ops_tail = keep_tail;
    pthread_mutex_unlock(&c->lock);
}

static void deliver(struct mux_conn *c, amqp_envelope_t *env)
{
    pthread_mutex_lock(&c->lock);
    struct chanslot *s = chanslots_get(&c->slots, env->channel);
    struct mux_chan *ch = s && s->owner && s->wire && !s->closing ? s->owner : NULL;
    if (ch) {
        mux_chan_push(ch, env);
    } else {
        /* A channel on its way out: the broker requeues it at the close. */
        amqp_destroy_envelope(env);
    }
    pthread_mutex_unlock(&c->lock);
}

/* A method that is not a delivery; false when the connection ended. */
static bool handle_method(struct mux_conn *c, const amqp_frame_t *f)
{
    uint16_t ch = f->channel;
    const void *m = f->payload.method.decoded;
    char why[300];
    switch (f->payload.method.id) {
    case AMQP_CONNECTION_CLOSE_METHOD: {
        const amqp_connection_close_t *cc = m;
        snprintf(why, sizeof(why), "connection closed by the broker: %u %.*s", cc->reply_code,
                 (int)cc->reply_text.len, (const char *)cc->reply_text.bytes);
        send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &(amqp_connection_close_ok_t){0});
        LOG_WARN(&c->log, "%s: %s", c->name, why);
        lost(c, why);
        return false;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
        const amqp_channel_close_t *cc = m;
        snprintf(why, sizeof(why), "channel closed by the broker: %u %.*s", cc->reply_code,
                 (int)cc->reply_text.len, (const char *)cc->reply_text.bytes);
        int rc = cc->reply_code == AMQP_NOT_FOUND ? MTM_ENOTFOUND : MTM_EAMQP;
        if (send_method(c, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &(amqp_channel_close_ok_t){0})) {
            lost(c, "broker connection lost at channel.close-ok");
            return false;
        }
        if (ch == PUB_CHANNEL) {
            LOG_WARN(&c->log, "%s: confirm channel: %s; reopening it", c->name, why);
            c->pub_ready = false;
            pthread_mutex_lock(&c->lock);
            struct pub *pubs = c->pubs;
            c->pubs = c->pubs_tail = NULL;
            for (struct pub *p = pubs, *next; p; p = next) {
                next = p->next;
                pub_settle(p, MTM_EUNAVAIL, why);
            }
            pthread_mutex_unlock(&c->lock);
            if (send_method(c, PUB_CHANNEL, AMQP_CHANNEL_OPEN_METHOD, &(amqp_channel_open_t){0}) ||
                send_method(c, PUB_CHANNEL, AMQP_CONFIRM_SELECT_METHOD,
                            &(amqp_confirm_select_t){0})) {
                lost(c, "broker connection lost reopening the confirm channel");
                return false;
            }
            return true;
        }
        pthread_mutex_lock(&c->lock);
        struct mux_chan *owner = chanslots_closed_by_broker(&c->slots, ch);
        if (owner)
            chan_end(owner, rc, why);
        pthread_mutex_unlock(&c->lock);
        LOG_DEBUG(&c->log, "%s: channel %u: %s", c->name, ch, why);
        return true;
    }
    case AMQP_CHANNEL_CLOSE_OK_METHOD:
        pthread_mutex_lock(&c->lock);
        chanslots_close_ok(&c->slots, ch);
        pthread_mutex_unlock(&c->lock);
        return true;
    case AMQP_BASIC_CONSUME_OK_METHOD: {
        pthread_mutex_lock(&c->lock);
        struct chanslot *s = chanslots_get(&c->slots, ch);
        if (s && s->owner && s->wire && !s->closing)
            chan_consuming(s->owner);
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    case AMQP_BASIC_CANCEL_METHOD: {
        /* The broker cancelled the consumer: its queue was deleted. That
         * ends this channel's worker only; the channel is closed so that
         * its number can serve again. */
        pthread_mutex_lock(&c->lock);
        struct chanslot *s = chanslots_get(&c->slots, ch);
        if (s && s->owner)
            chan_end(s->owner, MTM_ENOTFOUND, "consumer cancelled by the broker (queue deleted)");
        chanslots_want_close(&c->slots, ch);
        bool go = chanslots_send_close(&c->slots, ch, 0);
        pthread_mutex_unlock(&c->lock);
        if (go) {
            amqp_channel_close_t cm = {.reply_code = AMQP_REPLY_SUCCESS,
                                       .reply_text = amqp_cstring_bytes("cancelled")};
            if (send_method(c, ch, AMQP_CHANNEL_CLOSE_METHOD, &cm)) {
                lost(c, "broker connection lost at channel.close");
                return false;
            }
        }
        return true;
    }
    case AMQP_CONFIRM_SELECT_OK_METHOD:
        if (ch == PUB_CHANNEL) {
            c->pub_ready = true;
            c->next_tag = 1;
        }
        return true;
    case AMQP_BASIC_ACK_METHOD:
        if (ch == PUB_CHANNEL) {
            const amqp_basic_ack_t *a = m;
            settle_confirms(c, a->delivery_tag, a->multiple, 0);
        }
        return true;
    case AMQP_BASIC_NACK_METHOD:
        if (ch == PUB_CHANNEL) {
            const amqp_basic_nack_t *n = m;
            settle_confirms(c, n->delivery_tag, n->multiple, MTM_EUNAVAIL);
        }
        return true;
    default: return true; /* channel.open-ok, basic.qos-ok, ... */
    }
}

/* Reads what has arrived, without waiting; false when the connection ended. */
static bool read_frames(struct mux_conn *c)
{
    for (int i = 0; i < FRAMES_PER_ROUND; i++) {
        amqp_envelope_t env;
        struct timeval tv = {0, 0};
        amqp_rpc_reply_t r = amqp_consume_message(c->amqp.conn, &env, &tv, 0);
        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            deliver(c, &env);
            continue;
        }
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_TIMEOUT)
            return true;
        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
            amqp_frame_t f;
            int st = amqp_simple_wait_frame(c->amqp.conn, &f);
            if (st != AMQP_STATUS_OK) {
                char why[160];
                snprintf(why, sizeof(why), "broker connection lost: %s", amqp_error_string2(st));
                LOG_WARN(&c->log, "%s: %s", c->name, why);
                lost(c, why);
                return false;
            }
            if (f.frame_type == AMQP_FRAME_METHOD && !handle_method(c, &f))
                return false;
            continue;
        }
        char why[160];
        snprintf(why, sizeof(why), "broker connection lost: %s",
                 r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                     ? amqp_error_string2(r.library_error)
                     : "unexpected reply");
        LOG_WARN(&c->log, "%s: %s", c->name, why);
        lost(c, why);
        return false;
    }
    return true;
}

static void drain_wake(struct mux_conn *c)
{
    uint64_t v;
    ssize_t n = read(c->wake_fd, &v, sizeof(v));
    (void)n;
}

static void *conn_main(void *arg)
{
    struct mux_conn *c = arg;
    struct mux *m = c->mux;
    pthread_setname_np(pthread_self(), c->name);
    while (!atomic_load(&m->stopping)) {
        if (!mtm_amqp_is_open(&c->amqp) && !try_connect(c)) {
            run_ops_offline(c);
            struct pollfd p = {.fd = c->wake_fd, .events = POLLIN};
            int64_t until = mtm_mono_ms() + mtm_backoff_next(&c->backoff);
            /* Wakes for requests (republishes fail at once) and to stop. */
            while (!atomic_load(&m->stopping) && mtm_mono_ms() < until) {
                if (poll(&p, 1, (int)(until - mtm_mono_ms())) > 0) {
                    drain_wake(c);
                    run_ops_offline(c);
                }
            }
            continue;
        }
        if (!run_ops(c))
            continue;
        amqp_connection_state_t conn = c->amqp.conn;
        int timeout = amqp_data_in_buffer(conn) || amqp_frames_enqueued(conn) ? 0 : POLL_MS;
        struct pollfd p[2] = {
            {.fd = amqp_get_sockfd(conn), .events = POLLIN},
            {.fd = c->wake_fd, .events = POLLIN},
        };
        int n = poll(p, 2, timeout);
        if (n < 0 && errno != EINTR) {
            lost(c, "poll failed");
            continue;
        }
        if (n > 0 && (p[1].revents & POLLIN))
            drain_wake(c);
        /* Always read, even without POLLIN: librabbitmq sends heartbeats
         * when due and notices a silent broker on these calls. */
        if (read_frames(c))
            amqp_maybe_release_buffers(c->amqp.conn);
    }
    if (mtm_amqp_is_open(&c->amqp))
        mtm_amqp_close(&c->amqp);
    lost(c, "consumerd is stopping");
    return NULL;
}

static struct mux_conn *conn_new(struct mux *m, int index)
{
    struct mux_conn *c = xcalloc(1, sizeof(*c));
    c->mux = m;
    c->index = index;
    snprintf(c->name, sizeof(c->name), "amqp-%d", index);
    c->log = *m->log;
    c->log.component = "amqp";
    pthread_mutex_init(&c->lock, NULL);
    chanslots_init(&c->slots, FIRST_CONSUMER_CHANNEL, m->per_conn);
    mtm_amqp_init(&c->amqp, m->url, AMQP_TIMEOUT_MS, AMQP_HEARTBEAT_S);
    mtm_amqp_want_cancel_notify(&c->amqp);
    mtm_backoff_init(&c->backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wake_fd < 0) {
        LOG_ERROR(m->log, "eventfd: %s", strerror(errno));
        abort();
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int rc = pthread_create(&c->tid, &attr, conn_main, c);
    pthread_attr_destroy(&attr);
    if (rc) {
        LOG_ERROR(m->log, "cannot start the thread of broker connection %d: %s", index,
                  strerror(rc));
        abort();
    }
    return c;
}

static void conn_free(struct mux_conn *c)
{
    pthread_join(c->tid, NULL);
    mtm_amqp_cleanup(&c->amqp);
    close(c->wake_fd);
    chanslots_cleanup(&c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- the mux ------------------------------------------------------------------ */

void mux_init(struct mux *m, const char *url, int per_conn, const struct mtm_log_ctx *log)
{
    memset(m, 0, sizeof(*m));
    m->url = xstrdup(url);
    m->per_conn = per_conn > 0 ? per_conn : 1;
    m->log = log;
    atomic_init(&m->stopping, false);
    pthread_mutex_init(&m->lock, NULL);
    /* The first connection at once, so that the first tenant does not wait
     * for a login. */
    m->cap = 4;
    m->conns = xcalloc(m->cap, sizeof(*m->conns));
    m->conns[m->nconns++] = conn_new(m, 0);
}

void mux_cleanup(struct mux *m)
{
    atomic_store(&m->stopping, true);
    for (size_t i = 0; i < m->nconns; i++)
        wake(m->conns[i]);
    for (size_t i = 0; i < m->nconns; i++)
        conn_free(m->conns[i]);
    free(m->conns);
    m->conns = NULL;
    m->nconns = 0;
    free(m->url);
    m->url = NULL;
    pthread_mutex_destroy(&m->lock);
}

size_t mux_connections(struct mux *m, size_t *up)
{
    pthread_mutex_lock(&m->lock);
    size_t n = m->nconns, u = 0;
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&m->conns[i]->lock);
        u += m->conns[i]->up;
        pthread_mutex_unlock(&m->conns[i]->lock);
    }
    pthread_mutex_unlock(&m->lock);
    if (up)
        *up = u;
    return n;
}

/* Takes a channel on the first connection with room (m->lock held). */
static struct mux_conn *take_channel(struct mux *m, struct mux_chan *ch, uint16_t *channel,
                                     uint64_t *epoch)
{
    for (size_t i = 0; i < m->nconns; i++) {
        struct mux_conn *c = m->conns[i];
        pthread_mutex_lock(&c->lock);
        *channel = chanslots_take(&c->slots, ch, epoch);
        if (*channel)
            return c; /* still locked */
        pthread_mutex_unlock(&c->lock);
    }
    if (m->nconns == m->cap) {
        m->cap *= 2;
        m->conns = xrealloc(m->conns, m->cap * sizeof(*m->conns));
    }
    struct mux_conn *c = conn_new(m, (int)m->nconns);
    m->conns[m->nconns++] = c;
    LOG_INFO(m->log, "broker connection %d opened: the others carry %d channels each", c->index,
             m->per_conn);
    pthread_mutex_lock(&c->lock);
    *channel = chanslots_take(&c->slots, ch, epoch);
    return c;
}

int mux_consume(struct mux *m, struct mux_chan *ch, const char *queue, uint16_t prefetch,
                int timeout_ms, char *err, size_t errlen)
{
    if (ch->conn)
        mux_detach(ch);
    pthread_mutex_lock(&ch->lock);
    ch->state = MUX_OPENING;
    ch->end_rc = 0;
    ch->end_err[0] = '\0';
    pthread_mutex_unlock(&ch->lock);

    pthread_mutex_lock(&m->lock);
    uint16_t channel = 0;
    uint64_t epoch = 0;
    struct mux_conn *c = take_channel(m, ch, &channel, &epoch);
    struct op *op = xcalloc(1, sizeof(*op));
    op->kind = OP_OPEN;
    op->channel = channel;
    op->epoch = epoch;
    op->prefetch = prefetch;
    op->queue = xstrdup(queue);
    push_op(c, op);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&m->lock);
    ch->conn = c;
    ch->channel = channel;
    ch->epoch = epoch;
    wake(c);

    int64_t deadline = mtm_mono_ms() + timeout_ms;
    pthread_mutex_lock(&ch->lock);
    bool poked = false;
    while (ch->state == MUX_OPENING && !ch->poked && wait_until(&ch->cond, &ch->lock, deadline)) {
    }
    enum mux_chan_state st = ch->state;
    int rc = 0;
    if (st == MUX_ENDED) {
        rc = ch->end_rc ? ch->end_rc : MTM_EUNAVAIL;
        snprintf(err, errlen, "%s", ch->end_err);
    } else if (st != MUX_CONSUMING) {
        poked = ch->poked;
        ch->poked = false;
        rc = MTM_ETIMEOUT;
    }
    pthread_mutex_unlock(&ch->lock);
    if (rc == MTM_ETIMEOUT)
        snprintf(err, errlen, "%s",
                 poked ? "stopped while waiting for the broker"
                       : "the broker did not start the consumer in time");
    if (rc)
        mux_detach(ch);
    return rc;
}

int mux_next(struct mux_chan *ch, amqp_envelope_t *env, int timeout_ms)
{
    int64_t deadline = mtm_mono_ms() + timeout_ms;
    int rc = MTM_ETIMEOUT;
    pthread_mutex_lock(&ch->lock);
    for (;;) {
        if (ch->state != MUX_CONSUMING) {
            rc = MTM_EUNAVAIL;
            break;
        }
        if (ch->head) {
            struct mux_item *it = ch->head;
            ch->head = it->next;
            if (!ch->head)
                ch->tail = NULL;
            ch->queued--;
            *env = it->env;
            free(it);
            rc = 0;
            break;
        }
        if (ch->poked) {
            ch->poked = false;
            break;
        }
        if (!wait_until(&ch->cond, &ch->lock, deadline))
            break;
    }
    pthread_mutex_unlock(&ch->lock);
    return rc;
}

static bool consuming(struct mux_chan *ch)
{
    pthread_mutex_lock(&ch->lock);
    bool ok = ch->state == MUX_CONSUMING;
    pthread_mutex_unlock(&ch->lock);
    return ok;
}

int mux_ack_upto(struct mux_chan *ch, uint64_t tag)
{
    struct mux_conn *c = ch->conn;
    if (!c || !consuming(ch))
        return MTM_EUNAVAIL;
    struct op *op = xcalloc(1, sizeof(*op));
    op->kind = OP_ACK;
    op->channel = ch->channel;
    op->epoch = ch->epoch;
    op->tag = tag;
    pthread_mutex_lock(&c->lock);
    push_op(c, op);
    pthread_mutex_unlock(&c->lock);
    wake(c);
    return 0;
}

int mux_publish(struct mux_chan *ch, const char *queue, const amqp_basic_properties_t *props,
                amqp_bytes_t body, int timeout_ms, char *err, size_t errlen)
{
    struct mux_conn *c = ch->conn;
    if (!c || !consuming(ch)) {
        snprintf(err, errlen, "not consuming");
        return MTM_EUNAVAIL;
    }
    struct pub *p = xcalloc(1, sizeof(*p));
    init_amqp_pool(&p->pool, 4096);
    clone_props(&p->pool, props, &p->props);
    p->props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    p->props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    p->body = amqp_bytes_malloc_dup(body);
    p->queue = xstrdup(queue);
    p->owner = ch;

    pthread_mutex_lock(&ch->lock);
    p->seq = ++ch->pub_seq;
    ch->pub_done = false;
    pthread_mutex_unlock(&ch->lock);

    struct op *op = xcalloc(1, sizeof(*op));
    op->kind = OP_PUB;
    op->pub = p;
    pthread_mutex_lock(&c->lock);
    push_op(c, op);
    pthread_mutex_unlock(&c->lock);
    wake(c);

    int64_t deadline = mtm_mono_ms() + timeout_ms;
    pthread_mutex_lock(&ch->lock);
    while (!ch->pub_done && ch->state == MUX_CONSUMING &&
           wait_until(&ch->cond, &ch->lock, deadline)) {
    }
    int rc;
    bool done = ch->pub_done;
    if (done) {
        rc = ch->pub_rc;
        snprintf(err, errlen, "%s", ch->pub_err);
    } else {
        rc = MTM_EUNAVAIL;
        snprintf(err, errlen, "%s",
                 ch->state == MUX_CONSUMING ? "no confirm in time" : ch->end_err);
    }
    pthread_mutex_unlock(&ch->lock);
    if (!done) {
        pthread_mutex_lock(&c->lock);
        disown_pubs(c, ch);
        pthread_mutex_unlock(&c->lock);
    }
    return rc;
}

void mux_detach(struct mux_chan *ch)
{
    struct mux_conn *c = ch->conn;
    if (c) {
        pthread_mutex_lock(&c->lock);
        bool send_close = chanslots_release(&c->slots, ch->channel);
        disown_pubs(c, ch);
        if (send_close) {
            struct op *op = xcalloc(1, sizeof(*op));
            op->kind = OP_CLOSE;
            op->channel = ch->channel;
            op->epoch = ch->epoch;
            push_op(c, op);
        }
        pthread_mutex_unlock(&c->lock);
        if (send_close)
            wake(c);
        ch->conn = NULL;
        ch->channel = 0;
    }
    pthread_mutex_lock(&ch->lock);
    drop_items(ch);
    ch->state = MUX_DETACHED;
    pthread_mutex_unlock(&ch->lock);
}
