/*
 * reading: message pages.
 *
 *   GET /api/messages?tenant_id=&cursor=&limit=&order=
 *   GET /api/tenants/{id}/messages?cursor=&limit=&order=
 *
 * Keyset pages over (tenant_id, seq): the cost of a page does not depend
 * on its depth, and because a tenant's inserts are serialised
 * (sql/0006_store_messages.sql), seq order is commit order, so a cursor
 * never skips or repeats a row while inserts go on. `order` is desc
 * (newest first, the default) or asc; a cursor remembers its direction and
 * is refused (400) with the other one. Rows are rendered to JSON by
 * PostgreSQL so that payloads come back exactly as stored.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "fields.h"
#include "problem.h"
#include "uuid.h"

static void list_messages(struct api_thread *t, struct mtm_request *r, const char *tenant)
{
    char order[8] = "desc", err[512];
    int rc = mtm_query_get(r->query, "order", order, sizeof(order));
    if (rc != MTM_ENOTFOUND && (rc || (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0))) {
        struct json_object *p = mtm_problem_new(422, "invalid");
        mtm_problem_add_field(p, "order", "must be asc or desc");
        api_respond_invalid(r, p);
        json_object_put(p);
        return;
    }
    bool asc = strcmp(order, "asc") == 0;
    const char *kind = asc ? "ma" : "md";
    long limit;
    int64_t after = asc ? 0 : INT64_MAX;
    rc = api_page_params(r, kind, &limit, &after);
    if (rc && rc != MTM_ENOTFOUND)
        return;
    if (api_tenant_check(t, r, tenant, false, NULL))
        return;

    char after_s[24], limit_s[24];
    snprintf(after_s, sizeof(after_s), "%lld", (long long)after);
    snprintf(limit_s, sizeof(limit_s), "%ld", limit + 1);
    const char *params[] = {tenant, after_s, limit_s};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, asc ? MTM_STMT_MESSAGES_PAGE_ASC : MTM_STMT_MESSAGES_PAGE_DESC, params,
                     &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    api_respond_page(t, r, res, limit, kind);
    PQclear(res);
}

void api_messages_list(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    char tenant[MTM_UUID_STRLEN + 2];
    int rc = mtm_query_get(r->query, "tenant_id", tenant, sizeof(tenant));
    if (rc == MTM_ENOTFOUND && t->who.role == MTM_ROLE_TENANT) {
        /* A tenant token reads its own tenant unless told otherwise. */
        snprintf(tenant, sizeof(tenant), "%s", t->who.tenant_id);
        rc = 0;
    }
    if (rc || !mtm_uuid_valid(tenant)) {
        struct json_object *p = mtm_problem_new(422, "invalid");
        mtm_problem_add_field(p, "tenant_id",
                              rc == MTM_ENOTFOUND ? "is required" : "must be a tenant id (a UUID)");
        api_respond_invalid(r, p);
        json_object_put(p);
        return;
    }
    list_messages(vt, r, tenant);
}

void api_tenant_messages_list(void *vt, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(r);
    if (tenant)
        list_messages(vt, r, tenant);
}
