/*
 * mtm-probe: this machine's raw ceilings, measured without mtm in the way.
 *
 *   mtm-probe amqp [--seconds S] [--window W] [--conns N] [--queues Q] [--size B]
 *   mtm-probe pg   [--seconds S] [--batch B] [--conns N] [--size B] [--plain]
 *   mtm-probe ideal [--seconds S] [--window W] [--batch B] [--size B]
 *
 * amqp: N threads, each with its own connection, publish to Q durable classic
 * queues (of MTM_CLASSIC_QUEUE_VERSION, 1 unless set, as mtm declares the
 * tenants' queues; default Q = 1) persistent JSON
 * messages of B bytes (default 256) with publisher confirms and `mandatory`,
 * W at a time, through mtm_amqp_publish_confirmed (the responder's own
 * call), for S seconds; each window goes to the next queue in turn, as
 * the responder's N threads do when producers publish to Q tenants. Nothing
 * consumes; the queues are deleted at the end.
 *
 * pg: N threads, each with its own connection and its own tenant partition
 * of `messages`, store B rows per statement for S seconds. By default through
 * `SELECT mtm_store_messages($1::uuid, $2::jsonb)` (MTM_STMT_MESSAGES_INSERT,
 * the consumer workers' own statement, with the same JSON elements they
 * build); with --plain through a plain multi-row INSERT ... VALUES ... ON
 * CONFLICT DO NOTHING. Either way one statement is one transaction, so one
 * commit (one WAL flush when fsync is on) per B rows. The partitions are
 * dropped at the end.
 *
 * ideal: the ideal pipeline on the same servers (run_ideal below): one
 * publisher with confirms in windows of W -> one durable classic v2 queue ->
 * one consumer storing batches of up to B (default 500) with COPY into a
 * tenant partition, ack multiple after COMMIT. Its rate is stored
 * messages per second from the first publish to the last commit.
 *
 * Servers come from MTM_AMQP_URL and MTM_PG_URL. One JSON object goes to
 * stdout: the rate over all threads and the latency of one call (a window
 * of W confirmed publishes, or one statement). A benchmark tool, not part of
 * the product.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amqp.h"
#include "buf.h"
#include "message.h"
#include "pg.h"
#include "uuid.h"

#define MAX_CONNS 64
#define MAX_WINDOW 10000
#define MAX_BATCH 1000

struct opts {
    const char *what; /* "amqp" or "pg" */
    double seconds;
    int window; /* amqp: messages per confirmed call */
    int batch;  /* pg: rows per statement */
    int conns;
    int queues; /* amqp: queues per thread */
    int size;   /* message bytes */
    int plain;
    int queue_version; /* x-queue-version of its queues: MTM_CLASSIC_QUEUE_VERSION, as mtm's */
    const char *url;
};

struct lat {
    double *v; /* milliseconds */
    size_t n, cap;
};

struct worker {
    const struct opts *o;
    int index;
    pthread_t thread;
    pthread_barrier_t *ready;
    struct timespec *start; /* shared, written by thread 0 after the barrier */
    long long done;         /* messages or rows */
    double elapsed;         /* seconds from start to this thread's last call */
    struct lat lat;
    char err[512];
    int failed;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lat_add(struct lat *l, double ms)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4096;
        double *v = realloc(l->v, l->cap * sizeof(*v));
        if (!v) {
            fprintf(stderr, "mtm-probe: out of memory\n");
            exit(1);
        }
        l->v = v;
    }
    l->v[l->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const struct lat *l, double p)
{
    if (!l->n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)l->n);
    return l->v[i >= l->n ? l->n - 1 : i];
}

/* A JSON object of exactly size bytes (at least its fixed part). */
static void make_body(char *out, int size, const char *kind, long long n)
{
    int head =
        snprintf(out, (size_t)size + 1, "{\"probe\":\"%s\",\"n\":\"%012lld\",\"pad\":\"", kind, n);
    int pad = size - head - 2;
    for (int i = 0; i < pad; i++)
        out[head + i] = 'x';
    if (pad < 0)
        pad = 0;
    memcpy(out + head + pad, "\"}", 3);
}

