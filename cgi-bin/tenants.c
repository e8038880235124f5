/*
 * tenants: the tenant resource.
 *
 *   POST   /api/tenants                              create (201 + Location)
 *   GET    /api/tenants                              keyset pages by creation
 *   GET    /api/tenants/{id}                         desired + live state
 *   DELETE /api/tenants/{id}                         mark deleting (202)
 *   PUT    /api/tenants/{id}/config/concurrency      resize (200)
 *   POST   /api/tenants/{id}/pause | /resume         (200)
 *
 * The responder writes desired state only; the trigger on `tenants`
 * notifies consumerd, which converges. Creation is the exception that
 * touches the broker: the tenant's queues are declared inside the creating
 * transaction, before COMMIT, so a 201 means the queues exist, and a broker
 * failure rolls the row and partition back (503).
 *
 * Ids that are not UUIDs are answered 404 before any SQL runs.
 */
#include "tenants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "auth.h"
#include "common.h"
#include "cursor.h"
#include "fields.h"
#include "json.h"
#include "problem.h"
#include "topology.h"
#include "uuid.h"

#define NAME_CHARS " ._-"

/* Loads one tenant and answers with it: 0, or a fault (404 when it is gone). */
static int respond_tenant(struct api_thread *t, struct mtm_request *r, int status, const char *id,
                          const struct mtm_header *extra, size_t nextra)
{
    char err[512];
    PGresult *res;
    const char *params[] = {id};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_TENANT_GET, params, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    struct mtm_buf out;
    mtm_buf_init(&out, 64 * 1024);
    if (PQntuples(res) == 0)
        rc = api_fail(t, MTM_ENOTFOUND, "no tenant %s", id);
    else if (mtm_json_compact_append(&out, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0)))
        rc = api_fail(t, MTM_EINTERNAL, "tenant %s too large to render", id);
    else
        mtm_respond(r, status, "application/json", extra, nextra, mtm_buf_cstr(&out), out.len);
    mtm_buf_cleanup(&out);
    PQclear(res);
    return rc;
}

/* Validates a create body: 0 and the values, or a 422 fault. A tenant
 * gets MTM_QUEUE_TYPE's queues unless the body names a queue_type. */
static int parse_create(struct api_thread *t, struct mtm_request *r, const char **name,
                        long *concurrency, enum mtm_queue_type *type)
{
    const struct mtm_config *cfg = t->ctx->cfg;
    const char *qtype = NULL;
    const struct mtm_field_rule rules[] = {
        {"name", MTM_FIELD_STRING, true, 1, 64, 0, NAME_CHARS, name},
        {"concurrency", MTM_FIELD_INT, false, 1, cfg->max_concurrency, cfg->default_concurrency,
         NULL, concurrency},
        {"queue_type", MTM_FIELD_STRING, false, 1, 16, 0, NULL, &qtype},
    };
    *name = NULL;
    *type = cfg->queue_type;
    int bad = mtm_fields_read(r->json, rules, 3, &t->fault);
    if (*name && ((*name)[0] == ' ' || (*name)[strlen(*name) - 1] == ' '))
        bad = mtm_fault_field(&t->fault, "name", "must not start or end with a space");
    if (qtype && mtm_queue_type_parse(qtype, type))
        bad = mtm_fault_field(&t->fault, "queue_type", "must be classic or quorum");
    return bad ? MTM_EINVAL : 0;
}

static void rollback(struct api_thread *t)
{
    char err[256];
    /* A failed ROLLBACK means the connection is gone, which rolls back too. */
    if (mtm_pg_connected(&t->pg) && mtm_pg_exec_fixed(&t->pg, "ROLLBACK", err, sizeof(err)))
        LOG_DEBUG(&t->log, "rollback: %s", err);
}

/*
 * Inside the open transaction: the row (consumerd makes its partition). 0 with the new
 * id, or a fault (409 for a taken name).
 */
