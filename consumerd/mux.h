/*
 * mux: consumerd's broker connections, shared by many workers.
 *
 * A worker used to own a whole broker connection; with 10,000 tenants that
 * was 10,000 connections, each with its own buffers on both sides. Here a
 * worker holds one channel (a struct mux_chan) on one of a few shared
 * connections, at most MTM_AMQP_CHANNELS_PER_CONNECTION on each; a new
 * connection is opened only when every existing one is full.
 *
 * Threads and ownership. librabbitmq-c allows one thread per connection, so
 * each shared connection (struct mux_conn) has one I/O thread that alone
 * calls librabbitmq on it. Workers never do: they exchange messages with it.
 *   worker -> I/O thread: requests (open a channel and consume, ack,
 *     republish, close) in the connection's queue, then a write to its
 *     eventfd, on which the I/O thread polls beside the socket;
 *   I/O thread -> worker: deliveries and events (consuming, ended,
 *     republish confirmed) in the worker's mux_chan, under its mutex, with
 *     a condition variable signalled.
 * Channel 1 of every connection is the I/O thread's own, in confirm mode:
 * retry republishes of all its workers go through it, and a worker waits
 * for the broker's confirm before it acks the batch. Channels 2 and up are
 * one per worker (chanslots.h), consuming with manual acks.
 *
 * Failures stay as small as they can: the broker closing one channel (a
 * tenant's queue was deleted: basic.cancel, or 404 at basic.consume) ends
 * that channel's consumer only; the connection going away ends every
 * consumer on it, each worker backs off and attaches again, and the I/O
 * thread reconnects by itself. Deliveries not acknowledged return to their
 * queue whenever a channel or connection closes.
 *
 * Lock order: mux.lock -> mux_conn.lock -> mux_chan.lock. mux.lock only
 * guards the list of connections; a connection's lock guards its slots,
 * its request queue and its pending republishes; a channel's lock guards
 * its mailbox. Nobody holds a lock across a broker call.
 */
#ifndef MTM_CONSUMERD_MUX_H
#define MTM_CONSUMERD_MUX_H

#include <amqp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

struct mux_conn;
struct mux_item;

enum mux_chan_state {
    MUX_DETACHED,  /* no channel */
    MUX_OPENING,   /* asked for a channel and a consumer */
    MUX_CONSUMING, /* basic.consume-ok came */
    MUX_ENDED,     /* the channel or connection ended: detach */
};

/* A worker's end of one channel: its mailbox. Embedded in the worker's own
 * struct; the worker's thread owns it, except poke (any thread). */
struct mux_chan {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* Under lock. */
    struct mux_item *head, *tail; /* deliveries not taken yet (owned) */
    size_t queued;
    enum mux_chan_state state;
    int end_rc; /* why it ended: MTM_EUNAVAIL, MTM_ENOTFOUND, MTM_EAMQP */
    char end_err[320];
    bool poked;
    uint64_t pub_seq; /* the republish being waited for */
    bool pub_done;
    int pub_rc;
    char pub_err[320];
    /* The owner's (set by mux_consume, cleared by mux_detach). */
    struct mux_conn *conn;
    uint16_t channel;
    uint64_t epoch;
};

struct mux {
    char *url; /* owned */
    int per_conn;
    const struct mtm_log_ctx *log; /* borrowed */
    atomic_bool stopping;
    pthread_mutex_t lock;
    struct mux_conn **conns; /* owned; grows, never shrinks before cleanup */
    size_t nconns, cap;
};

void mux_chan_init(struct mux_chan *ch);
/* Requires the channel detached. */
void mux_chan_cleanup(struct mux_chan *ch);
/* Wakes the owner's wait (mux_next, mux_consume, mux_nap) so that it looks
 * at its own exit condition. Any thread. */
void mux_chan_poke(struct mux_chan *ch);
/* Sleeps up to ms or until poked. */
void mux_nap(struct mux_chan *ch, int ms);
/* Queues a delivery for the owner and wakes it; takes ownership of what env
 * holds (the I/O thread, and tests). */
void mux_chan_push(struct mux_chan *ch, const amqp_envelope_t *env);

/* Starts the first connection's I/O thread (it connects in the background). */
void mux_init(struct mux *m, const char *url, int per_conn, const struct mtm_log_ctx *log);
/* Stops every I/O thread and closes the connections. Every channel must be
 * detached first. */
void mux_cleanup(struct mux *m);
/* Connections opened (or being opened), and of those currently up. */
size_t mux_connections(struct mux *m, size_t *up);

/*
 * Takes a channel on a connection with room (opening one if all are full)
 * and asks for a consumer of queue with the given prefetch. Waits up to
 * timeout_ms for basic.consume-ok. 0: consuming. Otherwise the channel is
 * detached again and the code says why: MTM_EUNAVAIL (no connection),
 * MTM_ETIMEOUT (no answer in time, or poked), MTM_ENOTFOUND (no such queue),
 * MTM_EAMQP (another refusal); err has the words.
 */
int mux_consume(struct mux *m, struct mux_chan *ch, const char *queue, uint16_t prefetch,
                int timeout_ms, char *err, size_t errlen) MTM_MUST_CHECK;
/*
 * The next delivery, waiting up to timeout_ms: 0 (env is the caller's, free
 * it with amqp_destroy_envelope), MTM_ETIMEOUT (none came, or poked), or
 * MTM_EUNAVAIL (the consumer ended: detach and attach again).
 */
int mux_next(struct mux_chan *ch, amqp_envelope_t *env, int timeout_ms) MTM_MUST_CHECK;
/* Acks every delivery up to tag (multiple). Queued for the I/O thread:
 * MTM_EUNAVAIL only when the consumer has ended already. */
int mux_ack_upto(struct mux_chan *ch, uint64_t tag) MTM_MUST_CHECK;
/*
 * Publishes one persistent message to the default exchange with routing key
 * `queue` on the connection's confirm channel and waits up to timeout_ms for
 * the broker's confirm. props and body are copied. 0: confirmed; MTM_EINVAL:
 * the message cannot be encoded (nothing sent); MTM_EUNAVAIL: not confirmed
 * (connection or channel lost, nack, timeout).
 */
int mux_publish(struct mux_chan *ch, const char *queue, const amqp_basic_properties_t *props,
                amqp_bytes_t body, int timeout_ms, char *err, size_t errlen) MTM_MUST_CHECK;
/* Gives the channel back (closing it: unacknowledged deliveries return to
 * the queue) and drops deliveries not taken. Safe when detached. */
void mux_detach(struct mux_chan *ch);

#endif
