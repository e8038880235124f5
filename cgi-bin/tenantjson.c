/* tenantjson: see tenantjson.h. */
#include "tenantjson.h"

#include <stdlib.h>

/* Column positions in the tenants_live view (sql/0005_tenant_status.sql). */
enum {
    COL_ID,
    COL_NAME,
    COL_STATUS,
    COL_CONCURRENCY,
    COL_CREATED,
    COL_UPDATED,
    COL_RUNNING,
    COL_BUSY,
    COL_QUEUE_DEPTH,
    COL_DLQ_DEPTH,
    COL_CONSUMED,
    COL_STORED,
    COL_FAILED,
    COL_DEAD_LETTERED,
    COL_STATUS_AT,
    API_TENANT_COL_SEQ_, /* = API_TENANT_COL_SEQ (tenantjson.h) */
    COL_PUBLISH_RATE,
    COL_PUBLISH_BURST,
};

static struct json_object *int_or_null(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NULL;
    return json_object_new_int64(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

static struct json_object *int_or_zero(PGresult *res, int row, int col)
{
    struct json_object *v = int_or_null(res, row, col);
    return v ? v : json_object_new_int64(0);
}

struct json_object *api_tenant_json(PGresult *res, int row)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(PQgetvalue(res, row, COL_ID)));
    json_object_object_add(o, "name", json_object_new_string(PQgetvalue(res, row, COL_NAME)));
    json_object_object_add(o, "status", json_object_new_string(PQgetvalue(res, row, COL_STATUS)));
    json_object_object_add(o, "concurrency", int_or_zero(res, row, COL_CONCURRENCY));
    json_object_object_add(o, "created_at",
                           json_object_new_string(PQgetvalue(res, row, COL_CREATED)));
    json_object_object_add(o, "updated_at",
                           json_object_new_string(PQgetvalue(res, row, COL_UPDATED)));
    struct json_object *w = json_object_new_object();
    json_object_object_add(w, "running", int_or_zero(res, row, COL_RUNNING));
    json_object_object_add(w, "busy", int_or_zero(res, row, COL_BUSY));
    json_object_object_add(o, "workers", w);
    json_object_object_add(o, "queue_depth", int_or_null(res, row, COL_QUEUE_DEPTH));
    json_object_object_add(o, "dlq_depth", int_or_zero(res, row, COL_DLQ_DEPTH));
    struct json_object *c = json_object_new_object();
    json_object_object_add(c, "consumed", int_or_zero(res, row, COL_CONSUMED));
    json_object_object_add(c, "stored", int_or_zero(res, row, COL_STORED));
    json_object_object_add(c, "failed", int_or_zero(res, row, COL_FAILED));
    json_object_object_add(c, "dead_lettered", int_or_zero(res, row, COL_DEAD_LETTERED));
    json_object_object_add(o, "counters", c);
    struct json_object *lim = json_object_new_object();
    json_object_object_add(lim, "rate", int_or_null(res, row, COL_PUBLISH_RATE));
    json_object_object_add(lim, "burst", int_or_null(res, row, COL_PUBLISH_BURST));
    json_object_object_add(o, "publish_limit", lim);
    json_object_object_add(o, "status_updated_at",
                           PQgetisnull(res, row, COL_STATUS_AT)
                               ? NULL
                               : json_object_new_string(PQgetvalue(res, row, COL_STATUS_AT)));
    return o;
}

_Static_assert(API_TENANT_COL_SEQ_ == API_TENANT_COL_SEQ, "tenants_live column of seq");
