/*
 * mtm-probe: this machine's raw ceilings, measured without mtm in the way.
 *
 *   mtm-probe amqp [--seconds S] [--window W] [--conns N] [--queues Q] [--size B]
 *   mtm-probe pg   [--seconds S] [--batch B] [--conns N] [--size B] [--plain]
 *
 * amqp: N threads, each with its own connection, publish to Q durable classic
 * queues (version 2, as the tenants' queues; default Q = 1) persistent JSON
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
 * Servers come from MTM_AMQP_URL and MTM_PG_URL. One JSON object goes to
 * stdout: the rate over all threads and the latency of one call (a window
 * of W confirmed publishes, or one statement). A benchmark tool, not part of
 * the product.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amqp.h"
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

static int declare_queue(struct mtm_amqp *a, const char *name, int del, char *err, size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (rc)
        return rc;
    if (del) {
        amqp_queue_delete(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(name), 0, 0);
        return mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), name, err, errlen);
    }
    amqp_table_entry_t arg;
    arg.key = amqp_cstring_bytes("x-queue-version");
    arg.value.kind = AMQP_FIELD_KIND_I32;
    arg.value.value.i32 = 2;
    amqp_table_t args = {1, &arg};
    amqp_queue_declare(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(name), 0, 1, 0, 0, args);
    return mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), name, err, errlen);
}

static void *amqp_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->o;
    struct mtm_amqp a;
    char queue[64];
    mtm_amqp_init(&a, o->url, 10000, 0);

    int n = o->window;
    struct mtm_amqp_message *msgs = calloc((size_t)n, sizeof(*msgs));
    char *bodies = malloc((size_t)n * ((size_t)o->size + 1));
    char(*ids)[MTM_UUID_STRLEN + 1] = calloc((size_t)n, sizeof(*ids));
    amqp_table_entry_t *hdr = calloc((size_t)n, sizeof(*hdr));
    if (!msgs || !bodies || !ids || !hdr) {
        snprintf(w->err, sizeof(w->err), "out of memory");
        w->failed = 1;
    }
    for (int q = 0; !w->failed && q < o->queues; q++) {
        snprintf(queue, sizeof(queue), "mtm_probe_%ld_%d", (long)getpid(), q);
        if (declare_queue(&a, queue, 0, w->err, sizeof(w->err)))
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
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        int64_t ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
        for (int i = 0; i < n; i++) {
            char *body = bodies + (size_t)i * ((size_t)o->size + 1);
            make_body(body, o->size, "amqp", seq++);
            if (mtm_uuid7_new(ids[i])) {
                snprintf(w->err, sizeof(w->err), "getrandom failed");
                w->failed = 1;
                break;
            }
            /* The properties the responder sets on every message. */
            hdr[i].key = amqp_cstring_bytes(MTM_HDR_PUBLISHED_AT);
            hdr[i].value.kind = AMQP_FIELD_KIND_I64;
            hdr[i].value.value.i64 = ms;
            memset(&msgs[i], 0, sizeof(msgs[i]));
            msgs[i].body = body;
            msgs[i].len = strlen(body);
            msgs[i].props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                                   AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG;
            msgs[i].props.content_type = amqp_cstring_bytes("application/json");
            msgs[i].props.message_id = amqp_cstring_bytes(ids[i]);
            msgs[i].props.timestamp = (uint64_t)(ms / 1000);
            msgs[i].props.headers.num_entries = 1;
            msgs[i].props.headers.entries = &hdr[i];
        }
        if (w->failed)
            break;
        double s = now_s();
        if (mtm_amqp_publish_confirmed(&a, "", queue, msgs, (size_t)n, 30000, w->err,
                                       sizeof(w->err))) {
            w->failed = 1;
            break;
        }
        double e = now_s();
        for (int i = 0; i < n; i++) {
            if (msgs[i].outcome) {
                snprintf(w->err, sizeof(w->err), "message %d not confirmed (%s)", i,
                         mtm_strerror(msgs[i].outcome));
                w->failed = 1;
            }
        }
        lat_add(&w->lat, (e - s) * 1000.0);
        w->done += n;
        w->elapsed = e - t0;
    }
    char err[256];
    pthread_barrier_wait(w->ready); /* the queues are shared: delete them once all are done */
    for (int q = 0; w->index == 0 && q < o->queues; q++) {
        snprintf(queue, sizeof(queue), "mtm_probe_%ld_%d", (long)getpid(), q);
        if (declare_queue(&a, queue, 1, err, sizeof(err)))
            fprintf(stderr, "mtm-probe: delete %s: %s\n", queue, err);
    }
    mtm_amqp_cleanup(&a);
    free(msgs);
    free(bodies);
    free(ids);
    free(hdr);
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

/* ---- main ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: mtm-probe amqp [--seconds S] [--window W] [--conns N] [--queues Q] "
                    "[--size B]\n"
                    "       mtm-probe pg   [--seconds S] [--batch B] [--conns N] [--size B] "
                    "[--plain]\n"
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
    int amqp = strcmp(o.what, "amqp") == 0;
    if (!amqp && strcmp(o.what, "pg") != 0)
        usage();
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
    const char *var = amqp ? "MTM_AMQP_URL" : "MTM_PG_URL";
    o.url = getenv(var);
    if (!o.url || !*o.url) {
        fprintf(stderr, "mtm-probe: %s is not set\n", var);
        return 2;
    }

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
