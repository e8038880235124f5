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
    bool asc;
    if (api_order_param(r, false, &asc))
        return;
    api_list_page(t, r, asc ? MTM_STMT_MESSAGES_PAGE_ASC : MTM_STMT_MESSAGES_PAGE_DESC, tenant,
                  asc ? "ma" : "md", asc ? 0 : INT64_MAX);
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
