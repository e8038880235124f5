/*
 * dlq: a tenant's dead letters.
 *
 *   GET    /api/tenants/{id}/dlq            keyset pages, ?order= as for messages
 *   POST   /api/tenants/{id}/dlq/replay     {"ids": [...]} or no body: all
 *   DELETE /api/tenants/{id}/dlq            purge
 *
 * Replay republishes each dead letter to the tenant's queue as it arrived
 * (same message id, producer headers, publish time and trace context, with
 * the attempt count reset) with publisher confirms, and only then deletes
 * it. The delete matches the dead letter's last_failed_at as read, so a
 * message that fails again and is dead-lettered anew while the replay runs
 * is not deleted by mistake. A crash between confirm and delete leaves the
 * dead letter in place and the message on the queue; storing is idempotent
 * on the id, so a second replay cannot store it twice.
 *
 * "All" means the dead letters present when the replay starts (up to the
 * largest seq seen then). Either way rows are taken in seq order,
 * REPLAY_CHUNK at a time and at most about REPLAY_BYTES of bodies per
 * chunk, so a replay holds a bounded amount of memory however many and
 * however large the dead letters are.
 */
#include "dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "common.h"
#include "fields.h"
#include "hex.h"
#include "message.h"
#include "problem.h"
#include "topology.h"
#include "xalloc.h"

#define REPLAY_CHUNK 200
#define REPLAY_BYTES (8 * 1024 * 1024) /* of bodies in memory at once */

int api_dlq_list(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    if (!tenant)
        return MTM_ENOTFOUND;
    bool asc;
    int rc = api_order_param(t, r, false, &asc);
    if (rc)
        return rc;
    return api_list_page(t, r, asc ? MTM_STMT_DLQ_PAGE_ASC : MTM_STMT_DLQ_PAGE_DESC, tenant,
                         asc ? "da" : "dd", asc ? 0 : INT64_MAX);
}

int api_dlq_purge(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    if (!tenant)
        return MTM_ENOTFOUND;
    int rc = api_tenant_check(t, tenant, 0, NULL);
    if (rc)
        return rc;
    char err[512];
    const char *params[] = {tenant};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_PURGE, params, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "purged", json_object_new_int64(strtoll(PQcmdTuples(res), NULL, 10)));
    PQclear(res);
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
    return 0;
}

/* One dead letter turned back into a message. */
struct replay {
    char *body; /* owned, decoded */
    size_t len;
    struct json_object *props; /* owned */
    amqp_table_entry_t entries[MTM_MESSAGE_TABLE_MAX];
};

/* Decodes PostgreSQL's encode(body, 'hex'); bodies run to MTM_MAX_BODY. */
static int unhex(const char *hex, char **out, size_t *len)
{
    size_t n = strlen(hex);
    char *b = xmalloc(n / 2 + 1);
    if (mtm_hex_decode(hex, n, (unsigned char *)b)) {
        free(b);
        return MTM_EPARSE;
    }
    *out = b;
    *len = n / 2;
    return 0;
}

