/* amqp: see amqp.h. */
#include "amqp.h"

#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "timeutil.h"
#include "xalloc.h"

int mtm_amqp_url_list(const char *list, char **out, size_t max, size_t *n, const char **bad,
                      size_t *badlen)
{
    *n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len == 0 || *n == max || len < 8 || strncmp(s, "amqp://", 7) != 0) {
            if (bad) {
                *bad = *n == max ? p : s;
                *badlen = *n == max ? strlen(p) : len;
            }
            return MTM_EINVAL;
        }
        out[*n] = xstrndup(s, len);
        (*n)++;
        if (!end)
            return 0;
        p = end + 1;
    }
}

void mtm_amqp_init(struct mtm_amqp *a, const char *url, int timeout_ms, int heartbeat_s)
{
    memset(a, 0, sizeof(*a));
    if (mtm_amqp_url_list(url, a->urls, MTM_AMQP_URLS_MAX, &a->nurls, NULL, NULL)) {
        for (size_t i = 0; i < a->nurls; i++)
            free(a->urls[i]);
        a->urls[0] = xstrdup(url);
        a->nurls = 1;
    }
    a->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    a->heartbeat_s = heartbeat_s;
}

void mtm_amqp_cleanup(struct mtm_amqp *a)
{
    mtm_amqp_close(a);
    for (size_t i = 0; i < a->nurls; i++) {
        free(a->urls[i]);
        a->urls[i] = NULL;
    }
    a->nurls = 0;
}

bool mtm_amqp_is_open(const struct mtm_amqp *a)
{
    return a->conn != NULL;
}

static struct timeval tv_of(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Drops the connection without talking to the broker. Losing a connection
 * that was up moves on to the next URL of a list: its node may be gone. */
static void drop(struct mtm_amqp *a)
{
    if (a->up && a->nurls > 1)
        a->cur = (a->cur + 1) % a->nurls;
    a->up = false;
    if (a->conn)
        amqp_destroy_connection(a->conn);
    a->conn = NULL;
    a->confirms = false;
    a->next_tag = 0;
    a->tx_channel = 0;
}

void mtm_amqp_want_cancel_notify(struct mtm_amqp *a)
{
    a->cancel_notify = true;
}

void mtm_amqp_abandon(struct mtm_amqp *a)
{
    drop(a);
}

void mtm_amqp_close(struct mtm_amqp *a)
{
    if (!a->conn)
        return;
    a->up = false; /* closed on purpose: the next connect keeps this URL */
    amqp_channel_close(a->conn, MTM_AMQP_CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
    drop(a);
}

int mtm_amqp_reply_error(struct mtm_amqp *a, amqp_rpc_reply_t reply, const char *what, char *err,
                         size_t errlen)
{
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL: return 0;
    case AMQP_RESPONSE_NONE:
        snprintf(err, errlen, "%s: no reply from the broker", what);
        drop(a);
        return MTM_EUNAVAIL;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(err, errlen, "%s: %s", what, amqp_error_string2(reply.library_error));
        drop(a);
        return reply.library_error == AMQP_STATUS_TIMEOUT ? MTM_ETIMEOUT : MTM_EUNAVAIL;
    case AMQP_RESPONSE_SERVER_EXCEPTION: break;
    }
    int rc = MTM_EAMQP;
    if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const amqp_connection_close_t *m = reply.reply.decoded;
        snprintf(err, errlen, "%s: connection closed by broker: %u %.*s", what, m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        amqp_send_method(a->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD,
                         &(amqp_connection_close_ok_t){0});
        rc = m->reply_code == AMQP_CONNECTION_FORCED ? MTM_EUNAVAIL : MTM_EAMQP;
        drop(a);
    } else if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = reply.reply.decoded;
        snprintf(err, errlen, "%s: %u %.*s", what, m->reply_code, (int)m->reply_text.len,
                 (const char *)m->reply_text.bytes);
        rc = m->reply_code == AMQP_NOT_FOUND ? MTM_ENOTFOUND : MTM_EAMQP;
        /* The channel is gone; a fresh connection is simpler than tracking
         * channel numbers, and this path is rare. */
        amqp_send_method(a->conn, MTM_AMQP_CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD,
                         &(amqp_channel_close_ok_t){0});
        amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
        drop(a);
    } else {
        snprintf(err, errlen, "%s: unexpected broker method 0x%08x", what, reply.reply.id);
        drop(a);
    }
    return rc;
}

