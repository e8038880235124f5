/* events: see events.h. */
#include "events.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "eventlog.h"
#include "eventsource.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pg.h"
#include "problem.h"
#include "textfile.h"
#include "timeutil.h"
#include "token.h"
#include "uuid.h"
#include "xalloc.h"

#define METRICS_EVERY_MS 5000
#define INVALID_TOKEN "Bearer realm=\"mtm\", error=\"invalid_token\""
/* Clients written per turn of the loop, a turn every millisecond while
 * some wait: the second's events for 500 streams go out over about 125 ms
 * instead of in one burst, so lighttpd's single thread, which also answers
 * the API, meets a few proxied writes at a time instead of 1,000. */
#define FLUSH_PER_TURN 4
/* Tenant tokens re-checked per turn of the loop at most: 500 tenant streams
 * opened together would otherwise be 500 queries in one turn every
 * EVENTS_RECHECK_MS. Their first re-check is spread over the interval too. */
#define RECHECKS_PER_TURN 64

enum client_state { READING, STREAMING };

struct client {
    int fd;
    enum client_state state;
    char req[EVENTS_REQUEST_MAX + 1];
    size_t reqlen;
    int64_t since_ms; /* accepted (READING) */
    bool admin;
    char tenant[MTM_UUID_STRLEN + 1];
    char jti[MTM_UUID_STRLEN + 1];
    char request_id[MTM_REQUEST_ID_MAX + 1];
    int64_t exp_s;
    int64_t checked_ms;
    struct mtm_buf out; /* what is queued for the client */
    size_t sent;        /* bytes of out already written */
    bool blocked;       /* the last write would have blocked: wait for POLLOUT */
    bool closing;       /* close once out is written */
};

struct server {
    const struct mtm_config *cfg;
    struct mtm_log_ctx log;
    int listen_fd;
    struct client **clients;
    size_t n, cap;
    struct eventlog events;
    struct eventsource source;
    struct mtm_pg auth; /* tenant-token checks */
    int64_t next_heartbeat_ms, next_metrics_ms;
    size_t flush_from; /* where the next turn's writes start */
    long long accepted, refused, cut_off, sent;
};

/* ---- clients ----------------------------------------------------------- */

static void client_free(struct client *c)
{
    if (!c)
        return;
    close(c->fd);
    mtm_buf_cleanup(&c->out);
    free(c);
}

static void drop(struct server *s, size_t i)
{
    client_free(s->clients[i]);
    s->clients[i] = s->clients[--s->n];
}

/* Queues bytes for a client; cuts off (false) a client that lets them pile up. */
static bool queue(struct server *s, struct client *c, const char *data, size_t len)
{
    if (c->sent == c->out.len) {
        mtm_buf_reset(&c->out);
        c->sent = 0;
    }
    if (mtm_buf_append(&c->out, data, len)) {
        if (!c->closing)
            s->cut_off++;
        c->closing = true;
        mtm_buf_reset(&c->out); /* nothing more goes to it: close now */
        c->sent = 0;
        return false;
    }
    return true;
}

/* Answers a request with a problem and closes. */
/* Answers the client with the fault (the API's problem+json, status and
 * headers: lib/problem.c) and closes; forgets the fault. */
static void refuse(struct server *s, struct client *c, struct mtm_fault *f)
{
    struct mtm_header h[MTM_FAULT_HEADERS];
    char retry[MTM_FAULT_RETRY_LEN], head[1024];
    size_t nh = mtm_fault_headers(f, h, retry), blen;
    int status = mtm_fault_status(f);
    struct json_object *p = mtm_fault_problem(f);
    const char *body = mtm_json_text(p, &blen);
    int hlen =
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\n"
                 "Cache-Control: no-store\r\nX-Request-Id: %s\r\n",
                 status, mtm_http_reason(status), c->request_id[0] ? c->request_id : "unknown");
    for (size_t i = 0; i < nh && hlen > 0 && (size_t)hlen < sizeof(head); i++)
        hlen +=
            snprintf(head + hlen, sizeof(head) - (size_t)hlen, "%s: %s\r\n", h[i].name, h[i].value);
    if (hlen > 0 && (size_t)hlen < sizeof(head))
        hlen += snprintf(head + hlen, sizeof(head) - (size_t)hlen,
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);
    if (hlen > 0 && (size_t)hlen < sizeof(head)) {
        queue(s, c, head, (size_t)hlen);
        queue(s, c, body, blen);
    }
    json_object_put(p);
    mtm_fault_reset(f);
    c->closing = true;
    s->refused++;
}

/* ---- requests ---------------------------------------------------------- */

