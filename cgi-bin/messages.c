/*
 * messages: publishing.
 *
 *   POST /api/tenants/{id}/messages
 *     {"payload": <any JSON>, "headers"?: {"name": "value", ...}}
 *     (at most 64 headers, names 1..128 bytes, values up to 4096, and the
 *     whole object at most MTM_HEADERS_BYTES_MAX bytes as JSON text)
 *     or {"messages": [ <such objects>, ... ]} (1..MTM_BATCH_MAX)
 *     Idempotency-Key: optional; the message id (batch: "<key>-<index>")
 *
 * 202 is sent only after the broker confirmed every message as persisted on
 * the tenant's durable queue. Messages are published with `mandatory`, so a
 * queue that vanished (tenant deleted meanwhile) comes back as a return,
 * never a silent drop. Payload bytes are forwarded exactly as received (see
 * jsonspan.h for why they are not re-serialised).
 *
 * Keys and ids share one namespace per tenant: a single message with key
 * "k-0" and message 0 of a batch with key "k" get the same id, and the
 * second is taken for a redelivery of the first. Clients that mix both
 * should keep their keys distinct (documented in README; not enforced).
 *
 * Retrying a failed batch without an Idempotency-Key may store messages of
 * it twice under different ids (those the broker confirmed before the
 * failure); with a key, ids repeat and storage is idempotent.
 */
#include "messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowance.h"
#include "api.h"
#include "answer.h"
#include "common.h"
#include "fields.h"
#include "headers.h"
#include "json.h"
#include "jsonspan.h"
#include "message.h"
#include "problem.h"
#include "timeutil.h"
#include "topology.h"
#include "uuid.h"
#include "xalloc.h"

struct outgoing {
    char id[MTM_MESSAGE_ID_MAX + 1];
    struct mtm_span payload;
    char *headers_json; /* owned; NULL when the message has no headers */
    amqp_table_entry_t entries[MTM_MESSAGE_TABLE_MAX];
};

static void add_error(struct mtm_fault *p, const char *prefix, const char *field, const char *msg)
{
    char name[64];
    snprintf(name, sizeof(name), "%s%s", prefix, field);
    mtm_fault_field(p, name, "%s", msg);
}

/* Validates one message object; prefix is "" or "messages[3]." */
static int check_message(struct json_object *m, const char *prefix, struct mtm_fault *p)
{
    if (!json_object_is_type(m, json_type_object)) {
        char name[48];
        snprintf(name, sizeof(name), "%.*s", prefix[0] ? (int)strlen(prefix) - 1 : 4,
                 prefix[0] ? prefix : "body");
        return mtm_fault_field(p, name, "must be an object");
    }
    int bad = 0;
    json_object_object_foreach(m, key, val)
    {
        (void)val;
        if (strcmp(key, "payload") != 0 && strcmp(key, "headers") != 0) {
            add_error(p, prefix, key, "is not a known field");
            bad = 1;
        }
    }
    struct json_object *payload;
    if (!json_object_object_get_ex(m, "payload", &payload)) {
        add_error(p, prefix, "payload", "is required");
        bad = 1;
    } else if (mtm_json_contains_nul(payload)) {
        add_error(p, prefix, "payload", "must not contain \\u0000 (PostgreSQL cannot store it)");
        bad = 1;
    }
    struct json_object *h;
    if (json_object_object_get_ex(m, "headers", &h)) {
        const char *why;
        if (mtm_headers_check(h, &why)) {
            add_error(p, prefix, "headers", why);
            bad = 1;
        }
    }
    return bad ? MTM_EINVAL : 0;
}

static int check_idempotency_key(const char *key, struct mtm_fault *p)
{
    size_t n = strlen(key);
    bool ok = n >= 1 && n <= MTM_IDEMPOTENCY_KEY_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = key[i] >= 0x20 && key[i] <= 0x7e;
    if (!ok)
        return mtm_fault_field(p, "Idempotency-Key", "must be 1 to %d printable ASCII characters",
                               MTM_IDEMPOTENCY_KEY_MAX);
    return 0;
}