static int connect_to(struct mtm_amqp *a, const char *u, char *err, size_t errlen)
{
    struct amqp_connection_info info;
    char *url = xstrdup(u); /* amqp_parse_url writes into its argument */
    int st = amqp_parse_url(url, &info);
    if (st != AMQP_STATUS_OK) {
        snprintf(err, errlen, "rabbitmq: bad URL: %s", amqp_error_string2(st));
        free(url);
        return MTM_EINVAL;
    }

    a->conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(a->conn);
    struct timeval tv = tv_of(a->timeout_ms);
    int rc = 0;
    if (!sock) {
        snprintf(err, errlen, "rabbitmq: cannot create a socket");
        rc = MTM_EIO;
    } else if ((st = amqp_socket_open_noblock(sock, info.host, info.port, &tv)) != AMQP_STATUS_OK) {
        snprintf(err, errlen, "rabbitmq connect %s:%d: %s", info.host, info.port,
                 amqp_error_string2(st));
        rc = st == AMQP_STATUS_TIMEOUT ? MTM_ETIMEOUT : MTM_EUNAVAIL;
    } else {
        amqp_set_handshake_timeout(a->conn, &tv);
        amqp_set_rpc_timeout(a->conn, &tv);
        /* "amqp://host/" names the empty vhost in the AMQP URI spec; nobody
         * means that, so an empty vhost is the default vhost "/". */
        const char *vhost = info.vhost && *info.vhost ? info.vhost : "/";
        amqp_rpc_reply_t r;
        if (a->cancel_notify) {
            amqp_table_entry_t cap = {
                .key = amqp_cstring_bytes("consumer_cancel_notify"),
                .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}};
            amqp_table_entry_t prop = {
                .key = amqp_cstring_bytes("capabilities"),
                .value = {.kind = AMQP_FIELD_KIND_TABLE, .value = {.table = {1, &cap}}}};
            amqp_table_t props = {1, &prop};
            r = amqp_login_with_properties(a->conn, vhost, 0, 131072, a->heartbeat_s, &props,
                                           AMQP_SASL_METHOD_PLAIN, info.user, info.password);
        } else {
            r = amqp_login(a->conn, vhost, 0, 131072, a->heartbeat_s, AMQP_SASL_METHOD_PLAIN,
                           info.user, info.password);
        }
        rc = mtm_amqp_reply_error(a, r, "rabbitmq login", err, errlen);
        if (!rc) {
            amqp_channel_open(a->conn, MTM_AMQP_CHANNEL);
            rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "rabbitmq channel.open", err,
                                      errlen);
        }
    }
    free(url);
    if (rc)
        drop(a);
    else
        a->up = true;
    return rc;
}

int mtm_amqp_connect(struct mtm_amqp *a, char *err, size_t errlen)
{
    if (a->conn)
        return 0;
    if (a->nurls == 1)
        return connect_to(a, a->urls[0], err, errlen);
    int rc = 0;
    char last[512] = "";
    for (size_t i = 0; i < a->nurls; i++) {
        rc = connect_to(a, a->urls[a->cur], last, sizeof(last));
        if (!rc)
            return 0;
        a->cur = (a->cur + 1) % a->nurls;
    }
    snprintf(err, errlen, "rabbitmq: none of %zu URLs answered; last: %s", a->nurls, last);
    return rc;
}

static int ping_once(struct mtm_amqp *a, char *err, size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (rc)
        return rc;
    amqp_exchange_declare(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes("amq.direct"),
                          amqp_cstring_bytes("direct"), 1, 0, 0, 0, amqp_empty_table);
    return mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "rabbitmq ping", err, errlen);
}

int mtm_amqp_enable_confirms(struct mtm_amqp *a, char *err, size_t errlen)
{
    if (a->confirms)
        return 0;
    amqp_confirm_select(a->conn, MTM_AMQP_CHANNEL);
    int rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "confirm.select", err, errlen);
    if (!rc) {
        a->confirms = true;
        a->next_tag = 1;
    }
    return rc;
}

/* Sets outcome for tag (or every tag up to it when multiple). */
static size_t settle(struct mtm_amqp_message *msgs, size_t n, uint64_t first_tag, uint64_t tag,
                     bool multiple, int outcome)
{
    size_t settled = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = first_tag + i;
        if ((t == tag || (multiple && t <= tag)) && msgs[i].outcome == 1) {
            msgs[i].outcome = outcome;
            settled++;
        }
    }
    return settled;
}

