/*
 * tenantjson: a tenant as the API shows it (GET /api/tenants/{id}), from a
 * row of the tenants_live view (sql/0009_publish_rate.sql). Shared by the
 * responder's tenant routes and the event stream (mtm-events), so that a
 * tenant looks the same wherever it comes from.
 */
#ifndef MTM_TENANTJSON_H
#define MTM_TENANTJSON_H

#include <json-c/json.h>
#include <libpq-fe.h>

/* The seq column of a tenants_live row (keyset pages). */
#define API_TENANT_COL_SEQ 15

/* A new JSON object (caller puts it) for row `row` of a tenants_live result. */
struct json_object *api_tenant_json(PGresult *res, int row);

#endif
