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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fields.h"
#include "hex.h"
#include "message.h"
#include "problem.h"
#include "topology.h"
#include "xalloc.h"

#define REPLAY_CHUNK 200
#define REPLAY_BYTES (8 * 1024 * 1024) /* of bodies in memory at once */

void api_dlq_list(void *vt, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(r);
    bool asc;
    if (!tenant || api_order_param(r, false, &asc))
        return;
    api_list_page(vt, r, asc ? MTM_STMT_DLQ_PAGE_ASC : MTM_STMT_DLQ_PAGE_DESC, tenant,
                  asc ? "da" : "dd", asc ? 0 : INT64_MAX);
}

void api_dlq_purge(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    const char *tenant = api_path_tenant(r);
    if (!tenant || api_tenant_check(t, r, tenant, 0, NULL))
        return;
    char err[512];
    const char *params[] = {tenant};
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_PURGE, params, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "purged", json_object_new_int64(strtoll(PQcmdTuples(res), NULL, 10)));
    PQclear(res);
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
}

/* One dead letter turned back into a message. */
struct replay {
    char *body; /* owned, decoded */
    size_t len;
    struct json_object *props; /* owned */
    char *headers_json;        /* borrowed from props */
    amqp_table_entry_t entries[3];
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
        return MTM_EINTERNAL;
    rp->props = json_tokener_parse(PQgetvalue(res, i, 3));
    const char *id = PQgetvalue(res, i, 1);
    struct json_object *pub;
    int64_t published = json_object_object_get_ex(rp->props, "published_at_ms", &pub)
                            ? json_object_get_int64(pub)
                            : 0;
    size_t ne = 0;
    if (published > 0) {
        rp->entries[ne].key = amqp_cstring_bytes(MTM_HDR_PUBLISHED_AT);
        rp->entries[ne].value.kind = AMQP_FIELD_KIND_I64;
        rp->entries[ne++].value.value.i64 = published;
    }
    const char *h = prop_str(rp->props, "headers_json");
    if (h) {
        rp->entries[ne].key = amqp_cstring_bytes(MTM_HDR_HEADERS);
        rp->entries[ne].value.kind = AMQP_FIELD_KIND_UTF8;
        rp->entries[ne++].value.value.bytes = amqp_cstring_bytes(h);
    }
    const char *tp = prop_str(rp->props, "traceparent");
    if (tp) {
        rp->entries[ne].key = amqp_cstring_bytes(MTM_HDR_TRACEPARENT);
        rp->entries[ne].value.kind = AMQP_FIELD_KIND_UTF8;
        rp->entries[ne++].value.value.bytes = amqp_cstring_bytes(tp);
    }
    m->body = rp->body;
    m->len = rp->len;
    m->props._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
    m->props.content_type = amqp_cstring_bytes("application/json");
    /* A foreign message that had no id was dead-lettered under a new one;
     * it keeps that id from now on, so it can be stored if it is valid. */
    m->props.message_id = amqp_cstring_bytes(id);
    m->props.headers.num_entries = (int)ne;
    m->props.headers.entries = rp->entries;
    return 0;
}

/*
 * Republishes the rows of res and deletes the confirmed ones.
 * Returns the number replayed, or a negative error after answering.
 */
static long replay_rows(struct api_thread *t, struct mtm_request *r, const char *tenant,
                        PGresult *res)
{
    int n = PQntuples(res);
    if (n == 0)
        return 0;
    char queue[MTM_QUEUE_NAME_MAX], err[512];
    if (mtm_queue_name(tenant, MTM_QUEUE_MAIN, queue))
        return MTM_EINVAL;
    struct replay *rps = xcalloc((size_t)n, sizeof(*rps));
    struct mtm_amqp_message *msgs = xcalloc((size_t)n, sizeof(*msgs));
    int rc = 0;
    for (int i = 0; !rc && i < n; i++)
        rc = build(res, i, &rps[i], &msgs[i]);
    if (!rc) /* retries once on a connection that died while idle (amqp.h) */
        rc = mtm_amqp_publish_confirmed(&t->amqp, "", queue, msgs, (size_t)n, 5000, err,
                                        sizeof(err));
    long done = 0;
    struct json_object *del = json_object_new_array();
    for (int i = 0; !rc && i < n; i++) {
        if (msgs[i].outcome)
            continue;
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "id", json_object_new_string(PQgetvalue(res, i, 1)));
        json_object_object_add(e, "at", json_object_new_string(PQgetvalue(res, i, 4)));
        json_object_array_add(del, e);
        done++;
    }
    if (!rc && done) {
        const char *params[] = {tenant, json_object_to_json_string(del)};
        rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_DELETE_EXACT, params, NULL, err, sizeof(err));
        if (rc) {
            api_respond_db_error(t, r, rc, err);
            done = rc;
        }
    } else if (rc) {
        LOG_WARN(&t->log, "replay publish: %s", err);
        struct mtm_header h = {"Retry-After", "2"};
        struct json_object *p = mtm_problem_new(503, "the message broker is unavailable; "
                                                     "dead letters not confirmed stay in place");
        mtm_respond_problem(r, p, &h, 1);
        json_object_put(p);
        done = rc;
    }
    if (done >= 0 && done < n) {
        /* Some were refused: the queue vanished (tenant being deleted,
         * which api_tenant_check answers with 409) or the broker nacked. */
        if (api_tenant_check(t, r, tenant, API_CHECK_DELETING | API_CHECK_FRESH, NULL) == 0) {
            struct mtm_header h = {"Retry-After", "2"};
            struct json_object *p =
                mtm_problem_new(503, "the broker refused some messages; retry the replay");
            mtm_respond_problem(r, p, &h, 1);
            json_object_put(p);
        }
        done = MTM_EAMQP;
    }
    json_object_put(del);
    for (int i = 0; i < n; i++) {
        free(rps[i].body);
        json_object_put(rps[i].props);
    }
    free(rps);
    free(msgs);
    return done;
}

