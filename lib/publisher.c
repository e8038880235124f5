/* publisher: see publisher.h. */
#include "publisher.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "timeutil.h"
#include "xalloc.h"

/* msgs[i].outcome while a message is in flight */
enum { OUT_PENDING = 1, OUT_RETURNED = 2 };

/* One caller's messages, on the caller's stack until it is done. */
struct job {
    const char *exchange, *routing_key; /* borrowed */
    struct mtm_amqp_message *msgs;      /* borrowed */
    size_t n;
    size_t pending;     /* messages still without an outcome */
    uint64_t first_tag; /* delivery tag of msgs[0] on the connection it went out on */
    int64_t deadline;   /* monotonic ms */
    int timeout_ms;     /* the caller's, for the message */
    int tries;          /* connections it went out on */
    int rc;             /* the caller's result, once done */
    char *err;          /* the caller's buffer */
    size_t errlen;
    bool done; /* under lock */
    pthread_cond_t cond;
    struct job *next;
};

struct job_list {
    struct job *head, *tail;
};

struct mtm_publisher {
    pthread_mutex_t lock;
    struct job_list queued; /* under lock: waiting to go out */
    bool stopping;          /* under lock */
    int wake_fd;            /* eventfd the callers write to */
    pthread_t tid;
    int timeout_ms;
    atomic_ullong calls, writes;
    /* The I/O thread's own. */
    struct mtm_amqp amqp;
    struct job_list inflight; /* went out on the current connection, in tag order */
    struct job_list retry;    /* lost with a connection, to go out again first */
    bool want_header;         /* a basic.return came; its properties follow */
    char returned_key[256];   /* its routing key */
};

