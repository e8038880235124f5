/*
 * common: answers and checks that several resources share.
 */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "cursor.h"
#include "fields.h"
#include "json.h"
#include "problem.h"
#include "timeutil.h"
#include "uuid.h"

const char *api_path_tenant(struct api_thread *t, struct mtm_request *r)
{
    const char *id = r->params[0];
    if (!mtm_uuid_valid(id)) {
        api_fail(t, MTM_ENOTFOUND, "no tenant %.64s", id);
        return NULL;
    }
    t->log.tenant = id;
    return id;
}

/* Reads the tenant's row; 0 with *f filled, or a fault (404, the
 * database's error). */
static int read_facts(struct api_thread *t, const char *id, struct tenant_facts *f)
{
    char err[512];
    PGresult *res;
    const char *params[] = {id};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_TENANT_STATE, params, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return api_fail(t, MTM_ENOTFOUND, "no tenant %s", id);
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

int api_tenant_check(struct api_thread *t, const char *id, unsigned flags,
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
        int rc = read_facts(t, id, &f);
        if (rc)
            return rc;
        tenant_cache_put(cache, id, &f, generation, now);
    }
    if ((flags & API_CHECK_DELETING) && f.deleting)
        return api_fail(t, MTM_ECONFLICT, "tenant %s is being deleted", id);
    if (facts)
        *facts = f;
    return 0;
}

int api_respond_page(struct api_thread *t, struct mtm_request *r, PGresult *res, long limit,
                     const char *kind, const char *scope, enum api_rows as)
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
        if (!rc && as == API_ROWS_COMPACT)
            rc = mtm_json_compact_append(&out, PQgetvalue(res, shown, 1), len);
        else if (!rc)
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
    if (rc)
        api_fail(t, MTM_EINTERNAL, "page too large to render: %s", mtm_strerror(rc));
    else
        mtm_respond(r, 200, "application/json", NULL, 0, mtm_buf_cstr(&out), out.len);
    mtm_buf_cleanup(&out);
    return rc ? MTM_EINTERNAL : 0;
}

int api_page_params(struct api_thread *t, struct mtm_request *r, const char *kind,
                    const char *scope, long *limit, int64_t *after)
{
    char cursor[MTM_CURSOR_MAX + 1];
    if (mtm_query_int(r->query, "limit", 1, API_PAGE_MAX, API_PAGE_DEFAULT, limit, &t->fault))
        return MTM_EINVAL;
    int rc = mtm_query_get(r->query, "cursor", cursor, sizeof(cursor));
    if (rc == MTM_ENOTFOUND)
        return MTM_ENOTFOUND;
    if (rc || mtm_cursor_decode(&t->ctx->cursor_key, kind, scope, cursor, after)) {
        api_fail(t, MTM_EPARSE, "the cursor is not valid");
        mtm_fault_field(&t->fault, "cursor", "is not a cursor this listing issued");
        return MTM_EPARSE;
    }
    return 0;
}

int api_list_page(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                  const char *tenant, const char *kind, int64_t first_after)
{
    long limit;
    int64_t after = first_after;
    const char *scope = tenant ? tenant : API_SCOPE_ALL;
    int rc = api_page_params(t, r, kind, scope, &limit, &after);
    if (rc && rc != MTM_ENOTFOUND)
        return rc;
    if (tenant && (rc = api_tenant_check(t, tenant, 0, NULL)))
        return rc;
    char after_s[24], limit_s[24], budget_s[24], err[512];
    snprintf(after_s, sizeof(after_s), "%lld", (long long)after);
    snprintf(limit_s, sizeof(limit_s), "%ld", limit + 1); /* one extra: is there more? */
    snprintf(budget_s, sizeof(budget_s), "%d", API_PAGE_BYTES);
    const char *with_tenant[] = {tenant, after_s, limit_s, budget_s};
    const char *without[] = {after_s, limit_s, budget_s};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, stmt, tenant ? with_tenant : without, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    rc = api_respond_page(t, r, res, limit, kind, scope, API_ROWS_VERBATIM);
    PQclear(res);
    return rc;
}

int api_order_param(struct api_thread *t, struct mtm_request *r, bool default_asc, bool *asc)
{
    char order[8];
    snprintf(order, sizeof(order), "%s", default_asc ? "asc" : "desc");
    int rc = mtm_query_get(r->query, "order", order, sizeof(order));
    if (rc != MTM_ENOTFOUND && (rc || (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)))
        return mtm_fault_field(&t->fault, "order", "must be asc or desc");
    *asc = strcmp(order, "asc") == 0;
    return 0;
}

int api_exec_rows(struct api_thread *t, enum mtm_stmt stmt, const char *const *params, int *rows)
{
    char err[512];
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, stmt, params, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    *rows = PQntuples(res);
    PQclear(res);
    return 0;
}