/* ---- amqp ---------------------------------------------------------------- */

/* A durable classic queue of storage `version`, as mtm declares a tenant's. */
static int declare_queue(struct mtm_amqp *a, const char *name, int version, char *err,
                         size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (rc)
        return rc;
    amqp_table_entry_t arg;
    arg.key = amqp_cstring_bytes("x-queue-version");
    arg.value.kind = AMQP_FIELD_KIND_I32;
    arg.value.value.i32 = version;
    amqp_table_t args = {1, &arg};
    amqp_queue_declare(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
    return mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), name, err, errlen);
}

static int delete_queue(struct mtm_amqp *a, const char *name, char *err, size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (rc)
        return rc;
    amqp_queue_delete(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(name), 0, 0);
    return mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), name, err, errlen);
}

/* A window of messages as the responder builds them, and its buffers. */
struct window {
    int n, size;
    struct mtm_amqp_message *msgs;
    char *bodies;
    char (*ids)[MTM_UUID_STRLEN + 1];
    amqp_table_entry_t *hdr;
};

static int window_init(struct window *win, int n, int size)
{
    win->n = n;
    win->size = size;
    win->msgs = calloc((size_t)n, sizeof(*win->msgs));
    win->bodies = malloc((size_t)n * ((size_t)size + 1));
    win->ids = calloc((size_t)n, sizeof(*win->ids));
    win->hdr = calloc((size_t)n, sizeof(*win->hdr));
    return win->msgs && win->bodies && win->ids && win->hdr ? 0 : -1;
}

static void window_cleanup(struct window *win)
{
    free(win->msgs);
    free(win->bodies);
    free(win->ids);
    free(win->hdr);
}

/* Fresh bodies, ids and the responder's properties: 0, or -1 (no ids). */
static int window_fill(struct window *win, const char *kind, long long *seq)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    for (int i = 0; i < win->n; i++) {
        char *body = win->bodies + (size_t)i * ((size_t)win->size + 1);
        make_body(body, win->size, kind, (*seq)++);
        if (mtm_uuid7_new(win->ids[i]))
            return -1;
        /* The properties the responder sets on every message. */
        win->hdr[i].key = amqp_cstring_bytes(MTM_HDR_PUBLISHED_AT);
        win->hdr[i].value.kind = AMQP_FIELD_KIND_I64;
        win->hdr[i].value.value.i64 = ms;
        struct mtm_amqp_message *m = &win->msgs[i];
        memset(m, 0, sizeof(*m));
        m->body = body;
        m->len = strlen(body);
        m->props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                          AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG;
        m->props.content_type = amqp_cstring_bytes("application/json");
        m->props.message_id = amqp_cstring_bytes(win->ids[i]);
        m->props.timestamp = (uint64_t)(ms / 1000);
        m->props.headers.num_entries = 1;
        m->props.headers.entries = &win->hdr[i];
    }
    return 0;
}

/* Publishes the window to queue with confirms: 0, or -1 with w->err set. */
static int window_publish(struct window *win, struct mtm_amqp *a, const char *queue,
                          struct worker *w)
{
    if (mtm_amqp_publish_confirmed(a, "", queue, win->msgs, (size_t)win->n, 30000, w->err,
                                   sizeof(w->err)))
        return -1;
    for (int i = 0; i < win->n; i++) {
        if (win->msgs[i].outcome) {
            snprintf(w->err, sizeof(w->err), "message %d not confirmed (%s)", i,
                     mtm_strerror(win->msgs[i].outcome));
            return -1;
        }
    }
    return 0;
}

