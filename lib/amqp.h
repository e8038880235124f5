/*
 * amqp: one RabbitMQ connection and channel, owned by one thread.
 *
 * librabbitmq-c connections are not thread-safe; a struct mtm_amqp belongs
 * to exactly one thread for its whole life. Every call that touches the
 * broker has a timeout (socket open, handshake, RPC), so a dead broker is an
 * error within a second or two, never a hang. When a call fails because the
 * connection or channel is gone, the connection is dropped (mtm_amqp_is_open
 * turns false) and the owner reconnects when it wants to.
 *
 * URLs follow the AMQP URI scheme, except that an empty vhost
 * ("amqp://host:5672/") means the default vhost "/", as users expect.
 *
 * The URL may be a comma-separated list naming several nodes of one
 * cluster (a comma inside a password is written %2C). Connecting tries
 * them in turn, starting with the one that answered last, and keeps the
 * first that answers; when an open connection is lost, the next connect
 * starts with the following URL (round robin), so a dead node costs at
 * most one connect timeout. With one URL nothing of this shows.
 *
 * A call that finds its connection open from an earlier call and fails
 * because it died meanwhile tries once more on a fresh one (ping, publish,
 * and topology.h's declare); a call that had to connect does not.
 *
 * Errors: MTM_EUNAVAIL (cannot connect, connection lost), MTM_ETIMEOUT,
 * MTM_ENOTFOUND (a passive declare of something missing; a mandatory publish
 * the broker returned), MTM_EAMQP (any other broker refusal). The broker's
 * words go into the caller's err buffer.
 */
#ifndef MTM_AMQP_H
#define MTM_AMQP_H

#include <amqp.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define MTM_AMQP_URLS_MAX 16

struct mtm_amqp {
    char *urls[MTM_AMQP_URLS_MAX]; /* owned */
    size_t nurls;                  /* at least 1 */
    size_t cur;                    /* the URL connected to, or to try first */
    bool up;                       /* conn completed its handshake */
    amqp_connection_state_t conn;  /* owned; NULL while closed */
    int timeout_ms;                /* connect and RPC timeout */
    int heartbeat_s;               /* 0: none */
    bool confirms;                 /* channel is in confirm mode */
    uint64_t next_tag;             /* delivery tag of the next publish */
    uint16_t tx_channel;           /* channel opened in tx mode (mtm_amqp_tx_publish), 0: none */
    bool cancel_notify; /* advertise consumer_cancel_notify (mtm_amqp_want_cancel_notify) */
};

#define MTM_AMQP_CHANNEL 1

/*
 * Splits a comma-separated list of amqp:// URLs (spaces around each are
 * ignored) into out[0..*n), each xstrdup'd for the caller to free (also
 * on failure: *n says how many). MTM_EINVAL for an empty list or entry,
 * an entry that is not amqp://, or more than max entries; bad, when not
 * NULL, then points at the offending entry (badlen bytes).
 */
int mtm_amqp_url_list(const char *list, char **out, size_t max, size_t *n, const char **bad,
                      size_t *badlen) MTM_MUST_CHECK;

/* url: one URL or a list (above); a list that does not parse is kept as
 * one URL, which then fails to connect with "bad URL". */
void mtm_amqp_init(struct mtm_amqp *a, const char *url, int timeout_ms, int heartbeat_s);
void mtm_amqp_cleanup(struct mtm_amqp *a);

/* Connects, logs in and opens channel 1, if not open already. */
int mtm_amqp_connect(struct mtm_amqp *a, char *err, size_t errlen) MTM_MUST_CHECK;
/*
 * Asks the broker, from the next connect on, to tell this connection's
 * consumers when it cancels them (basic.cancel, e.g. their queue was
 * deleted). librabbitmq-c does not advertise the capability itself, and
 * without it a consumer whose queue vanished just stops receiving.
 */
void mtm_amqp_want_cancel_notify(struct mtm_amqp *a);
/* Closes politely (with the timeout); safe when closed. */
void mtm_amqp_close(struct mtm_amqp *a);
/* Drops the connection without a word to the broker (it is broken, or its
 * owner gave up on it); safe when closed. The next connect moves on as
 * after a lost connection. */