static int insert_tenant(struct api_thread *t, const char *name, long concurrency,
                         enum mtm_queue_type type, char *id, size_t idlen)
{
    char err[512], conc[24];
    PGresult *res;
    snprintf(conc, sizeof(conc), "%ld", concurrency);
    const char *params[] = {name, conc, mtm_queue_type_name(type)};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_TENANT_INSERT, params, &res, err, sizeof(err));
    if (rc == MTM_ECONFLICT) {
        mtm_fault_field(&t->fault, "name", "is already taken");
        return api_fail(t, MTM_ECONFLICT, "a tenant named \"%s\" exists", name);
    }
    if (rc)
        return api_fail_db(t, rc, err);
    snprintf(id, idlen, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0; /* its partition is consumerd's to make (sql/0022_partition_attach.sql) */
}

/* The queues, then COMMIT: 0, or a 503 fault after removing any queue. */
static int declare_and_commit(struct api_thread *t, const char *id, enum mtm_queue_type type)
{
    char err[512], mq_err[512];
    int rc = 0;
    int mq = mtm_topology_declare(&t->amqp, id, type, t->ctx->cfg->classic_queue_version, mq_err,
                                  sizeof(mq_err));
    if (!mq)
        rc = mtm_pg_exec_fixed(&t->pg, "COMMIT", err, sizeof(err));
    if (!mq && !rc)
        return 0;
    char del_err[256];
    if (mtm_topology_delete(&t->amqp, id, del_err, sizeof(del_err)))
        LOG_WARN(&t->log, "tenant %s: queues may remain: %s", id, del_err);
    LOG_WARN(&t->log, "tenant create rolled back: %s", mq ? mq_err : err);
    return api_fail(t, MTM_EUNAVAIL, "%s is unavailable; the tenant was not created",
                    mq ? "the message broker" : "the database");
}

int api_tenant_create(struct api_thread *t, struct mtm_request *r)
{
    const char *name = NULL;
    long concurrency = 0;
    enum mtm_queue_type type;
    char err[512], id[MTM_UUID_STRLEN + 1];
    int rc = parse_create(t, r, &name, &concurrency, &type);
    if (rc)
        return rc;
    rc = mtm_pg_exec_fixed(&t->pg, "BEGIN", err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    rc = insert_tenant(t, name, concurrency, type, id, sizeof(id));
    if (!rc)
        rc = declare_and_commit(t, id, type);
    if (rc) {
        rollback(t);
        return rc;
    }
    t->log.tenant = id;
    char location[96];
    snprintf(location, sizeof(location), "/api/tenants/%s", id);
    struct mtm_header h = {"Location", location};
    struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "name", json_object_new_string(name));
    json_object_object_add(detail, "concurrency", json_object_new_int64(concurrency));
    json_object_object_add(detail, "queue_type", json_object_new_string(mtm_queue_type_name(type)));
    api_audit(t, r, t->who.sub, "tenant.create", id, detail);
    json_object_put(detail);
    rc = respond_tenant(t, r, 201, id, &h, 1);
    t->log.tenant = NULL; /* id is about to go out of scope */
    return rc;
}

int api_tenant_get(struct api_thread *t, struct mtm_request *r)
{
    const char *id = api_path_tenant(t, r);
    return id ? respond_tenant(t, r, 200, id, NULL, 0) : MTM_ENOTFOUND;
}

/*
 * ?name= (a part of the name, any case) and ?status= narrow the listing;
 * 0 with each filter or NULL, or a 422 fault naming the parameter.
 */
static int list_filters(struct api_thread *t, struct mtm_request *r, char *name, size_t namelen,
                        char *status, size_t statuslen, const char **name_out,
                        const char **status_out)
{
    int bad = 0;
    int rc = mtm_query_get(r->query, "name", name, namelen);
    *name_out = rc == 0 && name[0] ? name : NULL;
    if (rc && rc != MTM_ENOTFOUND)
        bad = mtm_fault_field(&t->fault, "name", "must be at most 64 bytes of text");
    rc = mtm_query_get(r->query, "status", status, statuslen);
    *status_out = rc == 0 && status[0] ? status : NULL;
    if ((rc && rc != MTM_ENOTFOUND) ||
        (*status_out && strcmp(status, "active") != 0 && strcmp(status, "paused") != 0 &&
         strcmp(status, "deleting") != 0))
        bad = mtm_fault_field(&t->fault, "status", "must be active, paused or deleting");
    return bad;
}