static void *amqp_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    struct mtm_amqp a;
    char queue[64];
    mtm_amqp_init(&a, o->url, 10000, 0);

    struct window win;
    if (window_init(&win, o->window, o->size)) {
        snprintf(w->err, sizeof(w->err), "out of memory");
        w->failed = 1;
    }
    for (int q = 0; !w->failed && q < o->queues; q++) {
        snprintf(queue, sizeof(queue), "mtm_probe_%ld_%d", (long)getpid(), q);
        if (declare_queue(&a, queue, o->queue_version, w->err, sizeof(w->err)))
            w->failed = 1;
    }
    pthread_barrier_wait(w->ready);
    if (w->index == 0)
        clock_gettime(CLOCK_MONOTONIC, w->start);
    pthread_barrier_wait(w->ready);
    double t0 = (double)w->start->tv_sec + (double)w->start->tv_nsec / 1e9;
    long long seq = 0, calls = 0;

    while (!w->failed && now_s() - t0 < o->seconds) {
        snprintf(queue, sizeof(queue), "mtm_probe_%ld_%lld", (long)getpid(),
                 (calls++ + w->index) % o->queues);
        if (window_fill(&win, "amqp", &seq)) {
            snprintf(w->err, sizeof(w->err), "getrandom failed");
            w->failed = 1;
            break;
        }
        double s = now_s();
        if (window_publish(&win, &a, queue, w)) {
            w->failed = 1;
            break;
        }
        double e = now_s();
        lat_add(&w->lat, (e - s) * 1000.0);
        w->done += win.n;
        w->elapsed = e - t0;
    }
    char err[256];
    pthread_barrier_wait(w->ready); /* the queues are shared: delete them once all are done */
    for (int q = 0; w->index == 0 && q < o->queues; q++) {
        snprintf(queue, sizeof(queue), "mtm_probe_%ld_%d", (long)getpid(), q);
        if (delete_queue(&a, queue, err, sizeof(err)))
            fprintf(stderr, "mtm-probe: delete %s: %s\n", queue, err);
    }
    mtm_amqp_cleanup(&a);
    window_cleanup(&win);
    return NULL;
}

/* ---- pg ------------------------------------------------------------------ */

static int fixed(struct mtm_pg *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg->conn, sql);
    int ok =
        res && (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK);
    if (!ok)
        snprintf(err, errlen, "%s: %s", sql, PQerrorMessage(pg->conn));
    PQclear(res);
    return ok ? 0 : MTM_EDB;
}

/* The plain multi-row INSERT for b rows: $1 tenant, then (id, payload) pairs. */
static char *plain_sql(int b)
{
    size_t cap = 256 + (size_t)b * 64;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t len = (size_t)snprintf(
        sql, cap, "INSERT INTO messages (tenant_id, id, payload, published_at) VALUES ");
    for (int i = 0; i < b; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s($1::uuid, $%d, $%d::jsonb, now())",
                                i ? "," : "", 2 + 2 * i, 3 + 2 * i);
    snprintf(sql + len, cap - len, " ON CONFLICT (tenant_id, id) DO NOTHING");
    return sql;
}

