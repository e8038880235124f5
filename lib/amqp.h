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

/* Readable text for a failed RPC reply; drops the connection when the
 * failure means the connection or channel is gone. Returns the mtm code. */
int mtm_amqp_reply_error(struct mtm_amqp *a, amqp_rpc_reply_t reply, const char *what, char *err,
                         size_t errlen);

#endif
