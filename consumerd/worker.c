/* worker: see worker.h. */
#include "worker.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "json.h"
#include "log.h"
#include "message.h"
#include "timeutil.h"
#include "trace.h"
#include "xalloc.h"

#define RETRY_CHANNEL 2
#define CONSUME_WAIT_MS 250
#define OUTAGE_BASE_MS 100
#define OUTAGE_CAP_MS 2000

/* Why a delivery cannot be stored, and what it says about itself. */
struct verdict {
    char reason[256]; /* "" when the delivery is storable */
    char id[MTM_MESSAGE_ID_MAX + 1];
    int failures; /* failed deliveries before this one */
    int64_t first_failed_ms;
    int64_t published_ms;
    char trace_id[33];
    struct json_object *headers; /* owned; producer headers or NULL */
};

struct wctx {
    struct worker *w;
    struct tenant_pool *pool;
    const struct mtm_config *cfg;
    struct mtm_log_ctx log;
    char thread_name[16];
    struct mtm_amqp amqp;
    bool consuming;
    bool retry_channel;
    struct mtm_backoff outage;
    amqp_envelope_t batch[WORKER_BATCH_MAX];
    struct verdict verdicts[WORKER_BATCH_MAX];
};

static bool should_exit(const struct wctx *c)
{
    return atomic_load(&c->pool->env->stopping) || c->w->index >= atomic_load(&c->pool->target);
}

/* Sleeps up to ms, returning early once the worker should exit. */
static void nap(const struct wctx *c, uint32_t ms)
{
    int64_t until = mtm_mono_ms() + ms;
    while (!should_exit(c) && mtm_mono_ms() < until)
        mtm_sleep_ms(until - mtm_mono_ms() < 50 ? until - mtm_mono_ms() : 50, NULL);
}

/* ---- AMQP headers ------------------------------------------------------ */

static const amqp_field_value_t *header(const amqp_basic_properties_t *p, const char *key)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return NULL;
    size_t klen = strlen(key);
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if (e->key.len == klen && memcmp(e->key.bytes, key, klen) == 0)
            return &e->value;
    }
    return NULL;
}

static bool header_int(const amqp_basic_properties_t *p, const char *key, int64_t *out)
{
    const amqp_field_value_t *v = header(p, key);
    if (!v)
        return false;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: *out = v->value.i8; return true;
    case AMQP_FIELD_KIND_U8: *out = v->value.u8; return true;
    case AMQP_FIELD_KIND_I16: *out = v->value.i16; return true;
    case AMQP_FIELD_KIND_U16: *out = v->value.u16; return true;
    case AMQP_FIELD_KIND_I32: *out = v->value.i32; return true;
    case AMQP_FIELD_KIND_U32: *out = v->value.u32; return true;
    case AMQP_FIELD_KIND_I64: *out = v->value.i64; return true;
    case AMQP_FIELD_KIND_TIMESTAMP: *out = (int64_t)v->value.u64 * 1000; return true;
    default: return false;
    }
}

/* A string header as a new NUL-terminated copy (caller frees), or NULL. */
static char *header_str(const amqp_basic_properties_t *p, const char *key, size_t max)
{
    const amqp_field_value_t *v = header(p, key);
    if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES) ||
        v->value.bytes.len > max)
        return NULL;
    return xstrndup(v->value.bytes.bytes ? v->value.bytes.bytes : "", v->value.bytes.len);
}

/* ---- classification ---------------------------------------------------- */

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