static void *pg_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    struct mtm_pg pg;
    char tenant[MTM_UUID_STRLEN + 1];
    int b = o->batch;
    mtm_pg_init(&pg, o->url, 10);
    size_t elem = (size_t)o->size + 192;
    char *arr = malloc((size_t)b * elem + 16);
    char *bodies = malloc((size_t)b * ((size_t)o->size + 1));
    char(*ids)[MTM_UUID_STRLEN + 1] = calloc((size_t)b, sizeof(*ids));
    const char **params = calloc(1 + 2 * (size_t)b, sizeof(*params));
    char *sql = o->plain ? plain_sql(b) : NULL;
    if (!arr || !bodies || !ids || !params || (o->plain && !sql)) {
        snprintf(w->err, sizeof(w->err), "out of memory");
        w->failed = 1;
    }
    if (!w->failed && mtm_uuid7_new(tenant))
        w->failed = 1;
    const char *tp[] = {tenant};
    /* Row-level security (when the schema has it) shows a session nothing
     * until it names its scope; consumerd's sessions use 'all'. */
    if (!w->failed &&
        (mtm_pg_connect(&pg, w->err, sizeof(w->err)) ||
         fixed(&pg, "SELECT set_config('mtm.scope', 'all', false)", w->err, sizeof(w->err)) ||
         mtm_pg_exec(&pg, MTM_STMT_TENANT_CREATE_PARTITION, tp, NULL, w->err, sizeof(w->err))))
        w->failed = 1;
    if (!w->failed && o->plain) {
        PGresult *res = PQprepare(pg.conn, "probe_plain", sql, 1 + 2 * b, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            snprintf(w->err, sizeof(w->err), "prepare: %s", PQerrorMessage(pg.conn));
            w->failed = 1;
        }
        PQclear(res);
    }
    pthread_barrier_wait(w->ready);
    if (w->index == 0)
        clock_gettime(CLOCK_MONOTONIC, w->start);
    pthread_barrier_wait(w->ready);
    double t0 = (double)w->start->tv_sec + (double)w->start->tv_nsec / 1e9;
    long long seq = 0;

    while (!w->failed && now_s() - t0 < o->seconds) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        long long ms = (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
        size_t len = 0;
        arr[len++] = '[';
        for (int i = 0; i < b; i++) {
            char *body = bodies + (size_t)i * ((size_t)o->size + 1);
            make_body(body, o->size, "pg", seq++);
            if (mtm_uuid7_new(ids[i])) {
                w->failed = 1;
                break;
            }
            /* The element a worker builds for one delivery (worker.c). */
            len += (size_t)snprintf(arr + len, (size_t)b * elem + 16 - len,
                                    "%s{\"payload\":%s,\"id\":\"%s\",\"headers\":{},"
                                    "\"published_at_ms\":%lld,\"attempts\":1,\"trace_id\":null}",
                                    i ? "," : "", body, ids[i], ms);
            params[1 + 2 * i] = ids[i];
            params[2 + 2 * i] = body;
        }
        arr[len++] = ']';
        arr[len] = '\0';
        if (w->failed)
            break;
        double s = now_s();
        long long got = 0;
        if (o->plain) {
            params[0] = tenant;
            PGresult *res =
                PQexecPrepared(pg.conn, "probe_plain", 1 + 2 * b, params, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                snprintf(w->err, sizeof(w->err), "insert: %s", PQerrorMessage(pg.conn));
                w->failed = 1;
            } else {
                got = strtoll(PQcmdTuples(res), NULL, 10);
            }
            PQclear(res);
        } else {
            const char *p2[] = {tenant, arr};
            PGresult *res = NULL;
            if (mtm_pg_exec(&pg, MTM_STMT_MESSAGES_INSERT, p2, &res, w->err, sizeof(w->err))) {
                w->failed = 1;
            } else {
                got = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                PQclear(res);
            }
        }
        if (w->failed)
            break;
        if (got != b) {
            snprintf(w->err, sizeof(w->err), "stored %lld rows of %d", got, b);
            w->failed = 1;
            break;
        }
        double e = now_s();
        lat_add(&w->lat, (e - s) * 1000.0);
        w->done += got;
        w->elapsed = e - t0;
    }
    char err[256];
    if (mtm_pg_connected(&pg) &&
        mtm_pg_exec(&pg, MTM_STMT_TENANT_DROP_PARTITION, tp, NULL, err, sizeof(err)))
        fprintf(stderr, "mtm-probe: drop partition: %s\n", err);
    mtm_pg_cleanup(&pg);
    free(arr);
    free(bodies);
    free(ids);
    free(params);
    free(sql);
    return NULL;
}

/* ---- ideal pipeline ------------------------------------------------------ */