/* The value of a header in the request text (NUL-terminated copy), or false. */
static bool header_value(const char *req, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(req, "\r\n"); line && line[2] != '\r';
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':') {
            const char *v = h + nlen + 1, *end = strstr(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            size_t len = end ? (size_t)(end - v) : strlen(v);
            while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                len--;
            if (len >= outlen)
                return false;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

static bool token_valid(struct server *s, const struct client *c, bool *unavailable)
{
    char err[512];
    const char *params[] = {c->jti, c->tenant};
    PGresult *res;
    *unavailable = false;
    int rc = mtm_pg_exec(&s->auth, MTM_STMT_TOKEN_VALID, params, &res, err, sizeof(err));
    if (rc) {
        LOG_WARN(&s->log, "checking a tenant token: %s", err);
        *unavailable = true;
        return false;
    }
    bool ok = PQntuples(res) == 1;
    PQclear(res);
    return ok;
}

static void start_stream(struct server *s, struct client *c, const char *last_id)
{
    char head[256];
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        "Cache-Control: no-store\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n"
                        "retry: 2000\n\n",
                        c->request_id);
    queue(s, c, head, (size_t)hlen);
    c->state = STREAMING;
    /* Spread the re-checks of streams opened together over the interval. */
    c->checked_ms = mtm_mono_ms() - (int64_t)((unsigned)c->fd * 7919u % EVENTS_RECHECK_MS);
    uint64_t after;
    if (last_id[0] && !eventlog_resume_point(&s->events, last_id, &after)) {
        static const char reset[] = "event: reset\ndata: {\"reason\":\"the events since "
                                    "Last-Event-ID are no longer kept: read the state again\"}\n\n";
        queue(s, c, reset, sizeof(reset) - 1);
        return;
    }
    if (!last_id[0])
        return;
    for (uint64_t seq = after + 1;; seq++) {
        const struct event *e = eventlog_get(&s->events, seq);
        if (!e)
            break;
        if (eventlog_visible(e, c->admin, c->tenant) && !queue(s, c, e->frame, e->len))
            break;
    }
}

/* A whole request has arrived: check it and start the stream or refuse. */
static void handle_request(struct server *s, struct client *c)
{
    char method[8] = "", path[256] = "", auth[4096] = {0}, last_id[64] = "", err[256];
    struct mtm_fault f = {0};
    if (!header_value(c->req, "X-Request-Id", c->request_id, sizeof(c->request_id)) ||
        !mtm_request_id_valid(c->request_id)) {
        if (mtm_uuid7_new(c->request_id))
            snprintf(c->request_id, sizeof(c->request_id), "unknown");
    }
    if (sscanf(c->req, "%7s %255s", method, path) != 2) {
        mtm_fault_set(&f, MTM_EPARSE, "malformed request");
        refuse(s, c, &f);
        return;
    }
    if (strcmp(path, "/api/events") != 0 && strncmp(path, "/api/events?", 12) != 0) {
        mtm_fault_set(&f, MTM_ENOTFOUND, "no route here but /api/events");
        refuse(s, c, &f);
        return;
    }
    if (strcmp(method, "GET") != 0) {
        f.status = 405;
        snprintf(f.allow, sizeof(f.allow), "GET");
        mtm_fault_set(&f, MTM_EINVAL, "GET /api/events only");
        refuse(s, c, &f);
        return;
    }
    if (!header_value(c->req, "Authorization", auth, sizeof(auth)) ||
        strncasecmp(auth, "Bearer ", 7) != 0) {
        mtm_fault_set(&f, MTM_EAUTH, "this route needs a bearer token");
        refuse(s, c, &f);
        return;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    struct mtm_claims claims;
    if (mtm_token_verify(tok, s->cfg->jwt_secret, mtm_wall_ms() / 1000, &claims, err,
                         sizeof(err))) {
        snprintf(f.challenge, sizeof(f.challenge), "%s", INVALID_TOKEN);
        mtm_fault_set(&f, MTM_EAUTH, "the token is not valid");
        refuse(s, c, &f);
        return;
    }
    c->admin = claims.role == MTM_ROLE_ADMIN;
    c->exp_s = claims.exp;
    if (!c->admin) {
        snprintf(c->tenant, sizeof(c->tenant), "%s", claims.tenant_id);
        mtm_uuid_canonical(c->tenant);
        snprintf(c->jti, sizeof(c->jti), "%s", claims.jti);
        bool unavailable;
        if (!token_valid(s, c, &unavailable)) {
            if (unavailable) {
                mtm_fault_set(&f, MTM_EUNAVAIL, "the database is unavailable");
            } else {
                snprintf(f.challenge, sizeof(f.challenge), "%s", INVALID_TOKEN);
                mtm_fault_set(&f, MTM_EAUTH,
                              "the token was revoked or its tenant no longer exists");
            }
            refuse(s, c, &f);
            return;
        }
    }
    if (header_value(c->req, "Last-Event-ID", last_id, sizeof(last_id)) == false)
        last_id[0] = '\0';
    start_stream(s, c, last_id);
}

/* Reads what a READING client sent. */
static void read_request(struct server *s, struct client *c)
{
    ssize_t n = read(c->fd, c->req + c->reqlen, EVENTS_REQUEST_MAX - c->reqlen);
    if (n <= 0) {
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            c->closing = true; /* gone: close at once */
            c->sent = c->out.len;
        }
        return;
    }
    c->reqlen += (size_t)n;
    c->req[c->reqlen] = '\0';
    if (strstr(c->req, "\r\n\r\n"))
        handle_request(s, c);
    else if (c->reqlen >= EVENTS_REQUEST_MAX) {
        struct mtm_fault f = {.status = 431};
        mtm_fault_set(&f, MTM_ETOOBIG, "the request is too large");
        refuse(s, c, &f);
    }
}

/* ---- events ------------------------------------------------------------ */

static void emit(void *ud, const char *tenant, const char *type, const char *data)
{
    struct server *s = ud;
    const struct event *e = eventlog_append(&s->events, tenant, type, data);
    for (size_t i = 0; i < s->n; i++) {
        struct client *c = s->clients[i];
        if (c->state == STREAMING && !c->closing && eventlog_visible(e, c->admin, c->tenant) &&
            queue(s, c, e->frame, e->len))
            s->sent++;
    }
}

/* Heartbeats, token expiry and revocation. */
static void housekeeping(struct server *s, int64_t now)
{
    bool beat = now >= s->next_heartbeat_ms;
    char frame[96];
    int flen = snprintf(frame, sizeof(frame), "event: heartbeat\ndata: {\"at_ms\":%lld}\n\n",
                        (long long)mtm_wall_ms());
    if (beat)
        s->next_heartbeat_ms = now + EVENTS_HEARTBEAT_MS;
    int64_t wall_s = mtm_wall_ms() / 1000;
    int rechecks = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct client *c = s->clients[i];
        if (c->state == READING && !c->closing && now - c->since_ms > EVENTS_REQUEST_TIMEOUT_MS) {
            c->closing = true;
            c->sent = c->out.len;
        }
        if (c->state != STREAMING || c->closing)
            continue;
        if (wall_s >= c->exp_s) {
            c->closing = true; /* the client comes back and is told 401 */
            continue;
        }
        if (!c->admin && now - c->checked_ms >= EVENTS_RECHECK_MS && rechecks < RECHECKS_PER_TURN) {
            rechecks++;
            bool unavailable;
            c->checked_ms = now;
            if (!token_valid(s, c, &unavailable) && !unavailable) {
                c->closing = true;
                continue;
            }
        }
        if (beat)
            queue(s, c, frame, (size_t)flen);
    }
}