static void judge(struct wctx *c, const amqp_envelope_t *e, struct verdict *v)
{
    const amqp_basic_properties_t *p = &e->message.properties;
    int64_t n;
    memset(v, 0, sizeof(*v));
    v->failures = header_int(p, MTM_HDR_ATTEMPTS, &n) && n >= 0 && n < 1000 ? (int)n : 0;
    v->first_failed_ms = header_int(p, MTM_HDR_FIRST_FAILED, &n) ? n : 0;
    if (header_int(p, MTM_HDR_PUBLISHED_AT, &n) && n > 0)
        v->published_ms = n;
    else if (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG)
        v->published_ms = (int64_t)p->timestamp * 1000;
    else
        v->published_ms = mtm_wall_ms();

    char *tp = header_str(p, MTM_HDR_TRACEPARENT, 64);
    mtm_traceparent_parse(tp, v->trace_id);
    free(tp);

    if (!(p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) || p->message_id.len == 0 ||
        p->message_id.len > MTM_MESSAGE_ID_MAX ||
        !printable(p->message_id.bytes, p->message_id.len)) {
        snprintf(v->reason, sizeof(v->reason), "missing or invalid message_id property");
        return;
    }
    memcpy(v->id, p->message_id.bytes, p->message_id.len);
    v->id[p->message_id.len] = '\0';

    const amqp_bytes_t *body = &e->message.body;
    if (body->len > (size_t)c->cfg->max_body) {
        snprintf(v->reason, sizeof(v->reason), "body of %zu bytes is over the %d-byte limit",
                 body->len, c->cfg->max_body);
        return;
    }
    char err[200];
    struct json_object *obj = NULL;
    if (body->len == 0 ||
        mtm_json_parse(body->bytes, body->len, MTM_JSON_MAX_DEPTH, &obj, err, sizeof(err))) {
        snprintf(v->reason, sizeof(v->reason), "body is not valid JSON: %s",
                 body->len ? err : "empty");
        return;
    }
    bool nul = mtm_json_contains_nul(obj);
    json_object_put(obj);
    if (nul) {
        snprintf(v->reason, sizeof(v->reason), "body holds \\u0000, which cannot be stored");
        return;
    }

    char *hj = header_str(p, MTM_HDR_HEADERS, 1 << 20);
    if (header(p, MTM_HDR_HEADERS) && !hj) {
        snprintf(v->reason, sizeof(v->reason), "%s is not a string", MTM_HDR_HEADERS);
        return;
    }
    if (hj) {
        struct json_object *h = NULL;
        bool ok = !mtm_json_parse(hj, strlen(hj), 2, &h, err, sizeof(err)) &&
                  json_object_is_type(h, json_type_object);
        if (ok) {
            json_object_object_foreach(h, key, val)
            {
                (void)key;
                ok =
                    ok && json_object_is_type(val, json_type_string) && !mtm_json_contains_nul(val);
            }
        }
        free(hj);
        if (!ok) {
            json_object_put(h);
            snprintf(v->reason, sizeof(v->reason), "%s is not a JSON object of strings",
                     MTM_HDR_HEADERS);
            return;
        }
        v->headers = h;
    }
}

/* ---- consuming --------------------------------------------------------- */

static void stop_consuming(struct wctx *c)
{
    if (c->consuming)
        atomic_fetch_sub(&c->pool->running, 1);
    c->consuming = false;
    c->retry_channel = false;
    /* Closing returns every unacknowledged delivery to the queue. */
    mtm_amqp_close(&c->amqp);
}

static int start_consuming(struct wctx *c)
{
    char err[512];
    int rc = mtm_amqp_connect(&c->amqp, err, sizeof(err));
    if (!rc) {
        amqp_basic_qos(c->amqp.conn, MTM_AMQP_CHANNEL, 0, 2 * WORKER_BATCH_MAX, 0);
        rc = mtm_amqp_reply_error(&c->amqp, amqp_get_rpc_reply(c->amqp.conn), "basic.qos", err,
                                  sizeof(err));
    }
    if (!rc) {
        amqp_basic_consume(c->amqp.conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(c->pool->queue),
                           amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
        rc = mtm_amqp_reply_error(&c->amqp, amqp_get_rpc_reply(c->amqp.conn), "basic.consume", err,
                                  sizeof(err));
    }
    if (rc) {
        LOG_WARN(&c->log, "%s: cannot consume: %s", c->thread_name, err);
        mtm_amqp_close(&c->amqp);
        return rc;
    }
    c->consuming = true;
    atomic_fetch_add(&c->pool->running, 1);
    mtm_backoff_reset(&c->outage);
    LOG_DEBUG(&c->log, "%s: consuming %s", c->thread_name, c->pool->queue);
    return 0;
}

/* Handles a frame that is not a delivery; returns false if consuming ended. */
static bool other_frame(struct wctx *c)
{
    amqp_frame_t frame;
    if (amqp_simple_wait_frame(c->amqp.conn, &frame) != AMQP_STATUS_OK)
        return false;
    if (frame.frame_type != AMQP_FRAME_METHOD)
        return true;
    switch (frame.payload.method.id) {
    case AMQP_BASIC_CANCEL_METHOD: /* the queue was deleted */
        LOG_INFO(&c->log, "%s: consumer cancelled by the broker", c->thread_name);
        return false;
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD: return false;
    default: return true;
    }
}

/* Gathers up to WORKER_BATCH_MAX deliveries; *lost when the connection ended. */
static size_t collect(struct wctx *c, bool *lost)
{
    size_t n = 0;
    int64_t window_end = 0;
    *lost = false;
    amqp_maybe_release_buffers(c->amqp.conn);
    while (n < WORKER_BATCH_MAX) {
        int64_t wait = CONSUME_WAIT_MS;
        if (n > 0) {
            wait = window_end - mtm_mono_ms();
            if (wait <= 0)
                break;
        }
        struct timeval tv = {0, (long)wait * 1000};
        amqp_rpc_reply_t res = amqp_consume_message(c->amqp.conn, &c->batch[n], &tv, 0);
        if (res.reply_type == AMQP_RESPONSE_NORMAL) {
            if (n++ == 0)
                window_end = mtm_mono_ms() + WORKER_BATCH_WINDOW_MS;
            continue;
        }
        if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            res.library_error == AMQP_STATUS_TIMEOUT)
            break;
        if (res.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
            res.library_error == AMQP_STATUS_UNEXPECTED_STATE && other_frame(c))
            continue;
        *lost = true;
        break;
    }
    return n;
}