/*
 * The ideal pipeline on these servers: one publisher with confirms in
 * windows of W, one queue, one consumer that stores batches of up to B
 * deliveries (closed 5 ms after the first, as consumerd's workers do) with
 * COPY into a tenant partition in one transaction, then acks them
 * (multiple). The figure is stored messages / (last commit - start).
 */
struct ideal {
    const struct opts *o;
    char queue[64];
    char tenant[MTM_UUID_STRLEN + 1];
    atomic_llong published;
    atomic_bool publishing;
    long long stored;
    double t0, last_store;
    struct lat batch_ms; /* one COPY + COMMIT + ack */
    struct worker pub;   /* the publisher's figures and error */
    char err[512];
};

/* COPY text format: backslash, tab, newline and carriage return escaped. */
static void copy_escape(struct mtm_buf *b, const char *s, size_t n, int *failed)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *e = c == '\\'   ? "\\\\"
                        : c == '\t' ? "\\t"
                        : c == '\n' ? "\\n"
                        : c == '\r' ? "\\r"
                                    : NULL;
        if (e ? mtm_buf_puts(b, e) : mtm_buf_append(b, &c, 1))
            *failed = 1;
    }
}

/* One delivery as a COPY row: tenant_id, id, payload, published_at. */
static void copy_row(struct mtm_buf *b, const char *tenant, const amqp_envelope_t *env, int *failed)
{
    const amqp_basic_properties_t *p = &env->message.properties;
    int64_t ms = 0;
    for (int i = 0; i < p->headers.num_entries; i++)
        if (p->headers.entries[i].value.kind == AMQP_FIELD_KIND_I64)
            ms = p->headers.entries[i].value.value.i64;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char at[48];
    strftime(at, sizeof(at), "%Y-%m-%d %H:%M:%S", &tm);
    if (mtm_buf_printf(b, "%s\t", tenant))
        *failed = 1;
    copy_escape(b, p->message_id.bytes, p->message_id.len, failed);
    if (mtm_buf_puts(b, "\t"))
        *failed = 1;
    copy_escape(b, env->message.body.bytes, env->message.body.len, failed);
    if (mtm_buf_printf(b, "\t%s.%03d+00\n", at, (int)(ms % 1000)))
        *failed = 1;
}

/* COPY into the tenant's partition itself: the parent's row-level security
 * refuses COPY (and the partition is where the rows go anyway). */
static int store_copy(struct mtm_pg *pg, const char *tenant, const struct mtm_buf *rows, char *err,
                      size_t errlen)
{
    char sql[160], hex[40];
    size_t h = 0;
    for (const char *c = tenant; *c && h < sizeof(hex) - 1; c++)
        if (*c != '-')
            hex[h++] = *c;
    hex[h] = '\0';
    snprintf(sql, sizeof(sql), "COPY messages_%s (tenant_id, id, payload, published_at) FROM STDIN",
             hex);
    PGresult *res = PQexec(pg->conn, sql);
    int ok = PQresultStatus(res) == PGRES_COPY_IN;
    PQclear(res);
    if (ok)
        ok = PQputCopyData(pg->conn, mtm_buf_cstr(rows), (int)rows->len) == 1 &&
             PQputCopyEnd(pg->conn, NULL) == 1;
    if (ok) {
        res = PQgetResult(pg->conn);
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        while ((res = PQgetResult(pg->conn)))
            PQclear(res);
    }
    if (!ok)
        snprintf(err, errlen, "COPY: %s", PQerrorMessage(pg->conn));
    return ok ? 0 : MTM_EDB;
}