void mtm_amqp_abandon(struct mtm_amqp *a);
bool mtm_amqp_is_open(const struct mtm_amqp *a);

/* A round trip to the broker (passive declare of amq.direct). */
int mtm_amqp_ping(struct mtm_amqp *a, char *err, size_t errlen) MTM_MUST_CHECK;

/* One message to publish through mtm_amqp_publish_confirmed. */
struct mtm_amqp_message {
    const char *body; /* borrowed */
    size_t len;
    amqp_basic_properties_t props; /* borrowed contents; delivery_mode is forced to 2 */
    int outcome; /* out: 0 confirmed, MTM_ENOTFOUND returned, MTM_EAMQP nacked; 1 while pending */
};

/*
 * Publishes n persistent messages to exchange/routing_key on a channel in
 * confirm mode (enabled on first use) with `mandatory` set, then waits up to
 * the timeout for the broker's verdict on every one. Returns 0 when every
 * message has an outcome (see each msgs[i].outcome), MTM_ETIMEOUT or
 * MTM_EUNAVAIL when the broker did not answer for all (the connection is
 * then dropped: outcomes of unconfirmed messages are unknown, which callers
 * must treat as not published).
 */
int mtm_amqp_publish_confirmed(struct mtm_amqp *a, const char *exchange, const char *routing_key,
                               struct mtm_amqp_message *msgs, size_t n, int timeout_ms, char *err,
                               size_t errlen) MTM_MUST_CHECK;

/* Puts channel 1 in confirm mode (once per connection; next_tag is then 1):
 * for callers that publish and read confirms themselves (publisher.h). */
int mtm_amqp_enable_confirms(struct mtm_amqp *a, char *err, size_t errlen) MTM_MUST_CHECK;

/*
 * Consuming (consumerd's workers), on channel 1 with manual acks.
 *
 * mtm_amqp_consume sets the prefetch (basic.qos) and starts consuming the
 * queue. mtm_amqp_next waits up to timeout_ms for the next delivery into
 * *env (the caller frees it with amqp_destroy_envelope): 0, MTM_ETIMEOUT
 * when none came, MTM_EUNAVAIL when the consumer or the connection ended
 * (the broker cancelled it because the queue was deleted, or closed the
 * channel or connection: the connection is dropped). Frames that are not
 * deliveries are dealt with on the way. mtm_amqp_release frees what
 * earlier deliveries held, between batches. mtm_amqp_ack_upto acks every
 * delivery up to tag (multiple).
 */
int mtm_amqp_consume(struct mtm_amqp *a, const char *queue, uint16_t prefetch, char *err,
                     size_t errlen) MTM_MUST_CHECK;
int mtm_amqp_next(struct mtm_amqp *a, amqp_envelope_t *env, int timeout_ms) MTM_MUST_CHECK;
void mtm_amqp_release(struct mtm_amqp *a);
int mtm_amqp_ack_upto(struct mtm_amqp *a, uint64_t tag, char *err, size_t errlen) MTM_MUST_CHECK;

/*
 * Publishes one persistent message to the default exchange with routing
 * key `queue` in a broker transaction on `channel` (opened and put in tx
 * mode on first use), and commits. 0 once committed; MTM_EINVAL when the
 * message cannot be encoded (its properties do not fit a frame: nothing
 * was sent and the connection is fine); MTM_EUNAVAIL when the connection
 * failed.
 */
int mtm_amqp_tx_publish(struct mtm_amqp *a, uint16_t channel, const char *queue,
                        const amqp_basic_properties_t *props, amqp_bytes_t body, char *err,
                        size_t errlen) MTM_MUST_CHECK;

/* Readable text for a failed RPC reply; drops the connection when the
 * failure means the connection or channel is gone. Returns the mtm code. */
int mtm_amqp_reply_error(struct mtm_amqp *a, amqp_rpc_reply_t reply, const char *what, char *err,
                         size_t errlen);

#endif