/* ---- storing ----------------------------------------------------------- */

/* Appends one storable delivery as a JSON element of the insert's array. */
static int append_element(struct mtm_buf *arr, const amqp_envelope_t *e, const struct verdict *v)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(v->id));
    json_object_object_add(o, "headers",
                           v->headers ? json_object_get(v->headers) : json_object_new_object());
    json_object_object_add(o, "published_at_ms", json_object_new_int64(v->published_ms));
    json_object_object_add(o, "attempts", json_object_new_int(v->failures + 1));
    json_object_object_add(o, "trace_id",
                           v->trace_id[0] ? json_object_new_string(v->trace_id) : NULL);
    size_t len;
    const char *rest = mtm_json_text(o, &len);
    /* The payload goes in byte for byte: {"payload":<body>,<rest of o>. */
    int rc = mtm_buf_puts(arr, arr->len > 1 ? ",{\"payload\":" : "{\"payload\":");
    if (!rc)
        rc = mtm_buf_append(arr, e->message.body.bytes, e->message.body.len);
    if (!rc)
        rc = mtm_buf_puts(arr, ",");
    if (!rc)
        rc = mtm_buf_append(arr, rest + 1, len - 1);
    json_object_put(o);
    return rc;
}

/*
 * Runs one statement on a borrowed connection, waiting out outages until it
 * succeeds or consumerd stops. Returns 0, MTM_EUNAVAIL (gave up: stopping),
 * or the statement's own error.
 */
static int run_stmt(struct wctx *c, enum mtm_stmt stmt, const char *const *params, PGresult **res,
                    char *err, size_t errlen)
{
    for (;;) {
        struct mtm_pg *pg = dbpool_acquire(c->pool->env->db, 1000);
        int rc = MTM_EUNAVAIL;
        if (pg) {
            rc = mtm_pg_exec(pg, stmt, params, res, err, errlen);
            dbpool_release(c->pool->env->db, pg);
        } else {
            snprintf(err, errlen, "no database connection free");
        }
        if (rc != MTM_EUNAVAIL) {
            if (!rc)
                mtm_backoff_reset(&c->outage);
            return rc;
        }
        if (atomic_load(&c->pool->env->stopping))
            return MTM_EUNAVAIL;
        uint32_t wait = mtm_backoff_next(&c->outage);
        LOG_WARN(&c->log, "%s: database unavailable (%s); retrying in %u ms", c->thread_name, err,
                 wait);
        mtm_sleep_ms(wait, &c->pool->env->stopping);
    }
}

