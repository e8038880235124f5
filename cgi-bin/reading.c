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
#include "reading.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "common.h"
#include "uuid.h"

static int list_messages(struct api_thread *t, struct mtm_request *r, const char *tenant)
{
    bool asc;
    int rc = api_order_param(t, r, false, &asc);
    if (rc)
        return rc;
    return api_list_page(t, r, asc ? MTM_STMT_MESSAGES_PAGE_ASC : MTM_STMT_MESSAGES_PAGE_DESC,
                         tenant, asc ? "ma" : "md", asc ? 0 : INT64_MAX);
}

int api_messages_list(struct api_thread *t, struct mtm_request *r)
{
    char tenant[MTM_UUID_STRLEN + 2];
    int rc = mtm_query_get(r->query, "tenant_id", tenant, sizeof(tenant));
    if (rc == MTM_ENOTFOUND && t->who.role == MTM_ROLE_TENANT) {
        /* A tenant token reads its own tenant unless told otherwise. */
        snprintf(tenant, sizeof(tenant), "%s", t->who.tenant_id);
        rc = 0;
    }
    if (rc || !mtm_uuid_valid(tenant))
        return mtm_fault_field(&t->fault, "tenant_id",
                               rc == MTM_ENOTFOUND ? "is required"
                                                   : "must be a tenant id (a UUID)");
    t->log.tenant = tenant;
    rc = list_messages(t, r, tenant);
    t->log.tenant = NULL; /* tenant is about to go out of scope */
    return rc;
}

int api_tenant_messages_list(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    return tenant ? list_messages(t, r, tenant) : MTM_ENOTFOUND;
}