static void write_metrics(struct server *s)
{
    char text[1024], err[256];
    size_t streaming = 0;
    for (size_t i = 0; i < s->n; i++)
        streaming += s->clients[i]->state == STREAMING;
    int len = snprintf(text, sizeof(text),
                       "# HELP mtm_events_streams Event streams open now.\n"
                       "# TYPE mtm_events_streams gauge\nmtm_events_streams %zu\n"
                       "# HELP mtm_events_accepted_total Connections accepted.\n"
                       "# TYPE mtm_events_accepted_total counter\nmtm_events_accepted_total %lld\n"
                       "# HELP mtm_events_refused_total Requests answered with an error.\n"
                       "# TYPE mtm_events_refused_total counter\nmtm_events_refused_total %lld\n"
                       "# HELP mtm_events_cut_off_total Streams closed for not reading.\n"
                       "# TYPE mtm_events_cut_off_total counter\nmtm_events_cut_off_total %lld\n"
                       "# HELP mtm_events_sent_total Events queued to streams.\n"
                       "# TYPE mtm_events_sent_total counter\nmtm_events_sent_total %lld\n"
                       "# HELP mtm_events_made_total Events made.\n"
                       "# TYPE mtm_events_made_total counter\nmtm_events_made_total %llu\n",
                       streaming, s->accepted, s->refused, s->cut_off, s->sent,
                       (unsigned long long)(s->events.next_seq - 1));
    if (mtm_textfile_write(s->cfg->metrics_dir, "mtm-events.prom", text, (size_t)len, err,
                           sizeof(err)))
        LOG_WARN(&s->log, "metrics not written: %s", err);
}

/* ---- the loop ------------------------------------------------------------ */