static void *ideal_publish(void *arg)
{
    struct ideal *id = arg;
    const struct opts *o = id->o;
    struct worker *w = &id->pub;
    struct mtm_amqp a;
    struct window win;
    mtm_amqp_init(&a, o->url, 10000, 0);
    long long seq = 0;
    if (window_init(&win, o->window, o->size)) {
        snprintf(w->err, sizeof(w->err), "out of memory");
        w->failed = 1;
    }
    while (!w->failed && now_s() - id->t0 < o->seconds) {
        if (window_fill(&win, "ideal", &seq)) {
            snprintf(w->err, sizeof(w->err), "getrandom failed");
            w->failed = 1;
        } else if (window_publish(&win, &a, id->queue, w)) {
            w->failed = 1;
        } else {
            atomic_fetch_add(&id->published, win.n);
        }
    }
    atomic_store(&id->publishing, false);
    mtm_amqp_cleanup(&a);
    window_cleanup(&win);
    return NULL;
}

/* Consumes and stores until everything published is stored: 0, or -1. */
static int ideal_consume(struct ideal *id, struct mtm_amqp *a, struct mtm_pg *pg)
{
    const struct opts *o = id->o;
    struct mtm_buf rows;
    mtm_buf_init(&rows, 64u << 20);
    amqp_envelope_t env;
    int rc = mtm_amqp_consume(a, id->queue, (uint16_t)(2 * o->batch), id->err, sizeof(id->err));
    double give_up = 0;
    while (!rc) {
        if (!atomic_load(&id->publishing)) {
            if (id->stored >= atomic_load(&id->published))
                break;
            if (give_up == 0)
                give_up = now_s() + 60;
            else if (now_s() > give_up) {
                snprintf(id->err, sizeof(id->err), "%lld of %lld stored after 60 s", id->stored,
                         (long long)atomic_load(&id->published));
                rc = -1;
                break;
            }
        }
        int n = 0, failed = 0;
        uint64_t last_tag = 0;
        double closes = 0;
        mtm_buf_reset(&rows);
        while (n < o->batch) {
            int wait = n == 0 ? 100 : (int)((closes - now_s()) * 1000);
            if (n > 0 && wait <= 0)
                break;
            int got = mtm_amqp_next(a, &env, wait);
            if (got == MTM_ETIMEOUT)
                break;
            if (got) {
                snprintf(id->err, sizeof(id->err), "consume: %s", mtm_strerror(got));
                rc = -1;
                break;
            }
            if (n == 0)
                closes = now_s() + 0.005;
            copy_row(&rows, id->tenant, &env, &failed);
            last_tag = env.delivery_tag;
            n++;
            amqp_destroy_envelope(&env);
        }
        if (rc || n == 0)
            continue;
        double s = now_s();
        if (failed)
            snprintf(id->err, sizeof(id->err), "out of memory");
        if (failed || store_copy(pg, id->tenant, &rows, id->err, sizeof(id->err)) ||
            mtm_amqp_ack_upto(a, last_tag, id->err, sizeof(id->err))) {
            rc = -1;
            break;
        }
        mtm_amqp_release(a);
        id->last_store = now_s();
        lat_add(&id->batch_ms, (id->last_store - s) * 1000.0);
        id->stored += n;
    }
    mtm_buf_cleanup(&rows);
    return rc ? -1 : 0;
}