static void push(struct job_list *l, struct job *j)
{
    j->next = NULL;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static struct job *pop(struct job_list *l)
{
    struct job *j = l->head;
    if (j) {
        l->head = j->next;
        if (!l->head)
            l->tail = NULL;
        j->next = NULL;
    }
    return j;
}

/* Hands a job back to its caller; the I/O thread must not touch it after. */
static void finish(struct mtm_publisher *p, struct job *j, int rc, const char *err)
{
    pthread_mutex_lock(&p->lock);
    j->rc = rc;
    if (rc && err)
        snprintf(j->err, j->errlen, "%s", err);
    j->done = true;
    pthread_cond_signal(&j->cond);
    pthread_mutex_unlock(&p->lock);
}

static void finish_all(struct mtm_publisher *p, struct job_list *l, int rc, const char *err)
{
    struct job *j;
    while ((j = pop(l)))
        finish(p, j, rc, err);
}

/*
 * The connection is gone (or is being given up, timed_out): jobs whose
 * time is up fail with MTM_ETIMEOUT; the others go out again on a fresh
 * connection if this was their first, else fail with MTM_EUNAVAIL.
 */
static void lost(struct mtm_publisher *p, const char *why, bool timed_out)
{
    mtm_amqp_abandon(&p->amqp);
    p->want_header = false;
    int64_t now = mtm_mono_ms();
    struct job *j;
    while ((j = pop(&p->inflight))) {
        if (j->deadline <= now) {
            char msg[128];
            snprintf(msg, sizeof(msg), "publish: no confirm within %d ms", j->timeout_ms);
            finish(p, j, MTM_ETIMEOUT, msg);
        } else if (j->tries < 2 && !timed_out) {
            push(&p->retry, j);
        } else {
            finish(p, j, MTM_EUNAVAIL, why);
        }
    }
}

/* The socket's writes give up after the timeout, so a broker that stops
 * reading (a memory alarm, a dead peer) fails the write, not the thread. */
static void bound_writes(struct mtm_publisher *p)
{
    struct timeval tv = {p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000};
    int fd = amqp_get_sockfd(p->amqp.conn);
    if (fd >= 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Writes every message of the jobs in l; they move to the in-flight list. */
static void send_jobs(struct mtm_publisher *p, struct job_list *l)
{
    char err[512];
    bool was_open = mtm_amqp_is_open(&p->amqp);
    int rc = mtm_amqp_connect(&p->amqp, err, sizeof(err));
    if (!rc)
        rc = mtm_amqp_enable_confirms(&p->amqp, err, sizeof(err));
    if (rc) {
        mtm_amqp_abandon(&p->amqp);
        finish_all(p, l, rc == MTM_ETIMEOUT ? MTM_EUNAVAIL : rc, err);
        return;
    }
    if (!was_open)
        bound_writes(p);
    unsigned long long calls = 0;
    struct job *j;
    while ((j = pop(l))) {
        j->tries++;
        j->first_tag = p->amqp.next_tag;
        j->pending = j->n;
        push(&p->inflight, j); /* before writing: a failed write requeues it */
        for (size_t i = 0; i < j->n; i++) {
            struct mtm_amqp_message *m = &j->msgs[i];
            m->outcome = OUT_PENDING;
            m->props._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
            m->props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
            amqp_bytes_t body = {m->len, (void *)m->body};
            int st =
                amqp_basic_publish(p->amqp.conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(j->exchange),
                                   amqp_cstring_bytes(j->routing_key), 1, 0, &m->props, body);
            if (st != AMQP_STATUS_OK) {
                snprintf(err, sizeof(err), "publish: %s", amqp_error_string2(st));
                /* Jobs not written yet keep their try. */
                while ((j = pop(l)))
                    push(&p->retry, j);
                lost(p, err, false);
                return;
            }
            p->amqp.next_tag++;
        }
        calls++;
    }
    atomic_fetch_add(&p->calls, calls);
    atomic_fetch_add(&p->writes, 1);
}

/* Final outcome of an in-flight message for an ack (nack false) or nack. */
static int verdict(int outcome, bool nack)
{
    if (nack)
        return MTM_EAMQP;
    return outcome == OUT_RETURNED ? MTM_ENOTFOUND : 0;
}

/* Settles tag (every tag up to it when multiple); finishes the jobs that
 * have every outcome. */
static void settle(struct mtm_publisher *p, uint64_t tag, bool multiple, bool nack)
{
    struct job_list keep = {0};
    struct job *j;
    while ((j = pop(&p->inflight))) {
        uint64_t first = j->first_tag, last = j->first_tag + j->n - 1;
        if (first <= tag && (multiple || tag <= last)) {
            size_t from = multiple ? 0 : (size_t)(tag - first);
            size_t to = tag < last ? (size_t)(tag - first) : j->n - 1;
            for (size_t i = from; i <= to; i++) {
                int o = j->msgs[i].outcome;
                if (o == OUT_PENDING || o == OUT_RETURNED) {
                    j->msgs[i].outcome = verdict(o, nack);
                    j->pending--;
                }
            }
        }
        if (j->pending == 0)
            finish(p, j, 0, NULL);
        else
            push(&keep, j);
    }
    p->inflight = keep;
}

/* The properties of a returned message: marks the first in-flight message
 * with its routing key and message id (any id when it carries none). */
static void mark_returned(struct mtm_publisher *p, const amqp_basic_properties_t *props)
{
    bool has_id = props && (props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG);
    for (struct job *j = p->inflight.head; j; j = j->next) {
        if (strcmp(j->routing_key, p->returned_key) != 0)
            continue;
        for (size_t i = 0; i < j->n; i++) {
            const struct mtm_amqp_message *m = &j->msgs[i];
            if (m->outcome != OUT_PENDING)
                continue;
            const amqp_bytes_t *id = &m->props.message_id;
            bool same = !has_id || ((m->props._flags & AMQP_BASIC_MESSAGE_ID_FLAG) &&
                                    id->len == props->message_id.len &&
                                    memcmp(id->bytes, props->message_id.bytes, id->len) == 0);
            if (same) {
                j->msgs[i].outcome = OUT_RETURNED;
                return;
            }
        }
    }
}

/* One frame from the broker: 0, or an error code when the connection is
 * gone (the reason in err). */
static int on_frame(struct mtm_publisher *p, const amqp_frame_t *f, char *err, size_t errlen)
{
    if (f->frame_type == AMQP_FRAME_HEADER) {
        if (p->want_header)
            mark_returned(p, f->payload.properties.decoded);
        p->want_header = false;
        return 0;
    }
    if (f->frame_type != AMQP_FRAME_METHOD)
        return 0; /* a returned message's body, a heartbeat */
    const void *m = f->payload.method.decoded;
    switch (f->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *ack = m;
        settle(p, ack->delivery_tag, ack->multiple, false);
        return 0;
    }
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *nack = m;
        settle(p, nack->delivery_tag, nack->multiple, true);
        /* The nacked calls have their answer; the channel is given up all
         * the same: on RabbitMQ 3.10 a channel that first published to a
         * quorum queue whose leader had just died has every later publish
         * nacked, while a fresh one publishes fine (cluster.test.mjs).
         * The calls still in flight go out again on a fresh connection. */
        snprintf(err, errlen, "publish: the broker refused a message; using a fresh channel");
        return MTM_EAMQP;
    }
    case AMQP_BASIC_RETURN_METHOD: {
        const amqp_basic_return_t *r = m;
        snprintf(p->returned_key, sizeof(p->returned_key), "%.*s", (int)r->routing_key.len,
                 (const char *)r->routing_key.bytes);
        p->want_header = true;
        return 0;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: {
        amqp_rpc_reply_t reply;
        memset(&reply, 0, sizeof(reply));
        reply.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION;
        reply.reply = f->payload.method;
        int rc = mtm_amqp_reply_error(&p->amqp, reply, "publish", err, errlen);
        return rc ? rc : MTM_EAMQP;
    }
    default: return 0;
    }
}

/* Reads every frame that has arrived, without waiting. */
static int drain(struct mtm_publisher *p, char *err, size_t errlen)
{
    for (;;) {
        struct timeval now = {0, 0};
        amqp_frame_t f;
        int st = amqp_simple_wait_frame_noblock(p->amqp.conn, &f, &now);
        if (st == AMQP_STATUS_TIMEOUT)
            break;
        if (st != AMQP_STATUS_OK) {
            snprintf(err, errlen, "publish: %s", amqp_error_string2(st));
            return MTM_EUNAVAIL;
        }
        int rc = on_frame(p, &f, err, errlen);
        if (rc)
            return rc;
    }
    amqp_maybe_release_buffers(p->amqp.conn);
    return 0;
}

/* Milliseconds until the first in-flight job's time is up; -1: none. */
static int next_deadline(const struct mtm_publisher *p)
{
    int64_t first = INT64_MAX;
    for (const struct job *j = p->inflight.head; j; j = j->next)
        if (j->deadline < first)
            first = j->deadline;
    if (first == INT64_MAX)
        return -1;
    int64_t left = first - mtm_mono_ms();
    return left < 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Waits for the callers, the broker or the first deadline, then reads
 * what the broker sent and gives up on jobs whose time is up. */
static void wait_and_read(struct mtm_publisher *p)
{
    bool open = mtm_amqp_is_open(&p->amqp);
    bool buffered =
        open && (amqp_frames_enqueued(p->amqp.conn) || amqp_data_in_buffer(p->amqp.conn));
    struct pollfd fds[2] = {{.fd = p->wake_fd, .events = POLLIN},
                            {.fd = open ? amqp_get_sockfd(p->amqp.conn) : -1, .events = POLLIN}};
    int n = poll(fds, 2, buffered ? 0 : next_deadline(p));
    if (n < 0 && errno != EINTR)
        return;
    if (fds[0].revents & POLLIN) {
        uint64_t v;
        (void)!read(p->wake_fd, &v, sizeof(v));
    }
    char err[512];
    if (open && (buffered || fds[1].revents)) {
        int rc = drain(p, err, sizeof(err));
        if (rc) {
            lost(p, err, false);
            return;
        }
    }
    int64_t now = mtm_mono_ms();
    for (const struct job *j = p->inflight.head; j; j = j->next)
        if (j->deadline <= now) {
            lost(p, "publish: the broker stopped confirming", true);
            return;
        }
}

static void *run(void *arg)
{
    struct mtm_publisher *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        bool stopping = p->stopping;
        struct job_list fresh = p->queued;
        p->queued = (struct job_list){0};
        pthread_mutex_unlock(&p->lock);
        /* Retries go first: they are older. */
        struct job *j;
        while ((j = pop(&fresh)))
            push(&p->retry, j);
        if (stopping) {
            finish_all(p, &p->retry, MTM_EUNAVAIL, "publish: the process is stopping");
            finish_all(p, &p->inflight, MTM_EUNAVAIL, "publish: the process is stopping");
            break;
        }
        if (p->retry.head) {
            struct job_list out = p->retry;
            p->retry = (struct job_list){0};
            send_jobs(p, &out);
            if (p->retry.head)
                continue; /* the connection was lost while writing: go again at once */
        }
        wait_and_read(p);
    }
    mtm_amqp_close(&p->amqp);
    return NULL;
}

int mtm_publisher_start(struct mtm_publisher **out, const char *url, int timeout_ms, char *err,
                        size_t errlen)
{
    struct mtm_publisher *p = xcalloc(1, sizeof(*p));
    p->timeout_ms = timeout_ms;
    p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->wake_fd < 0) {
        snprintf(err, errlen, "publisher: eventfd: %s", strerror(errno));
        free(p);
        return MTM_EIO;
    }
    pthread_mutex_init(&p->lock, NULL);
    mtm_amqp_init(&p->amqp, url, timeout_ms, 0);
    if (pthread_create(&p->tid, NULL, run, p) != 0) {
        snprintf(err, errlen, "publisher: cannot start its thread");
        mtm_amqp_cleanup(&p->amqp);
        pthread_mutex_destroy(&p->lock);
        close(p->wake_fd);
        free(p);
        return MTM_EIO;
    }
    *out = p;
    return 0;
}

static void wake(struct mtm_publisher *p)
{
    uint64_t one = 1;
    (void)!write(p->wake_fd, &one, sizeof(one));
}

void mtm_publisher_stop(struct mtm_publisher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->tid, NULL);
    /* Calls that came after the thread's last look at the queue. */
    finish_all(p, &p->queued, MTM_EUNAVAIL, "publish: the process is stopping");
    mtm_amqp_cleanup(&p->amqp);
    pthread_mutex_destroy(&p->lock);
    close(p->wake_fd);
    free(p);
}