static const char *prop_str(struct json_object *props, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(props, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Builds the AMQP message for row i of a DLQ_TAKE result. */
static int build(PGresult *res, int i, struct replay *rp, struct mtm_amqp_message *m)
{
    memset(rp, 0, sizeof(*rp));
    if (unhex(PQgetvalue(res, i, 2), &rp->body, &rp->len))
        return MTM_EPARSE;
    rp->props = json_tokener_parse(PQgetvalue(res, i, 3));
    struct json_object *pub;
    struct mtm_message_headers h = {
        .published_at_ms = json_object_object_get_ex(rp->props, "published_at_ms", &pub)
                               ? json_object_get_int64(pub)
                               : 0,
        .headers_json = prop_str(rp->props, "headers_json"),
        .traceparent = prop_str(rp->props, "traceparent"),
    };
    int n = mtm_message_table(&h, NULL, rp->entries);
    m->body = rp->body;
    m->len = rp->len;
    /* A foreign message that had no id was dead-lettered under a new one;
     * it keeps that id from now on, so it can be stored if it is valid. */
    mtm_message_props(&m->props, PQgetvalue(res, i, 1), h.published_at_ms, rp->entries, n);
    return 0;
}

/*
 * Republishes the rows of res and deletes the confirmed ones: 0 with
 * *done set to how many, or a fault. A fault leaves the dead letters that
 * were not confirmed in place.
 */
static int replay_rows(struct api_thread *t, const char *tenant, PGresult *res, long *done)
{
    int n = PQntuples(res);
    *done = 0;
    if (n == 0)
        return 0;
    char queue[MTM_QUEUE_NAME_MAX], err[512];
    if (mtm_queue_name(tenant, MTM_QUEUE_MAIN, queue))
        return api_fail(t, MTM_EINTERNAL, "no queue name for tenant %s", tenant);
    struct replay *rps = xcalloc((size_t)n, sizeof(*rps));
    struct mtm_amqp_message *msgs = xcalloc((size_t)n, sizeof(*msgs));
    int rc = 0;
    for (int i = 0; !rc && i < n; i++)
        if (build(res, i, &rps[i], &msgs[i]))
            rc = api_fail(t, MTM_EINTERNAL, "dead letter %s cannot be decoded",
                          PQgetvalue(res, i, 1));
    /* retries once on a connection that died (publisher.h) */
    if (!rc && mtm_publisher_publish(t->ctx->publisher, "", queue, msgs, (size_t)n, 5000, err,
                                     sizeof(err))) {
        LOG_WARN(&t->log, "replay publish: %s", err);
        rc = api_fail(t, MTM_EUNAVAIL,
                      "the message broker is unavailable; "
                      "dead letters not confirmed stay in place");
    }
    struct json_object *del = json_object_new_array();
    for (int i = 0; !rc && i < n; i++) {
        if (msgs[i].outcome)
            continue;
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "id", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(e, "at", json_object_new_string(PQgetvalue(res, i, 4)));
        json_object_array_add(del, e);
        ++*done;
    }
    if (!rc && *done) {
        const char *params[] = {tenant, json_object_to_json_string(del)};
        int prc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_DELETE_EXACT, params, NULL, err, sizeof(err));
        if (prc)
            rc = api_fail_db(t, prc, err);
    }
    /* Some were refused: the queue vanished (a tenant being deleted, which
     * the check answers with 409) or the broker nacked. */
    if (!rc && *done < n) {
        rc = api_tenant_check(t, tenant, API_CHECK_DELETING | API_CHECK_FRESH, NULL);
        if (!rc)
            rc = api_fail(t, MTM_EAMQP, "the broker refused some messages; retry the replay");
    }
    json_object_put(del);
    for (int i = 0; i < n; i++) {
        free(rps[i].body);
        json_object_put(rps[i].props);
    }
    free(rps);
    free(msgs);
    return rc;
}

static int parse_ids(struct api_thread *t, struct mtm_request *r, struct json_object **ids)
{
    static const char *const allowed[] = {"ids", NULL};
    *ids = NULL;
    if (r->body.len == 0)
        return 0;
    char err[256];
    if (mtm_request_parse_json(r, err, sizeof(err)))
        return api_fail(t, MTM_EPARSE, "%s", err);
    struct json_object *v;
    int bad = mtm_field_object(r->json, &t->fault);
    if (!bad)
        bad = mtm_fields_only(r->json, allowed, &t->fault);
    if (!bad && json_object_object_get_ex(r->json, "ids", &v)) {
        size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
        bad = n < 1 || n > API_PAGE_MAX;
        for (size_t i = 0; !bad && i < n; i++) {
            struct json_object *id = json_object_array_get_idx(v, i);
            bad = !json_object_is_type(id, json_type_string) ||
                  json_object_get_string_len(id) < 1 ||
                  json_object_get_string_len(id) > MTM_MESSAGE_ID_MAX;
        }
        if (bad)
            mtm_fault_field(&t->fault, "ids", "must be an array of 1 to %d message ids",
                            API_PAGE_MAX);
        else
            *ids = v;
    }
    return bad ? MTM_EINVAL : 0;
}

/* Takes the next chunk of dead letters after `after`; 0, or a fault. */
static int take_chunk(struct api_thread *t, const char *tenant, const char *after, const char *upto,
                      const char *ids, PGresult **res)
{
    char err[512], chunk[16], budget[24];
    snprintf(chunk, sizeof(chunk), "%d", REPLAY_CHUNK);
    snprintf(budget, sizeof(budget), "%d", REPLAY_BYTES);
    const char *params[] = {tenant, after, upto, chunk, budget, ids};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_TAKE, params, res, err, sizeof(err));
    return rc ? api_fail_db(t, rc, err) : 0;
}

/* The seq of the tenant's newest dead letter now, into upto: 0, or a fault. */
static int replay_upto(struct api_thread *t, const char *tenant, char *upto, size_t len)
{
    char err[512];
    PGresult *res;
    const char *p1[] = {tenant};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_MAX_SEQ, p1, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    snprintf(upto, len, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* {"replayed": n[, "not_found": [the ids asked for that were not there]]} */
static void answer_replay(struct mtm_request *r, long total, struct json_object *ids,
                          struct json_object *found)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "replayed", json_object_new_int64(total));
    if (ids) {
        struct json_object *missing = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(ids); i++) {
            const char *want = json_object_get_string(json_object_array_get_idx(ids, i));
            if (!json_object_object_get_ex(found, want, NULL))
                json_object_array_add(missing, json_object_new_string(want));
        }
        json_object_object_add(o, "not_found", missing);
    }
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
}

int api_dlq_replay(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    if (!tenant)
        return MTM_ENOTFOUND;
    struct json_object *ids;
    int rc = parse_ids(t, r, &ids);
    if (!rc)
        rc = api_tenant_check(t, tenant, API_CHECK_DELETING, NULL);
    char upto[24] = "9223372036854775807", after[24] = "0";
    /* "All" is what is there now: later dead letters wait for the next replay. */
    if (!rc && !ids)
        rc = replay_upto(t, tenant, upto, sizeof(upto));
    if (rc)
        return rc;

    const char *ids_text = ids ? json_object_to_json_string(ids) : NULL;
    struct json_object *found = json_object_new_object();
    long total = 0;
    PGresult *res;
    while (!(rc = take_chunk(t, tenant, after, upto, ids_text, &res))) {
        int n = PQntuples(res);
        long read = n ? strtol(PQgetvalue(res, 0, 5), NULL, 10) : 0, got;
        for (int i = 0; ids && i < n; i++)
            json_object_object_add(found, PQgetvalue(res, i, 1), NULL);
        if (n)
            snprintf(after, sizeof(after), "%s", PQgetvalue(res, n - 1, 0));
        rc = replay_rows(t, tenant, res, &got);
        PQclear(res);
        if (rc)
            break;
        total += got;
        /* Done when the chunk was neither full nor cut by the byte budget. */
        if (read < REPLAY_CHUNK && n == read)
            break;
    }
    if (!rc)
        answer_replay(r, total, ids, found);
    json_object_put(found);
    return rc;
}