/* Collects the message objects and their payload spans from the body. */
static int collect(struct mtm_request *r, struct outgoing **out, size_t *count, struct mtm_fault *p)
{
    const char *text = mtm_buf_cstr(&r->body);
    struct mtm_span top = mtm_json_trim(text, r->body.len), arr, span;
    struct json_object *batch;
    int bad = mtm_field_object(r->json, p);
    if (bad)
        return bad;

    if (!json_object_object_get_ex(r->json, "messages", &batch)) {
        if (check_message(r->json, "", p))
            return MTM_EINVAL;
        *out = xcalloc(1, sizeof(**out));
        *count = 1;
        if (mtm_json_member(text, top, "payload", &(*out)[0].payload))
            return MTM_EINTERNAL;
        return 0;
    }
    if (json_object_object_length(r->json) != 1)
        return mtm_fault_field(p, "messages", "cannot be combined with other fields");
    size_t n = json_object_is_type(batch, json_type_array) ? json_object_array_length(batch) : 0;
    if (n < 1 || n > MTM_BATCH_MAX)
        return mtm_fault_field(p, "messages", "must be an array of 1 to %d messages",
                               MTM_BATCH_MAX);
    for (size_t i = 0; i < n; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "messages[%zu].", i);
        bad |= check_message(json_object_array_get_idx(batch, i), prefix, p);
    }
    if (bad)
        return MTM_EINVAL;
    struct mtm_span *elems = xcalloc(n, sizeof(*elems));
    size_t got = 0;
    int rc = mtm_json_member(text, top, "messages", &arr);
    if (!rc)
        rc = mtm_json_elements(text, arr, elems, n, &got);
    if (!rc && got != n)
        rc = MTM_EINTERNAL;
    if (!rc) {
        *out = xcalloc(n, sizeof(**out));
        *count = n;
        for (size_t i = 0; !rc && i < n; i++) {
            rc = mtm_json_member(text, elems[i], "payload", &span);
            (*out)[i].payload = span;
        }
    }
    free(elems);
    return rc ? MTM_EINTERNAL : 0;
}

static void free_outgoing(struct outgoing *o, size_t n)
{
    for (size_t i = 0; o && i < n; i++)
        free(o[i].headers_json);
    free(o);
}

/* Assigns ids and builds AMQP properties. */
static int prepare(struct mtm_request *r, struct outgoing *o, size_t n,
                   struct mtm_amqp_message *msgs, const char *key, int64_t now_ms)
{
    struct json_object *batch = NULL;
    json_object_object_get_ex(r->json, "messages", &batch);
    for (size_t i = 0; i < n; i++) {
        struct json_object *m = batch ? json_object_array_get_idx(batch, i) : r->json, *h;
        if (key && !batch)
            snprintf(o[i].id, sizeof(o[i].id), "%s", key);
        else if (key)
            snprintf(o[i].id, sizeof(o[i].id), "%s-%zu", key, i);
        else if (mtm_uuid7_new(o[i].id))
            return MTM_EIO;

        if (json_object_object_get_ex(m, "headers", &h))
            o[i].headers_json = xstrdup(mtm_json_text(h, NULL));
        struct mtm_message_headers mh = {.published_at_ms = now_ms,
                                         .headers_json = o[i].headers_json,
                                         .traceparent = r->traceparent};
        int ne = mtm_message_table(&mh, NULL, o[i].entries);
        const char *text = mtm_buf_cstr(&r->body);
        msgs[i].body = text + o[i].payload.start;
        msgs[i].len = o[i].payload.end - o[i].payload.start;
        mtm_message_props(&msgs[i].props, o[i].id, now_ms, o[i].entries, ne);
    }
    return 0;
}

/*
 * Draws n tokens from the tenant's limit: from this process's local
 * allowance when it holds them, else from the bucket every responder
 * process shares through the database, a chunk at a time (allowance.h).
 * 0 when granted (or unlimited); otherwise a fault: 429 with Retry-After,
 * 422 for more than the burst, 503.
 */
static int take_tokens(struct api_thread *t, const char *id, const struct tenant_facts *limit,
                       size_t n)
{
    if (limit->rate <= 0)
        return 0;
    if ((long)n > limit->burst) /* waiting would never help: the request's fault */
        return mtm_fault_field(&t->fault, "messages",
                               "must hold at most %d messages (the tenant's burst)", limit->burst);
    struct allowance *a = &t->ctx->allowance;
    struct allowance_draw d;
    if (allowance_spend(a, id, limit->rate, limit->burst, (long)n, mtm_mono_ms(), &d))
        return 0;
    char rs[24], bs[24], ns[24], ws[24], err[512];
    snprintf(rs, sizeof(rs), "%d", limit->rate);
    snprintf(bs, sizeof(bs), "%d", limit->burst);
    snprintf(ns, sizeof(ns), "%ld", d.need);
    snprintf(ws, sizeof(ws), "%ld", d.want);
    const char *params[] = {id, rs, bs, ns, ws};
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_TAKE_TOKEN_CHUNK, params, &res, err, sizeof(err));
    if (rc) {
        allowance_settle(a, &d, 0, mtm_mono_ms());
        return api_fail_db(t, rc, err);
    }
    long granted = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    double wait = strtod(PQgetvalue(res, 0, 1), NULL);
    PQclear(res);
    allowance_settle(a, &d, granted, mtm_mono_ms());
    if (granted >= d.need)
        return 0;
    /* The bucket's wait is for the tokens this process lacked; a retry may
     * reach another process, which lacks the whole request. */
    wait += (double)d.reserved / limit->rate;
    t->fault.retry_after = wait < 86400 ? (int)wait + 1 : 86400;
    return api_fail(t, MTM_ERATELIMIT, "tenant %s is over its publish limit of %d messages/s", id,
                    limit->rate);
}