int mtm_publisher_publish(struct mtm_publisher *p, const char *exchange, const char *routing_key,
                          struct mtm_amqp_message *msgs, size_t n, int timeout_ms, char *err,
                          size_t errlen)
{
    if (n == 0)
        return 0;
    struct job j = {.exchange = exchange,
                    .routing_key = routing_key,
                    .msgs = msgs,
                    .n = n,
                    .deadline = mtm_mono_ms() + timeout_ms,
                    .timeout_ms = timeout_ms,
                    .err = err,
                    .errlen = errlen};
    pthread_cond_init(&j.cond, NULL);
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        pthread_cond_destroy(&j.cond);
        snprintf(err, errlen, "publish: the process is stopping");
        return MTM_EUNAVAIL;
    }
    bool idle = p->queued.head == NULL;
    push(&p->queued, &j);
    pthread_mutex_unlock(&p->lock);
    if (idle) /* else the thread has been woken and takes the whole queue */
        wake(p);
    pthread_mutex_lock(&p->lock);
    while (!j.done)
        pthread_cond_wait(&j.cond, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&j.cond);
    return j.rc;
}

void mtm_publisher_counts(struct mtm_publisher *p, unsigned long long *calls,
                          unsigned long long *writes)
{
    *calls = atomic_load(&p->calls);
    *writes = atomic_load(&p->writes);
}
