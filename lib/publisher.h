/*
 * publisher: one broker connection that many threads publish through, with
 * pipelined confirms.
 *
 * Publishing one message and waiting for its confirm on a connection of
 * one's own leaves the broker a message at a time per connection: every
 * message is its own TCP read, its own confirm frame and its own wake-up
 * of the broker's channel and queue processes, and a request thread can
 * have only one message in flight. Here the request threads of a process
 * hand their messages to one I/O thread, which owns the connection (so
 * librabbitmq-c's one-thread-per-connection rule holds) and writes
 * whatever has queued up while it waited; the broker answers a run of
 * them with one ack (multiple). Each caller blocks until every message of
 * its own has an outcome, as with mtm_amqp_publish_confirmed: the answer
 * a client gets still means "the broker has it".
 *
 * The I/O thread sleeps in poll() on the socket and an eventfd the callers
 * write to. Confirms are matched to messages by delivery tag; a message
 * the broker returns (mandatory, no queue) is matched to its ack by
 * routing key and message id, because returns and acks of several callers
 * interleave on the one channel.
 *
 * Failures: a caller gets MTM_EUNAVAIL when no broker can be reached or
 * the connection died and a retry on a fresh one (once per call, as
 * amqp.h promises for a connection that died while idle) failed too, and
 * MTM_ETIMEOUT when its messages were not all confirmed within its
 * timeout; the connection is then dropped, because a broker that does not
 * confirm for that long is not one to keep writing to. A nack answers the
 * calls it covers and retires the connection too (a channel that got one
 * may get nothing else, publisher.c). A retry after a lost connection can
 * put a message in the queue twice: the store is idempotent on the
 * message id.
 */
#ifndef MTM_PUBLISHER_H
#define MTM_PUBLISHER_H

#include <stddef.h>

#include "amqp.h"
#include "err.h"

struct mtm_publisher;

/* Starts the I/O thread for url (amqp.h: one URL or a list); it connects
 * on the first publish. timeout_ms bounds connecting and each write.
 * 0, or MTM_EIO when the thread or its eventfd cannot be made. */
int mtm_publisher_start(struct mtm_publisher **out, const char *url, int timeout_ms, char *err,
                        size_t errlen) MTM_MUST_CHECK;

/* Fails whatever is still waiting with MTM_EUNAVAIL, closes the connection,
 * joins the thread and frees. NULL is fine. */
void mtm_publisher_stop(struct mtm_publisher *p);

/* As mtm_amqp_publish_confirmed (amqp.h): n persistent messages to
 * exchange/routing_key with `mandatory`; 0 when every one has an outcome
 * in msgs[i].outcome. Safe from any number of threads at once. */
int mtm_publisher_publish(struct mtm_publisher *p, const char *exchange, const char *routing_key,
                          struct mtm_amqp_message *msgs, size_t n, int timeout_ms, char *err,
                          size_t errlen) MTM_MUST_CHECK;

/* Calls that went out on the wire, and writes (batches of calls) that
 * carried them: their ratio is the pipelining the load allowed. */
void mtm_publisher_counts(struct mtm_publisher *p, unsigned long long *calls,
                          unsigned long long *writes);

#endif