static void accept_clients(struct server *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct client *c = xcalloc(1, sizeof(*c));
        c->fd = fd;
        c->since_ms = mtm_mono_ms();
        mtm_buf_init(&c->out, EVENTS_CLIENT_BUFFER);
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->clients = xrealloc(s->clients, s->cap * sizeof(*s->clients));
        }
        s->clients[s->n++] = c;
        s->accepted++;
        if (s->n > (size_t)s->cfg->events_max_clients) {
            struct mtm_fault f = {.retry_after = 5};
            mtm_fault_set(&f, MTM_EUNAVAIL, "too many event streams");
            refuse(s, c, &f);
        }
    }
}

/* Writes what is queued; false when the client is done with. */
static bool flush(struct client *c)
{
    c->blocked = false;
    while (c->sent < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            c->blocked = errno == EAGAIN || errno == EWOULDBLOCK;
            return c->blocked || errno == EINTR;
        }
        c->sent += (size_t)n;
    }
    return !c->closing;
}

int events_serve(const struct mtm_config *cfg, int listen_fd, const atomic_bool *stopping)
{
    struct server *s = xcalloc(1, sizeof(*s));
    s->cfg = cfg;
    s->listen_fd = listen_fd;
    s->log.component = "mtm-events";
    eventlog_init(&s->events, EVENTS_KEEP, mtm_wall_ms());
    eventsource_init(&s->source, cfg->pg_url, emit, s);
    mtm_pg_init(&s->auth, cfg->pg_url, 2);
    mtm_pg_set_deadline(&s->auth, MTM_PG_ANSWER_MS);
    mtm_pg_set_options(&s->auth, MTM_PG_OPTIONS_ALL_TENANTS);
    struct pollfd *pfd = NULL;
    size_t pcap = 0;

    while (!atomic_load(stopping)) {
        int64_t now = mtm_mono_ms();
        s->source.idle = s->n == 0;
        int64_t due = eventsource_tick(&s->source, now);
        eventsource_continue(&s->source);
        housekeeping(s, now);
        if (now >= s->next_metrics_ms) {
            s->next_metrics_ms = now + METRICS_EVERY_MS;
            write_metrics(s);
        }
        /* Write to the next FLUSH_PER_TURN clients with something queued;
         * forget those that are done. */
        size_t written = 0;
        bool more = false;
        if (s->flush_from >= s->n)
            s->flush_from = 0;
        for (size_t i = s->flush_from, seen = 0; seen < s->n && i < s->n; seen++) {
            struct client *c = s->clients[i];
            if (c->sent == c->out.len && !c->closing) {
                i++;
                continue;
            }
            if (written == FLUSH_PER_TURN) {
                more = true;
                s->flush_from = i;
                break;
            }
            written++;
            if (!flush(c))
                drop(s, i); /* the last client moved into slot i */
            else
                i++;
        }
        if (!more)
            s->flush_from = 0;
        if (pcap < s->n + 2) {
            pcap = 2 * (s->n + 2);
            pfd = xrealloc(pfd, pcap * sizeof(*pfd));
        }
        pfd[0] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = eventsource_fd(&s->source), .events = POLLIN};
        for (size_t i = 0; i < s->n; i++) {
            const struct client *c = s->clients[i];
            short ev = POLLIN; /* a request, or (streaming) the client going away */
            if (c->blocked)
                ev |= POLLOUT; /* others are written in their turn (FLUSH_PER_TURN) */
            pfd[i + 2] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        int64_t wait = s->source.more ? 0 : more ? 1 : due - mtm_mono_ms();
        if (wait > 1000)
            wait = 1000;
        if (wait < 0)
            wait = 0;
        size_t nclients = s->n;
        int ready = poll(pfd, nclients + 2, (int)wait);
        if (ready <= 0)
            continue;
        if (pfd[1].revents)
            eventsource_readable(&s->source);
        for (size_t i = 0; i < nclients && i < s->n; i++) {
            struct client *c = s->clients[i];
            if (pfd[i + 2].fd != c->fd || !(pfd[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (c->state == READING && !c->closing) {
                read_request(s, c);
            } else {
                char sink[512]; /* a streaming client sends nothing we need */
                ssize_t n = read(c->fd, sink, sizeof(sink));
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                    c->closing = true;
                    c->sent = c->out.len;
                }
            }
        }
        if (pfd[0].revents & POLLIN)
            accept_clients(s);
    }
    for (size_t i = 0; i < s->n; i++)
        client_free(s->clients[i]);
    free(s->clients);
    free(pfd);
    mtm_pg_cleanup(&s->auth);
    eventsource_cleanup(&s->source);
    eventlog_cleanup(&s->events);
    free(s);
    return 0;
}