int api_tenant_list(struct api_thread *t, struct mtm_request *r)
{
    char err[512], name[65], status[16];
    const char *name_f, *status_f;
    long limit;
    int64_t after = 0;
    int rc = api_page_params(t, r, "t", API_SCOPE_ALL, &limit, &after);
    if (rc && rc != MTM_ENOTFOUND)
        return rc;
    rc = list_filters(t, r, name, sizeof(name), status, sizeof(status), &name_f, &status_f);
    if (rc)
        return rc;

    char after_s[24], limit_s[24];
    snprintf(after_s, sizeof(after_s), "%lld", (long long)after);
    snprintf(limit_s, sizeof(limit_s), "%ld", limit + 1); /* one extra: is there more? */
    const char *params[] = {after_s, limit_s, name_f, status_f};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, MTM_STMT_TENANT_LIST, params, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    rc = api_respond_page(t, r, res, limit, "t", API_SCOPE_ALL, API_ROWS_COMPACT);
    PQclear(res);
    return rc;
}

/*
 * Runs an UPDATE that skips tenants being deleted (params[0] is the tenant
 * id); when it touched a row, audits `action` with detail (taken over) and
 * answers the tenant, otherwise tells 404 (no such tenant) from 409 (being
 * deleted).
 */
static int update_then_respond(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                               const char *const *params, const char *action,
                               struct json_object *detail)
{
    const char *id = params[0];
    int touched;
    int rc = api_exec_rows(t, stmt, params, &touched);
    if (!rc && touched) {
        tenant_cache_forget(&t->ctx->tenants, id);
        api_audit(t, r, t->who.sub, action, id, detail);
        rc = respond_tenant(t, r, 200, id, NULL, 0);
    } else if (!rc) {
        rc = api_tenant_check(t, id, API_CHECK_DELETING | API_CHECK_FRESH, NULL);
        if (!rc)
            rc = api_fail(t, MTM_ECONFLICT, "tenant %s changed while being updated", id);
    }
    json_object_put(detail);
    return rc;
}

static struct json_object *detail_int(const char *key, long v)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, key, json_object_new_int64(v));
    return o;
}

int api_tenant_set_concurrency(struct api_thread *t, struct mtm_request *r)
{
    const char *id = api_path_tenant(t, r);
    if (!id)
        return MTM_ENOTFOUND;
    long n = 0;
    const struct mtm_field_rule rules[] = {
        {"concurrency", MTM_FIELD_INT, true, 1, t->ctx->cfg->max_concurrency, 0, NULL, &n},
    };
    if (mtm_fields_read(r->json, rules, 1, &t->fault))
        return MTM_EINVAL;
    char value[24];
    snprintf(value, sizeof(value), "%ld", n);
    const char *params[] = {id, value};
    return update_then_respond(t, r, MTM_STMT_TENANT_SET_CONCURRENCY, params, "tenant.concurrency",
                               detail_int("concurrency", n));
}

/*
 * PUT /api/tenants/{id}/config/rate_limit {"rate": n, "burst"?: m}
 * rate 0 means unlimited; "rate": null returns the tenant to the
 * installation's defaults; an absent burst follows MTM_PUBLISH_BURST.
 */
