/*
 * common: answers and checks that several resources share.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cursor.h"
#include "fields.h"
#include "problem.h"
#include "timeutil.h"
#include "uuid.h"

void api_respond_db_error(struct api_thread *t, struct mtm_request *r, int rc, const char *err)
{
    struct mtm_log_ctx log = t->log;
    log.request_id = r->request_id;
    if (rc == MTM_EUNAVAIL || rc == MTM_ETIMEOUT) {
        LOG_WARN(&log, "%s", err);
        struct mtm_header h = {"Retry-After", "2"};
        struct json_object *p = mtm_problem_new(503, "the database is unavailable");
        mtm_respond_problem(r, p, &h, 1);
        json_object_put(p);
        return;
    }
    LOG_ERROR(&log, "%s", err);
    mtm_respond_error(r, 500, "internal error (request %s)", r->request_id);
}

void api_respond_invalid(struct mtm_request *r, struct json_object *problem)
{
    json_object_object_add(problem, "detail",
                           json_object_new_string("the request has invalid fields"));
    mtm_respond_problem(r, problem, NULL, 0);
}

const char *api_path_tenant(struct mtm_request *r)
{
    const char *id = r->params[0];
    if (!mtm_uuid_valid(id)) {
        mtm_respond_error(r, 404, "no tenant %.64s", id);
        return NULL;
    }
    return id;
}

/* Reads the tenant's row; 0 with *f filled, MTM_ENOTFOUND, or the
 * database's error (answered). */
static int read_facts(struct api_thread *t, struct mtm_request *r, const char *id,
                      struct tenant_facts *f)
{
    char err[512];
    PGresult *res;
    const char *params[] = {id};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_TENANT_STATE, params, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return rc;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return MTM_ENOTFOUND;
    }
    const struct mtm_config *cfg = t->ctx->cfg;
    f->deleting = strcmp(PQgetvalue(res, 0, 0), "deleting") == 0;
    f->rate =
        PQgetisnull(res, 0, 1) ? cfg->publish_rate : (int)strtol(PQgetvalue(res, 0, 1), NULL, 10);
    f->burst =
        PQgetisnull(res, 0, 2) ? cfg->publish_burst : (int)strtol(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    return 0;
}

int api_tenant_check(struct api_thread *t, struct mtm_request *r, const char *id, unsigned flags,
                     struct tenant_facts *facts)
{
    struct tenant_cache *cache = &t->ctx->tenants;
    struct tenant_facts f;
    /* One clock reading: an entry's age counts from before its read began. */
    int64_t now = mtm_mono_ms();
    if (flags & API_CHECK_FRESH)
        tenant_cache_forget(cache, id);
    if (!tenant_cache_get(cache, id, now, &f)) {
        uint64_t generation = tenant_cache_generation(cache);
        int rc = read_facts(t, r, id, &f);
        if (rc == MTM_ENOTFOUND)
            mtm_respond_error(r, 404, "no tenant %s", id);
        if (rc)
            return rc;
        tenant_cache_put(cache, id, &f, generation, now);
    }
    if ((flags & API_CHECK_DELETING) && f.deleting) {
        mtm_respond_error(r, 409, "tenant %s is being deleted", id);
        return MTM_ECONFLICT;
    }
    if (facts)
        *facts = f;
    return 0;
}