static int run_ideal(struct opts *o, const char *pg_url)
{
    struct ideal id;
    memset(&id, 0, sizeof(id));
    id.o = o;
    atomic_init(&id.published, 0);
    atomic_init(&id.publishing, true);
    snprintf(id.queue, sizeof(id.queue), "mtm_probe_ideal_%ld", (long)getpid());
    struct mtm_amqp a;
    struct mtm_pg pg;
    mtm_amqp_init(&a, o->url, 10000, 0);
    mtm_pg_init(&pg, pg_url, 10);
    const char *tp[] = {id.tenant};
    int rc = mtm_uuid7_new(id.tenant) ? -1 : 0;
    if (!rc &&
        (mtm_pg_connect(&pg, id.err, sizeof(id.err)) ||
         fixed(&pg, "SELECT set_config('mtm.scope', 'all', false)", id.err, sizeof(id.err)) ||
         mtm_pg_exec(&pg, MTM_STMT_TENANT_CREATE_PARTITION, tp, NULL, id.err, sizeof(id.err)) ||
         declare_queue(&a, id.queue, o->queue_version, id.err, sizeof(id.err))))
        rc = -1;
    pthread_t pub;
    id.t0 = now_s();
    if (!rc && pthread_create(&pub, NULL, ideal_publish, &id) != 0) {
        snprintf(id.err, sizeof(id.err), "cannot start the publisher");
        rc = -1;
    } else if (!rc) {
        rc = ideal_consume(&id, &a, &pg);
        if (rc)
            atomic_store(&id.publishing, false); /* nothing to wait for */
        pthread_join(pub, NULL);
        if (id.pub.failed) {
            snprintf(id.err, sizeof(id.err), "publisher: %.400s", id.pub.err);
            rc = -1;
        }
    }
    char err[256];
    if (delete_queue(&a, id.queue, err, sizeof(err)))
        fprintf(stderr, "mtm-probe: delete %s: %s\n", id.queue, err);
    if (mtm_pg_connected(&pg) &&
        mtm_pg_exec(&pg, MTM_STMT_TENANT_DROP_PARTITION, tp, NULL, err, sizeof(err)))
        fprintf(stderr, "mtm-probe: drop partition: %s\n", err);
    mtm_amqp_cleanup(&a);
    mtm_pg_cleanup(&pg);
    if (rc || id.last_store <= id.t0) {
        fprintf(stderr, "mtm-probe: ideal: %s\n", id.err[0] ? id.err : "nothing stored");
        free(id.batch_ms.v);
        return 1;
    }
    qsort(id.batch_ms.v, id.batch_ms.n, sizeof(double), cmp_double);
    printf("{\"probe\":\"ideal\",\"what\":\"publisher with confirms in windows -> durable classic "
           "v2 queue -> consumer storing batches with COPY, ack multiple\",\"window\":%d,"
           "\"batch\":%d,\"size\":%d,\"seconds\":%.3f,\"count\":%lld,\"rate\":%.0f,"
           "\"call_ms\":{\"calls\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
           o->window, o->batch, o->size, id.last_store - id.t0, id.stored,
           (double)id.stored / (id.last_store - id.t0), id.batch_ms.n, pct(&id.batch_ms, 50),
           pct(&id.batch_ms, 99), pct(&id.batch_ms, 100));
    free(id.batch_ms.v);
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: mtm-probe amqp [--seconds S] [--window W] [--conns N] [--queues Q] "
                    "[--size B]\n"
                    "       mtm-probe pg   [--seconds S] [--batch B] [--conns N] [--size B] "
                    "[--plain]\n"
                    "       mtm-probe ideal [--seconds S] [--window W] [--batch B] [--size B]\n"
                    "Servers: MTM_AMQP_URL, MTM_PG_URL. Prints one JSON object.\n");
    exit(2);
}