static int parse_ids(struct mtm_request *r, struct json_object **ids)
{
    static const char *const allowed[] = {"ids", NULL};
    *ids = NULL;
    if (r->body.len == 0)
        return 0;
    char err[256];
    if (mtm_request_parse_json(r, err, sizeof(err))) {
        mtm_respond_error(r, 400, "%s", err);
        return MTM_EPARSE;
    }
    struct json_object *p = mtm_problem_new(422, "invalid"), *v;
    int bad = mtm_field_object(r->json, p);
    if (!bad)
        bad = mtm_fields_only(r->json, allowed, p);
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
            mtm_problem_add_field(p, "ids", "must be an array of 1 to 1000 message ids");
        else
            *ids = v;
    }
    if (bad)
        api_respond_invalid(r, p);
    json_object_put(p);
    return bad ? MTM_EINVAL : 0;
}

/* Takes the next chunk of dead letters after *after; 0, or answered. */
static int take_chunk(struct api_thread *t, struct mtm_request *r, const char *tenant,
                      const char *after, const char *upto, const char *ids, PGresult **res)
{
    char err[512], chunk[16], budget[24];
    snprintf(chunk, sizeof(chunk), "%d", REPLAY_CHUNK);
    snprintf(budget, sizeof(budget), "%d", REPLAY_BYTES);
    const char *params[] = {tenant, after, upto, chunk, budget, ids};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_TAKE, params, res, err, sizeof(err));
    if (rc)
        api_respond_db_error(t, r, rc, err);
    return rc;
}

void api_dlq_replay(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    const char *tenant = api_path_tenant(r);
    if (!tenant)
        return;
    struct json_object *ids;
    if (parse_ids(r, &ids) || api_tenant_check(t, r, tenant, API_CHECK_DELETING, NULL))
        return;

    char err[512], upto[24] = "9223372036854775807", after[24] = "0";
    PGresult *res;
    if (!ids) {
        /* "All" is what is there now: later dead letters wait for the next replay. */
        const char *p1[] = {tenant};
        int rc = mtm_pg_exec(&t->pg, MTM_STMT_DLQ_MAX_SEQ, p1, &res, err, sizeof(err));
        if (rc) {
            api_respond_db_error(t, r, rc, err);
            return;
        }
        snprintf(upto, sizeof(upto), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    const char *ids_text = ids ? json_object_to_json_string(ids) : NULL;
    struct json_object *found = json_object_new_object();
    long total = 0;
    for (;;) {
        if (take_chunk(t, r, tenant, after, upto, ids_text, &res)) {
            json_object_put(found);
            return;
        }
        int n = PQntuples(res);
        long read = n ? strtol(PQgetvalue(res, 0, 5), NULL, 10) : 0;
        for (int i = 0; ids && i < n; i++)
            json_object_object_add(found, PQgetvalue(res, i, 1), NULL);
        if (n)
            snprintf(after, sizeof(after), "%s", PQgetvalue(res, n - 1, 0));
        long got = replay_rows(t, r, tenant, res);
        PQclear(res);
        if (got < 0) {
            json_object_put(found);
            return;
        }
        total += got;
        /* Done when the chunk was neither full nor cut by the byte budget. */
        if (read < REPLAY_CHUNK && n == read)
            break;
    }
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
    json_object_put(found);
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
}