void api_respond_page(struct api_thread *t, struct mtm_request *r, PGresult *res, long limit,
                      const char *kind, const char *scope)
{
    struct mtm_buf out;
    int rows = PQntuples(res);
    long read = PQnfields(res) > 2 && rows ? strtol(PQgetvalue(res, 0, 2), NULL, 10) : rows;
    int shown = 0;
    int rc = 0;

    /* Room for the envelope, and for one row of any size. */
    mtm_buf_init(&out, API_PAGE_BYTES + (rows ? (size_t)PQgetlength(res, 0, 1) : 0) + 256);
    rc = mtm_buf_puts(&out, "{\"data\":[");
    for (; !rc && shown < rows && shown < limit; shown++) {
        size_t len = (size_t)PQgetlength(res, shown, 1);
        if (shown && out.len + len + 128 > API_PAGE_BYTES)
            break;
        if (shown)
            rc = mtm_buf_puts(&out, ",");
        if (!rc)
            rc = mtm_buf_append(&out, PQgetvalue(res, shown, 1), len);
    }
    if (!rc)
        rc = mtm_buf_puts(&out, "],\"next_cursor\":");
    if (!rc && (shown < rows || read > shown)) {
        char enc[MTM_CURSOR_MAX];
        int64_t last = strtoll(PQgetvalue(res, shown - 1, 0), NULL, 10);
        rc = mtm_cursor_encode(&t->ctx->cursor_key, kind, scope, last, enc, sizeof(enc));
        if (!rc)
            rc = mtm_buf_printf(&out, "\"%s\"}", enc);
    } else if (!rc) {
        rc = mtm_buf_puts(&out, "null}");
    }
    if (rc) {
        LOG_ERROR(&t->log, "page too large to render: %s", mtm_strerror(rc));
        mtm_respond_error(r, 500, "internal error (request %s)", r->request_id);
    } else {
        mtm_respond(r, 200, "application/json", NULL, 0, mtm_buf_cstr(&out), out.len);
    }
    mtm_buf_cleanup(&out);
}

int api_page_params(struct api_thread *t, struct mtm_request *r, const char *kind,
                    const char *scope, long *limit, int64_t *after)
{
    char cursor[MTM_CURSOR_MAX + 1];
    struct json_object *p = mtm_problem_new(422, "invalid");
    if (mtm_query_int(r->query, "limit", 1, API_PAGE_MAX, API_PAGE_DEFAULT, limit, p)) {
        api_respond_invalid(r, p);
        json_object_put(p);
        return MTM_EINVAL;
    }
    json_object_put(p);
    int rc = mtm_query_get(r->query, "cursor", cursor, sizeof(cursor));
    if (rc == MTM_ENOTFOUND)
        return MTM_ENOTFOUND;
    if (rc || mtm_cursor_decode(&t->ctx->cursor_key, kind, scope, cursor, after)) {
        struct json_object *bp = mtm_problem_new(400, "the cursor is not valid");
        mtm_problem_add_field(bp, "cursor", "is not a cursor this listing issued");
        mtm_respond_problem(r, bp, NULL, 0);
        json_object_put(bp);
        return MTM_EPARSE;
    }
    return 0;
}

void api_list_page(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                   const char *tenant, const char *kind, int64_t first_after)
{
    long limit;
    int64_t after = first_after;
    const char *scope = tenant ? tenant : API_SCOPE_ALL;
    int rc = api_page_params(t, r, kind, scope, &limit, &after);
    if (rc && rc != MTM_ENOTFOUND)
        return;
    if (tenant && api_tenant_check(t, r, tenant, 0, NULL))
        return;
    char after_s[24], limit_s[24], budget_s[24], err[512];
    snprintf(after_s, sizeof(after_s), "%lld", (long long)after);
    snprintf(limit_s, sizeof(limit_s), "%ld", limit + 1); /* one extra: is there more? */
    snprintf(budget_s, sizeof(budget_s), "%d", API_PAGE_BYTES);
    const char *with_tenant[] = {tenant, after_s, limit_s, budget_s};
    const char *without[] = {after_s, limit_s, budget_s};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, stmt, tenant ? with_tenant : without, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    api_respond_page(t, r, res, limit, kind, scope);
    PQclear(res);
}

int api_order_param(struct mtm_request *r, bool default_asc, bool *asc)
{
    char order[8];
    snprintf(order, sizeof(order), "%s", default_asc ? "asc" : "desc");
    int rc = mtm_query_get(r->query, "order", order, sizeof(order));
    if (rc != MTM_ENOTFOUND && (rc || (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0))) {
        struct json_object *p = mtm_problem_new(422, "invalid");
        mtm_problem_add_field(p, "order", "must be asc or desc");
        api_respond_invalid(r, p);
        json_object_put(p);
        return MTM_EINVAL;
    }
    *asc = strcmp(order, "asc") == 0;
    return 0;
}

int api_exec_rows(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                  const char *const *params)
{
    char err[512];
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, stmt, params, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return -1;
    }
    int rows = PQntuples(res);
    PQclear(res);
    return rows;
}