static long num_arg(int argc, char **argv, int *i, long lo, long hi)
{
    if (*i + 1 >= argc)
        usage();
    char *end;
    errno = 0;
    long v = strtol(argv[++*i], &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "mtm-probe: %s wants a number in %ld..%ld\n", argv[*i - 1], lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    struct opts o = {
        .seconds = 10, .window = 1000, .batch = 200, .conns = 1, .queues = 1, .size = 256};
    if (argc < 2)
        usage();
    o.what = argv[1];
    int amqp = strcmp(o.what, "amqp") == 0, ideal = strcmp(o.what, "ideal") == 0;
    if (!amqp && !ideal && strcmp(o.what, "pg") != 0)
        usage();
    if (ideal)
        o.batch = 500;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0)
            o.seconds = (double)num_arg(argc, argv, &i, 1, 3600);
        else if (strcmp(argv[i], "--window") == 0)
            o.window = (int)num_arg(argc, argv, &i, 1, MAX_WINDOW);
        else if (strcmp(argv[i], "--batch") == 0)
            o.batch = (int)num_arg(argc, argv, &i, 1, MAX_BATCH);
        else if (strcmp(argv[i], "--queues") == 0)
            o.queues = (int)num_arg(argc, argv, &i, 1, 1000);
        else if (strcmp(argv[i], "--conns") == 0)
            o.conns = (int)num_arg(argc, argv, &i, 1, MAX_CONNS);
        else if (strcmp(argv[i], "--size") == 0)
            o.size = (int)num_arg(argc, argv, &i, 48, 1 << 20);
        else if (strcmp(argv[i], "--plain") == 0)
            o.plain = 1;
        else
            usage();
    }
    const char *version = getenv("MTM_CLASSIC_QUEUE_VERSION");
    o.queue_version = 1;
    if (version && *version) {
        char *end;
        long v = strtol(version, &end, 10);
        o.queue_version = *end ? 0 : (int)v;
    }
    if (o.queue_version != 1 && o.queue_version != 2) {
        fprintf(stderr, "mtm-probe: MTM_CLASSIC_QUEUE_VERSION must be 1 or 2\n");
        return 2;
    }
    const char *var = amqp || ideal ? "MTM_AMQP_URL" : "MTM_PG_URL";
    o.url = getenv(var);
    const char *pg_url = getenv("MTM_PG_URL");
    if (!o.url || !*o.url || (ideal && (!pg_url || !*pg_url))) {
        fprintf(stderr, "mtm-probe: %s is not set\n", o.url && *o.url ? "MTM_PG_URL" : var);
        return 2;
    }
    if (ideal)
        return run_ideal(&o, pg_url);

    struct worker w[MAX_CONNS];
    pthread_barrier_t ready;
    struct timespec start;
    pthread_barrier_init(&ready, NULL, (unsigned)o.conns);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < o.conns; i++) {
        w[i].o = &o;
        w[i].index = i;
        w[i].ready = &ready;
        w[i].start = &start;
        if (pthread_create(&w[i].thread, NULL, amqp ? amqp_main : pg_main, &w[i])) {
            fprintf(stderr, "mtm-probe: cannot start a thread\n");
            return 1;
        }
    }
    long long total = 0;
    double elapsed = 0;
    struct lat all = {0};
    int failed = 0;
    for (int i = 0; i < o.conns; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].failed) {
            fprintf(stderr, "mtm-probe: %s thread %d: %s\n", o.what, i, w[i].err);
            failed = 1;
        }
        total += w[i].done;
        if (w[i].elapsed > elapsed)
            elapsed = w[i].elapsed;
        for (size_t k = 0; k < w[i].lat.n; k++)
            lat_add(&all, w[i].lat.v[k]);
        free(w[i].lat.v);
    }
    pthread_barrier_destroy(&ready);
    if (failed || elapsed <= 0) {
        free(all.v);
        return 1;
    }
    qsort(all.v, all.n, sizeof(*all.v), cmp_double);
    if (amqp)
        printf("{\"probe\":\"amqp\",\"what\":\"persistent publish with confirms, durable classic "
               "v2 queues\",\"conns\":%d,\"queues\":%d,\"window\":%d,",
               o.conns, o.queues, o.window);
    else
        printf("{\"probe\":\"pg\",\"what\":\"%s\",\"conns\":%d,\"batch\":%d,",
               o.plain ? "plain multi-row INSERT, one commit per statement"
                       : "SELECT mtm_store_messages($1::uuid, $2::jsonb), one commit per statement",
               o.conns, o.batch);
    printf("\"size\":%d,\"seconds\":%.3f,\"count\":%lld,\"rate\":%.0f,"
           "\"call_ms\":{\"calls\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}}\n",
           o.size, elapsed, total, (double)total / elapsed, all.n, pct(&all, 50), pct(&all, 99),
           pct(&all, 100));
    free(all.v);
    return 0;
}