static int publish_once(struct mtm_amqp *a, const char *exchange, const char *routing_key,
                        struct mtm_amqp_message *msgs, size_t n, int timeout_ms, char *err,
                        size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (!rc)
        rc = mtm_amqp_enable_confirms(a, err, errlen);
    if (rc)
        return rc;

    uint64_t first_tag = a->next_tag;
    for (size_t i = 0; i < n; i++) {
        msgs[i].outcome = 1; /* pending */
        msgs[i].props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        msgs[i].props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        amqp_bytes_t body = {msgs[i].len, (void *)msgs[i].body};
        int st = amqp_basic_publish(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(exchange),
                                    amqp_cstring_bytes(routing_key), 1, 0, &msgs[i].props, body);
        if (st != AMQP_STATUS_OK) {
            snprintf(err, errlen, "publish: %s", amqp_error_string2(st));
            drop(a);
            return MTM_EUNAVAIL;
        }
        a->next_tag++;
    }

    /* A returned message arrives as basic.return + header + body, followed by
     * its basic.ack; remember that the next ack settles a returned one. */
    size_t pending = n;
    bool returned_next = false;
    int64_t deadline = mtm_mono_ms() + timeout_ms;
    while (pending) {
        int64_t left = deadline - mtm_mono_ms();
        if (left <= 0) {
            snprintf(err, errlen, "publish: no confirm within %d ms", timeout_ms);
            drop(a);
            return MTM_ETIMEOUT;
        }
        struct timeval tv = tv_of((int)left);
        amqp_frame_t frame;
        int st = amqp_simple_wait_frame_noblock(a->conn, &frame, &tv);
        if (st == AMQP_STATUS_TIMEOUT)
            continue;
        if (st != AMQP_STATUS_OK) {
            snprintf(err, errlen, "publish: %s", amqp_error_string2(st));
            drop(a);
            return MTM_EUNAVAIL;
        }
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue; /* header/body frames of a returned message */
        amqp_method_number_t id = frame.payload.method.id;
        void *m = frame.payload.method.decoded;
        if (id == AMQP_BASIC_ACK_METHOD) {
            const amqp_basic_ack_t *ack = m;
            pending -= settle(msgs, n, first_tag, ack->delivery_tag, ack->multiple,
                              returned_next ? MTM_ENOTFOUND : 0);
            returned_next = false;
        } else if (id == AMQP_BASIC_NACK_METHOD) {
            const amqp_basic_nack_t *nack = m;
            pending -= settle(msgs, n, first_tag, nack->delivery_tag, nack->multiple, MTM_EAMQP);
        } else if (id == AMQP_BASIC_RETURN_METHOD) {
            returned_next = true;
        } else if (id == AMQP_CHANNEL_CLOSE_METHOD || id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_rpc_reply_t reply;
            memset(&reply, 0, sizeof(reply));
            reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
            reply.reply = frame.payload.method;
            rc = mtm_amqp_reply_error(a, reply, "publish", err, errlen);
            return rc ? (rc == MTM_ENOTFOUND ? MTM_EAMQP : rc) : MTM_EAMQP;
        }
    }
    /* A nack is the broker's refusal, but the channel that got it may
     * never recover: on RabbitMQ 3.10, a channel that first published to a
     * quorum queue while the queue's leader had just died (a node lost)
     * has every later publish nacked too, although the queue has a new
     * leader (tests/integration/cluster.test.mjs). A fresh channel does
     * not; so one that saw a nack is closed and the next publish opens
     * another. */
    for (size_t i = 0; i < n; i++)
        if (msgs[i].outcome == MTM_EAMQP) {
            mtm_amqp_close(a);
            break;
        }
    return 0;
}

/* ---- consuming ----------------------------------------------------------- */

int mtm_amqp_consume(struct mtm_amqp *a, const char *queue, uint16_t prefetch, char *err,
                     size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (!rc) {
        amqp_basic_qos(a->conn, MTM_AMQP_CHANNEL, 0, prefetch, 0);
        rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "basic.qos", err, errlen);
    }
    if (!rc) {
        amqp_basic_consume(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes,
                           0, 0, 0, amqp_empty_table);
        rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "basic.consume", err, errlen);
    }
    if (rc)
        mtm_amqp_close(a);
    return rc;
}