int api_tenant_set_rate(struct api_thread *t, struct mtm_request *r)
{
    static const char *const allowed[] = {"rate", "burst", NULL};
    const char *id = api_path_tenant(t, r);
    if (!id)
        return MTM_ENOTFOUND;
    long rate = 0, burst = 0;
    struct json_object *rv = NULL, *bv = NULL;
    struct mtm_fault *f = &t->fault;
    if (mtm_field_object(r->json, f))
        return MTM_EINVAL;
    int bad = mtm_fields_only(r->json, allowed, f);
    bool reset = json_object_object_get_ex(r->json, "rate", &rv) && rv == NULL;
    if (!reset)
        bad |= mtm_field_int(r->json, "rate", true, 0, 1000000, 0, &rate, f);
    if (json_object_object_get_ex(r->json, "burst", &bv) && (reset || bv == NULL))
        bad |= mtm_fault_field(f, "burst", "%s",
                               reset ? "cannot be set while resetting the rate"
                                     : "must be an integer from 1 to 10000000");
    else if (!reset)
        bad |= mtm_field_int(r->json, "burst", false, 1, 10000000, 0, &burst, f);
    if (bad)
        return MTM_EINVAL;
    char rs[24], bs[24];
    snprintf(rs, sizeof(rs), "%ld", rate);
    snprintf(bs, sizeof(bs), "%ld", burst);
    /* NULL parameters store NULL: the installation's defaults apply. */
    const char *params[] = {id, reset ? NULL : rs, burst ? bs : NULL};
    struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "rate", reset ? NULL : json_object_new_int64(rate));
    json_object_object_add(detail, "burst", burst ? json_object_new_int64(burst) : NULL);
    return update_then_respond(t, r, MTM_STMT_TENANT_SET_RATE, params, "tenant.rate_limit", detail);
}

static int set_status(struct api_thread *t, struct mtm_request *r, const char *status,
                      const char *action)
{
    const char *id = api_path_tenant(t, r);
    if (!id)
        return MTM_ENOTFOUND;
    const char *params[] = {id, status};
    return update_then_respond(t, r, MTM_STMT_TENANT_SET_STATUS, params, action, NULL);
}

int api_tenant_pause(struct api_thread *t, struct mtm_request *r)
{
    return set_status(t, r, "paused", "tenant.pause");
}

int api_tenant_resume(struct api_thread *t, struct mtm_request *r)
{
    return set_status(t, r, "active", "tenant.resume");
}

int api_tenant_delete(struct api_thread *t, struct mtm_request *r)
{
    char err[512];
    const char *id = api_path_tenant(t, r);
    if (!id)
        return MTM_ENOTFOUND;
    const char *params[] = {id};
    int touched;
    int rc = api_exec_rows(t, MTM_STMT_TENANT_MARK_DELETING, params, &touched);
    if (rc)
        return rc;
    if (!touched)
        return api_fail(t, MTM_ENOTFOUND, "no tenant %s", id);
    tenant_cache_forget(&t->ctx->tenants, id);
    httpmetrics_forget(&t->ctx->metrics, id);
    /* Its tokens die with it at once; the rows go when consumerd removes
     * the tenant (ON DELETE CASCADE). */
    if (mtm_pg_exec(&t->pg, MTM_STMT_TOKENS_REVOKE_TENANT, params, NULL, err, sizeof(err)))
        LOG_WARN(&t->log, "tenant %s: tokens not revoked yet: %s", id, err);
    api_audit(t, r, t->who.sub, "tenant.delete", id, NULL);
    return respond_tenant(t, r, 202, id, NULL, 0);
}

int api_overview(struct api_thread *t, struct mtm_request *r)
{
    char err[512];
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_OVERVIEW, NULL, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    int64_t v[9];
    for (int i = 0; i < 9; i++)
        v[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
    PQclear(res);
    struct json_object *o = json_object_new_object(), *tn = json_object_new_object(),
                       *w = json_object_new_object();
    json_object_object_add(tn, "total", json_object_new_int64(v[0]));
    json_object_object_add(tn, "active", json_object_new_int64(v[1]));
    json_object_object_add(tn, "paused", json_object_new_int64(v[2]));
    json_object_object_add(tn, "deleting", json_object_new_int64(v[3]));
    json_object_object_add(o, "tenants", tn);
    json_object_object_add(o, "queue_depth", json_object_new_int64(v[4]));
    json_object_object_add(o, "dlq_depth", json_object_new_int64(v[5]));
    json_object_object_add(w, "configured", json_object_new_int64(v[6]));
    json_object_object_add(w, "running", json_object_new_int64(v[7]));
    json_object_object_add(w, "busy", json_object_new_int64(v[8]));
    json_object_object_add(o, "workers", w);
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
    return 0;
}