static int store(struct wctx *c, const struct mtm_buf *arr, long long *inserted, char *err,
                 size_t errlen)
{
    const char *params[] = {c->pool->tenant_id, mtm_buf_cstr(arr)};
    PGresult *res;
    int rc = run_stmt(c, MTM_STMT_MESSAGES_INSERT, params, &res, err, errlen);
    if (!rc) {
        *inserted = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    return rc;
}

/* ---- failures ---------------------------------------------------------- */

static char *hex_bytea(const amqp_bytes_t *b)
{
    static const char hex[] = "0123456789abcdef";
    char *out = xmalloc(2 * b->len + 3);
    const unsigned char *s = b->bytes;
    out[0] = '\\';
    out[1] = 'x';
    for (size_t i = 0; i < b->len; i++) {
        out[2 + 2 * i] = hex[s[i] >> 4];
        out[3 + 2 * i] = hex[s[i] & 0xf];
    }
    out[2 + 2 * b->len] = '\0';
    return out;
}

/* What a replay needs to republish the message as it was. */
static char *replay_properties(const amqp_envelope_t *e, const struct verdict *v)
{
    const amqp_basic_properties_t *p = &e->message.properties;
    struct json_object *o = json_object_new_object();
    if (v->id[0])
        json_object_object_add(o, "message_id", json_object_new_string(v->id));
    json_object_object_add(o, "published_at_ms", json_object_new_int64(v->published_ms));
    char *h = header_str(p, MTM_HDR_HEADERS, 1 << 20);
    if (h)
        json_object_object_add(o, "headers_json", json_object_new_string(h));
    free(h);
    char *tp = header_str(p, MTM_HDR_TRACEPARENT, 64);
    if (tp)
        json_object_object_add(o, "traceparent", json_object_new_string(tp));
    free(tp);
    char *text = xstrdup(mtm_json_text(o, NULL));
    json_object_put(o);
    return text;
}

static int dead_letter(struct wctx *c, const amqp_envelope_t *e, struct verdict *v)
{
    char id[MTM_MESSAGE_ID_MAX + 1], attempts[16], first[24];
    if (v->id[0])
        snprintf(id, sizeof(id), "%s", v->id);
    else if (mtm_uuid7_new(id))
        return MTM_EIO;
    snprintf(attempts, sizeof(attempts), "%d", v->failures + 1);
    snprintf(first, sizeof(first), "%lld",
             (long long)(v->first_failed_ms ? v->first_failed_ms : mtm_wall_ms()));
    char *body = hex_bytea(&e->message.body);
    char *props = replay_properties(e, v);
    const char *params[] = {c->pool->tenant_id, id, v->reason, attempts, first, body, props};
    char err[512];
    int rc = run_stmt(c, MTM_STMT_DEAD_LETTER_INSERT, params, NULL, err, sizeof(err));
    if (rc)
        LOG_ERROR(&c->log, "%s: dead letter %s: %s", c->thread_name, id, err);
    free(body);
    free(props);
    if (!rc)
        LOG_WARN(&c->log, "%s: dead-lettered %s after %d attempt(s): %s", c->thread_name, id,
                 v->failures + 1, v->reason);
    return rc;
}

static int open_retry_channel(struct wctx *c, char *err, size_t errlen)
{
    if (c->retry_channel)
        return 0;
    amqp_channel_open(c->amqp.conn, RETRY_CHANNEL);
    int rc = mtm_amqp_reply_error(&c->amqp, amqp_get_rpc_reply(c->amqp.conn),
                                  "channel.open (retry)", err, errlen);
    if (!rc) {
        amqp_tx_select(c->amqp.conn, RETRY_CHANNEL);
        rc = mtm_amqp_reply_error(&c->amqp, amqp_get_rpc_reply(c->amqp.conn), "tx.select", err,
                                  errlen);
    }
    c->retry_channel = rc == 0;
    return rc;
}

/* Republishes e to the retry queue with its next attempt's delay. */
static int retry_later(struct wctx *c, const amqp_envelope_t *e, const struct verdict *v)
{
    char err[512], ttl[24];
    int rc = open_retry_channel(c, err, sizeof(err));
    if (rc) {
        LOG_WARN(&c->log, "%s: %s", c->thread_name, err);
        return rc;
    }
    int failures = v->failures + 1;
    struct mtm_backoff b;
    mtm_backoff_init(&b, (uint32_t)c->cfg->retry_base_ms, (uint32_t)c->cfg->retry_base_ms * 64u);
    b.attempt = (uint32_t)(failures - 1);
    snprintf(ttl, sizeof(ttl), "%u", mtm_backoff_next(&b));

    /* Same properties, our bookkeeping headers replaced. */
    amqp_basic_properties_t props = e->message.properties;
    const amqp_table_t *old = &props.headers;
    int nold = (props._flags & AMQP_BASIC_HEADERS_FLAG) ? old->num_entries : 0;
    amqp_table_entry_t *entries = xcalloc((size_t)nold + 3, sizeof(*entries));
    int ne = 0;
    for (int i = 0; i < nold; i++) {
        const amqp_bytes_t *k = &old->entries[i].key;
        if ((k->len == strlen(MTM_HDR_ATTEMPTS) && !memcmp(k->bytes, MTM_HDR_ATTEMPTS, k->len)) ||
            (k->len == strlen(MTM_HDR_FIRST_FAILED) &&
             !memcmp(k->bytes, MTM_HDR_FIRST_FAILED, k->len)) ||
            (k->len == strlen(MTM_HDR_LAST_ERROR) && !memcmp(k->bytes, MTM_HDR_LAST_ERROR, k->len)))
            continue;
        entries[ne++] = old->entries[i];
    }
    entries[ne].key = amqp_cstring_bytes(MTM_HDR_ATTEMPTS);
    entries[ne].value.kind = AMQP_FIELD_KIND_I32;
    entries[ne++].value.value.i32 = failures;
    entries[ne].key = amqp_cstring_bytes(MTM_HDR_FIRST_FAILED);
    entries[ne].value.kind = AMQP_FIELD_KIND_I64;
    entries[ne++].value.value.i64 = v->first_failed_ms ? v->first_failed_ms : mtm_wall_ms();
    entries[ne].key = amqp_cstring_bytes(MTM_HDR_LAST_ERROR);
    entries[ne].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[ne++].value.value.bytes = amqp_cstring_bytes(v->reason);
    props.headers.entries = entries;
    props.headers.num_entries = ne;
    props._flags |=
        AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.expiration = amqp_cstring_bytes(ttl);
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;

    int st =
        amqp_basic_publish(c->amqp.conn, RETRY_CHANNEL, amqp_empty_bytes,
                           amqp_cstring_bytes(c->pool->retry_queue), 0, 0, &props, e->message.body);
    free(entries);
    if (st != AMQP_STATUS_OK) {
        LOG_WARN(&c->log, "%s: retry publish: %s", c->thread_name, amqp_error_string2(st));
        return MTM_EUNAVAIL;
    }
    amqp_tx_commit(c->amqp.conn, RETRY_CHANNEL);
    rc = mtm_amqp_reply_error(&c->amqp, amqp_get_rpc_reply(c->amqp.conn), "tx.commit", err,
                              sizeof(err));
    if (rc)
        LOG_WARN(&c->log, "%s: %s", c->thread_name, err);
    else
        LOG_INFO(&c->log, "%s: %s will be retried in %s ms (attempt %d failed: %s)", c->thread_name,
                 v->id[0] ? v->id : "(no id)", ttl, failures, v->reason);
    return rc;
}

/* ---- one batch --------------------------------------------------------- */

/*
 * The database refused the batch for a reason other than an outage (a
 * payload jsonb rejects, such as a string holding \u0000): store the
 * messages one by one and turn each one refused into a failure with the
 * database's reason, so one bad message never blocks the rest.
 */
static int store_singly(struct wctx *c, size_t n, long long *inserted, size_t *bad)
{
    struct mtm_buf one;
    char err[512];
    int rc = 0;
    mtm_buf_init(&one, (size_t)c->cfg->max_body + 4096);
    for (size_t i = 0; !rc && i < n; i++) {
        struct verdict *v = &c->verdicts[i];
        if (v->reason[0])
            continue;
        long long got = 0;
        mtm_buf_reset(&one);
        rc = mtm_buf_puts(&one, "[");
        if (!rc)
            rc = append_element(&one, &c->batch[i], v);
        if (!rc)
            rc = mtm_buf_puts(&one, "]");
        if (!rc)
            rc = store(c, &one, &got, err, sizeof(err));
        if (rc == MTM_EINVAL || rc == MTM_EDB || rc == MTM_ECONFLICT) {
            snprintf(v->reason, sizeof(v->reason), "the database refused it: %.200s", err);
            (*bad)++;
            rc = 0;
        }
        *inserted += got;
    }
    mtm_buf_cleanup(&one);
    return rc;
}

/* Stores, retries or dead-letters every delivery, then acks them all.
 * Non-zero means the batch was not acknowledged (it will be redelivered). */
static int handle_batch(struct wctx *c, size_t n)
{
    struct mtm_buf arr;
    size_t good = 0, bad = 0, retried = 0, dead = 0;
    long long inserted = 0;
    int rc = 0;

    mtm_buf_init(&arr, (size_t)WORKER_BATCH_MAX * ((size_t)c->cfg->max_body + 2048) + 16);
    rc = mtm_buf_puts(&arr, "[");
    for (size_t i = 0; !rc && i < n; i++) {
        judge(c, &c->batch[i], &c->verdicts[i]);
        if (c->verdicts[i].reason[0]) {
            bad++;
            continue;
        }
        rc = append_element(&arr, &c->batch[i], &c->verdicts[i]);
        good++;
        if (c->verdicts[i].trace_id[0]) {
            struct mtm_log_ctx lc = c->log;
            lc.trace_id = c->verdicts[i].trace_id;
            LOG_DEBUG(&lc, "%s: storing %s", c->thread_name, c->verdicts[i].id);
        }
    }
    if (!rc)
        rc = mtm_buf_puts(&arr, "]");
    if (!rc && good) {
        char err[512];
        rc = store(c, &arr, &inserted, err, sizeof(err));
        if (rc == MTM_EINVAL || rc == MTM_EDB || rc == MTM_ECONFLICT) {
            LOG_WARN(&c->log, "%s: batch refused (%s); storing one by one", c->thread_name, err);
            rc = store_singly(c, n, &inserted, &bad);
        }
    }
    for (size_t i = 0; !rc && i < n; i++) {
        struct verdict *v = &c->verdicts[i];
        if (!v->reason[0])
            continue;
        if (v->failures + 1 >= c->cfg->max_attempts) {
            rc = dead_letter(c, &c->batch[i], v);
            dead += rc == 0;
        } else {
            rc = retry_later(c, &c->batch[i], v);
            retried += rc == 0;
        }
    }
    if (!rc) {
        int st = amqp_basic_ack(c->amqp.conn, MTM_AMQP_CHANNEL, c->batch[n - 1].delivery_tag, 1);
        if (st != AMQP_STATUS_OK) {
            LOG_WARN(&c->log, "%s: ack: %s", c->thread_name, amqp_error_string2(st));
            rc = MTM_EUNAVAIL;
        }
    }
    for (size_t i = 0; i < n; i++)
        json_object_put(c->verdicts[i].headers);
    mtm_buf_cleanup(&arr);

    atomic_fetch_add(&c->pool->consumed, (long long)n);
    if (!rc) {
        int64_t now = mtm_wall_ms();
        for (size_t i = 0; i < n; i++)
            if (!c->verdicts[i].reason[0])
                pool_observe_latency(c->pool, now - c->verdicts[i].published_ms);
        atomic_fetch_add(&c->pool->stored, inserted);
        atomic_fetch_add(&c->pool->failed, (long long)bad);
        atomic_fetch_add(&c->pool->retried, (long long)retried);
        atomic_fetch_add(&c->pool->dead_lettered, (long long)dead);
    }
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct wctx *c = xcalloc(1, sizeof(*c));
    c->w = w;
    c->pool = w->pool;
    c->cfg = w->pool->env->cfg;
    c->log.component = "worker";
    c->log.tenant = c->pool->tenant_id;
    snprintf(c->thread_name, sizeof(c->thread_name), "w%.8s-%d", c->pool->tenant_id, w->index);
    pthread_setname_np(pthread_self(), c->thread_name);
    mtm_amqp_init(&c->amqp, c->cfg->amqp_url, 2000, 30);
    mtm_backoff_init(&c->outage, OUTAGE_BASE_MS, OUTAGE_CAP_MS);

    while (!should_exit(c)) {
        if (!c->consuming && start_consuming(c)) {
            nap(c, mtm_backoff_next(&c->outage));
            continue;
        }
        bool lost;
        size_t n = collect(c, &lost);
        if (n) {
            atomic_fetch_add(&c->pool->busy, 1);
            int rc = lost ? MTM_EUNAVAIL : handle_batch(c, n);
            atomic_fetch_sub(&c->pool->busy, 1);
            for (size_t i = 0; i < n; i++)
                amqp_destroy_envelope(&c->batch[i]);
            lost = lost || rc;
        }
        if (lost) {
            LOG_WARN(&c->log, "%s: broker connection lost; reconnecting", c->thread_name);
            stop_consuming(c);
            nap(c, mtm_backoff_next(&c->outage));
        }
    }
    stop_consuming(c);
    mtm_amqp_cleanup(&c->amqp);
    LOG_DEBUG(&c->log, "%s: exited", c->thread_name);
    free(c);
    atomic_store(&w->done, true);
    return NULL;
}

struct worker *worker_start(struct tenant_pool *pool, int index)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    w->pool = pool;
    w->index = index;
    atomic_init(&w->done, false);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK_BYTES);
    int rc = pthread_create(&w->tid, &attr, worker_main, w);
    pthread_attr_destroy(&attr);
    if (rc) {
        free(w);
        return NULL;
    }
    return w;
}

void worker_join(struct worker *w)
{
    pthread_join(w->tid, NULL);
    free(w);
}