/* A frame that is not a delivery arrived: false when consuming ended. */
static bool other_frame(struct mtm_amqp *a)
{
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(a->conn, &frame) != AMQP_STATUS_OK)
        return false;
    if (frame.frame_type != AMQP_FRAME_METHOD)
        return true;
    switch (frame.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD: /* the queue was deleted */
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: return false;
    default: return true;
    }
}

int mtm_amqp_next(struct mtm_amqp *a, amqp_envelope_t *env, int timeout_ms)
{
    if (!a->conn)
        return MTM_EUNAVAIL;
    for (;;) {
        struct timeval tv = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000};
        amqp_rpc_reply_t res = amqp_consume_message(a->conn, env, &tv, 0);
        if (res.reply_type == AMQP_RESPONSE_NORMAL)
            return 0;
        if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            res.library_error == AMQP_STATUS_TIMEOUT)
            return MTM_ETIMEOUT;
        if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            res.library_error == AMQP_STATUS_UNEXPECTED_STATE && other_frame(a))
            continue;
        drop(a);
        return MTM_EUNAVAIL;
    }
}

void mtm_amqp_release(struct mtm_amqp *a)
{
    if (a->conn)
        amqp_maybe_release_buffers(a->conn);
}

int mtm_amqp_ack_upto(struct mtm_amqp *a, uint64_t tag, char *err, size_t errlen)
{
    int st = a->conn ? amqp_basic_ack(a->conn, MTM_AMQP_CHANNEL, tag, 1) : AMQP_STATUS_SOCKET_ERROR;
    if (st == AMQP_STATUS_OK)
        return 0;
    snprintf(err, errlen, "ack: %s", amqp_error_string2(st));
    drop(a);
    return MTM_EUNAVAIL;
}

/* ---- transactional publishing -------------------------------------------- */

int mtm_amqp_tx_publish(struct mtm_amqp *a, uint16_t channel, const char *queue,
                        const amqp_basic_properties_t *props, amqp_bytes_t body, char *err,
                        size_t errlen)
{
    if (!a->conn) {
        snprintf(err, errlen, "not connected");
        return MTM_EUNAVAIL;
    }
    if (a->tx_channel != channel) {
        amqp_channel_open(a->conn, channel);
        int rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "channel.open", err, errlen);
        if (!rc) {
            amqp_tx_select(a->conn, channel);
            rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "tx.select", err, errlen);
        }
        if (rc)
            return MTM_EUNAVAIL;
        a->tx_channel = channel;
    }
    int st = amqp_basic_publish(a->conn, channel, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0,
                                props, body);
    if (st == AMQP_STATUS_TABLE_TOO_BIG || st == AMQP_STATUS_BAD_AMQP_DATA) {
        /* Encoding failed before anything was sent: the connection is fine. */
        snprintf(err, errlen, "the message cannot be encoded: %s", amqp_error_string2(st));
        return MTM_EINVAL;
    }
    if (st != AMQP_STATUS_OK) {
        snprintf(err, errlen, "publish: %s", amqp_error_string2(st));
        drop(a);
        return MTM_EUNAVAIL;
    }
    amqp_tx_commit(a->conn, channel);
    return mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), "tx.commit", err, errlen)
               ? MTM_EUNAVAIL
               : 0;
}

/* ---- a connection kept between calls --------------------------------------

 * A connection opened by an earlier call may have died while idle (the
 * broker restarted, a proxy timed it out): the first call on it fails with
 * MTM_EUNAVAIL although the broker is fine. So a call that finds its
 * connection already open tries once more on a fresh one when it fails
 * that way; a call that had to connect does not (the broker really is
 * unreachable). Publishing twice is safe: the messages carry their ids,
 * and storing is idempotent on them.
 */

int mtm_amqp_ping(struct mtm_amqp *a, char *err, size_t errlen)
{
    bool was_open = mtm_amqp_is_open(a);
    int rc = ping_once(a, err, errlen);
    if (rc && was_open) /* a dead idle connection can also just time out */
        rc = ping_once(a, err, errlen);
    return rc;
}

int mtm_amqp_publish_confirmed(struct mtm_amqp *a, const char *exchange, const char *routing_key,
                               struct mtm_amqp_message *msgs, size_t n, int timeout_ms, char *err,
                               size_t errlen)
{
    bool was_open = mtm_amqp_is_open(a);
    int rc = publish_once(a, exchange, routing_key, msgs, n, timeout_ms, err, errlen);
    if (rc == MTM_EUNAVAIL && was_open)
        rc = publish_once(a, exchange, routing_key, msgs, n, timeout_ms, err, errlen);
    return rc;
}
