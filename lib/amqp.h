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

struct mtm_amqp {
    char *url;                    /* owned */
    amqp_connection_state_t conn; /* owned; NULL while closed */
    int timeout_ms;               /* connect and RPC timeout */
    int heartbeat_s;              /* 0: none */
    bool confirms;                /* channel is in confirm mode */
    uint64_t next_tag;            /* delivery tag of the next publish */
};

#define MTM_AMQP_CHANNEL 1

void mtm_amqp_init(struct mtm_amqp *a, const char *url, int timeout_ms, int heartbeat_s);
void mtm_amqp_cleanup(struct mtm_amqp *a);

/* Connects, logs in and opens channel 1, if not open already. */
int mtm_amqp_connect(struct mtm_amqp *a, char *err, size_t errlen) MTM_MUST_CHECK;
/* Closes politely (with the timeout); safe when closed. */
void mtm_amqp_close(struct mtm_amqp *a);
bool mtm_amqp_is_open(const struct mtm_amqp *a);

/* A round trip to the broker (passive declare of amq.direct). */
int mtm_amqp_ping(struct mtm_amqp *a, char *err, size_t errlen) MTM_MUST_CHECK;

/* One message to publish through mtm_amqp_publish_confirmed. */
struct mtm_amqp_message {
    const char *body; /* borrowed */
    size_t len;
    amqp_basic_properties_t props; /* borrowed contents; delivery_mode is forced to 2 */
    int outcome;                   /* out: 0 confirmed, MTM_ENOTFOUND returned, MTM_EAMQP nacked */
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

/* Readable text for a failed RPC reply; drops the connection when the
 * failure means the connection or channel is gone. Returns the mtm code. */
int mtm_amqp_reply_error(struct mtm_amqp *a, amqp_rpc_reply_t reply, const char *what, char *err,
                         size_t errlen);

#endif