static int unavailable(struct api_thread *t, const char *what)
{
    return api_fail(t, MTM_EUNAVAIL, "%s; the messages may not have been published", what);
}

/* The body's messages and the Idempotency-Key checked: 0, or a fault. */
static int read_messages(struct api_thread *t, struct mtm_request *r, const char *key,
                         struct outgoing **o, size_t *n)
{
    int bad = key ? check_idempotency_key(key, &t->fault) : 0;
    int rc = collect(r, o, n, &t->fault);
    if (bad || rc == MTM_EINVAL)
        return MTM_EINVAL;
    if (rc)
        return api_fail(t, MTM_EINTERNAL, "cannot locate payloads in a body json-c accepted");
    return 0;
}

/* 202 {"id"} or {"ids"}, as the request was one message or a batch. */
static void answer_accepted(struct api_thread *t, struct mtm_request *r, const char *tenant,
                            const struct outgoing *o, size_t n)
{
    struct json_object *body = json_object_new_object();
    if (json_object_object_get_ex(r->json, "messages", NULL)) {
        struct json_object *ids = json_object_new_array();
        for (size_t i = 0; i < n; i++)
            json_object_array_add(ids, json_object_new_string(o[i].id));
        json_object_object_add(body, "ids", ids);
    } else {
        json_object_object_add(body, "id", json_object_new_string(o[0].id));
    }
    mtm_respond_json(r, 202, body, NULL, 0);
    json_object_put(body);
    httpmetrics_published(&t->ctx->metrics, tenant, n);
}

/* Publishes the messages to the tenant's queue with confirms: 0 when the
 * broker took every one, or a fault. */
static int publish(struct api_thread *t, struct mtm_request *r, const char *id, struct outgoing *o,
                   size_t n, const char *key)
{
    char queue[MTM_QUEUE_NAME_MAX], err[512];
    if (mtm_queue_name(id, MTM_QUEUE_MAIN, queue))
        return api_fail(t, MTM_ENOTFOUND, "no tenant %.64s", id);
    struct mtm_amqp_message *msgs = xcalloc(n, sizeof(*msgs));
    int rc = prepare(r, o, n, msgs, key, mtm_wall_ms());
    if (rc)
        rc = api_fail(t, rc, "cannot make a message id");
    /* Retries once on a connection that died (publisher.h). */
    else if (mtm_publisher_publish(t->ctx->publisher, "", queue, msgs, n, 5000, err, sizeof(err))) {
        LOG_WARN(&t->log, "publish to %s failed: %s", queue, err);
        rc = unavailable(t, "the message broker is unavailable");
    }
    int outcome = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (msgs[i].outcome)
            outcome = msgs[i].outcome;
    free(msgs);
    if (outcome == MTM_ENOTFOUND) {
        /* The queue is gone: the tenant was deleted meanwhile (404, 409),
         * or its queues were removed behind mtm's back. */
        rc = api_tenant_check(t, id, API_CHECK_DELETING | API_CHECK_FRESH, NULL);
        if (!rc) {
            LOG_ERROR(&t->log, "queue %s is missing for a live tenant", queue);
            rc = unavailable(t, "the tenant's queue is missing");
        }
    } else if (outcome) {
        rc = unavailable(t, "the message broker refused the messages");
    }
    return rc;
}

int api_messages_publish(struct api_thread *t, struct mtm_request *r)
{
    const char *id = api_path_tenant(t, r);
    if (!id)
        return MTM_ENOTFOUND;
    const char *key = mtm_request_header(r, "Idempotency-Key");
    struct outgoing *o = NULL;
    size_t n = 0;
    struct tenant_facts facts;
    int rc = read_messages(t, r, key, &o, &n);
    if (!rc)
        rc = api_tenant_check(t, id, API_CHECK_DELETING, &facts);
    if (!rc)
        rc = take_tokens(t, id, &facts, n);
    if (!rc)
        rc = publish(t, r, id, o, n, key);
    if (!rc)
        answer_accepted(t, r, id, o, n);
    free_outgoing(o, n);
    return rc;
}
