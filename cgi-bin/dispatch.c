/*
 * dispatch: the route table and the steps every request takes before its
 * handler: route match (404/405), id canonicalisation, body size (413),
 * JSON syntax (400). Handlers see a request whose JSON body, if the route
 * takes one, is already parsed into r->json, and whose ids (UUID path
 * captures, the query's tenant_id) are in canonical lower case: ids compare
 * case-insensitively, but queue and partition names, the tenant cache and
 * the authorization check compare bytes.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "problem.h"
#include "router.h"
#include "timeutil.h"

#define JSON MTM_ROUTE_JSON_BODY
#define BODY MTM_ROUTE_OPTIONAL_BODY

static const struct mtm_route routes[] = {
    {"GET", "/api/health", "health", 0, API_PUBLIC, api_health},
    {"GET", "/api/ready", "ready", 0, API_PUBLIC, api_ready},
    {"POST", "/api/auth/login", "login", JSON, API_PUBLIC, api_login},
    {"POST", "/api/tenants", "tenants", JSON, API_ADMIN, api_tenant_create},
    {"GET", "/api/tenants", "tenants", 0, API_ADMIN, api_tenant_list},
    {"GET", "/api/overview", "overview", 0, API_ADMIN, api_overview},
    {"GET", "/api/tenants/{id}", "tenant", 0, API_TENANT, api_tenant_get},
    {"DELETE", "/api/tenants/{id}", "tenant", 0, API_ADMIN, api_tenant_delete},
    {"PUT", "/api/tenants/{id}/config/concurrency", "tenant_concurrency", JSON, API_ADMIN,
     api_tenant_set_concurrency},
    {"PUT", "/api/tenants/{id}/config/rate_limit", "tenant_rate", JSON, API_ADMIN,
     api_tenant_set_rate},
    {"POST", "/api/tenants/{id}/pause", "tenant_pause", 0, API_ADMIN, api_tenant_pause},
    {"POST", "/api/tenants/{id}/resume", "tenant_resume", 0, API_ADMIN, api_tenant_resume},
    {"POST", "/api/tenants/{id}/tokens", "tokens", BODY, API_ADMIN, api_tokens_create},
    {"GET", "/api/tenants/{id}/tokens", "tokens", 0, API_ADMIN, api_tokens_list},
    {"DELETE", "/api/tenants/{id}/tokens/{jti}", "token", 0, API_ADMIN, api_tokens_revoke},
    {"POST", "/api/tenants/{id}/messages", "messages_publish", JSON, API_TENANT,
     api_messages_publish},
    {"GET", "/api/tenants/{id}/messages", "tenant_messages", 0, API_TENANT,
     api_tenant_messages_list},
    {"GET", "/api/messages", "messages", 0, API_TENANT_QUERY, api_messages_list},
    {"GET", "/api/tenants/{id}/dlq", "dlq", 0, API_TENANT, api_dlq_list},
    {"DELETE", "/api/tenants/{id}/dlq", "dlq", 0, API_TENANT, api_dlq_purge},
    {"POST", "/api/tenants/{id}/dlq/replay", "dlq_replay", BODY, API_TENANT, api_dlq_replay},
    {"GET", "/api/audit", "audit", 0, API_ADMIN, api_audit_list},
    {"GET", "/api/metrics", "metrics", 0, API_METRICS, api_metrics},
    {"POST", "/api/alerts/webhook", "alerts_webhook", JSON, API_ALERTS, api_alerts_webhook},
    {"GET", "/api/alerts", "alerts", 0, API_ADMIN, api_alerts_list},
    {"GET", "/api/prometheus/query_range", "prometheus", 0, API_ADMIN, api_prometheus_query_range},
};

/* Query parameters that carry ids (canonicalised like path captures). */
static const char *const id_query_params[] = {"tenant_id", NULL};

const struct mtm_route *api_routes(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}

void api_thread_init(struct api_thread *t, struct api_ctx *ctx, int index)
{
    memset(t, 0, sizeof(*t));
    t->ctx = ctx;
    t->index = index;
    mtm_pg_init(&t->pg, ctx->cfg->pg_url, 2);
    mtm_amqp_init(&t->amqp, ctx->cfg->amqp_url, 1000, 0);
    t->log.component = "mtm-api";
}

void api_thread_cleanup(struct api_thread *t)
{
    mtm_amqp_cleanup(&t->amqp);
    mtm_pg_cleanup(&t->pg);
}

/* Reads the body within MTM_MAX_BODY; answers 413/400 on failure. */
static int read_body(struct api_thread *t, struct mtm_request *r)
{
    int rc = mtm_request_read_body(r, (size_t)t->ctx->cfg->max_body);
    if (rc == MTM_ETOOBIG)
        mtm_respond_error(r, 413, "the request body is larger than %d bytes",
                          t->ctx->cfg->max_body);
    else if (rc)
        mtm_respond_error(r, 400, "the request body could not be read");
    return rc;
}

static void read_json_body(struct api_thread *t, struct mtm_request *r)
{
    char err[256];
    if (!read_body(t, r) && mtm_request_parse_json(r, err, sizeof(err)))
        mtm_respond_error(r, 400, "%s", err);
}

/* Whether origin is one of the comma-separated origins in list (exact). */
static bool origin_listed(const char *list, const char *origin)
{
    size_t n = strlen(origin);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len && len == n && strncmp(p, origin, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/*
 * CORS (no credentials): an allowed Origin gets Access-Control-Allow-Origin
 * on every response; a preflight (OPTIONS with Access-Control-Request-Method)
 * is answered here. Returns true when the request has been answered.
 */
static bool cors(struct api_thread *t, struct mtm_request *r)
{
    const char *origin = mtm_request_header(r, "Origin");
    const char *list = t->ctx->cfg->cors_origins;
    bool allowed = origin && list && origin_listed(list, origin);
    if (allowed) {
        mtm_request_always(r, "Access-Control-Allow-Origin", origin);
        mtm_request_always(r, "Vary", "Origin");
        mtm_request_always(r, "Access-Control-Expose-Headers",
                           "Location, Retry-After, X-Request-Id, WWW-Authenticate");
    }
    if (strcmp(r->method, "OPTIONS") != 0)
        return false;

    const struct mtm_route *route = NULL;
    char allow[128];
    if (mtm_router_match(routes, sizeof(routes) / sizeof(routes[0]), r, &route, allow,
                         sizeof(allow)) == MTM_ROUTE_NOT_FOUND) {
        mtm_respond_error(r, 404, "no route for %.200s", r->path);
        return true;
    }
    if (origin && mtm_request_header(r, "Access-Control-Request-Method") && !allowed) {
        mtm_respond_error(r, 403, "origin %.200s may not call this API", origin);
        return true;
    }
    struct mtm_header h[4] = {
        {"Allow", allow},
        {"Access-Control-Allow-Methods", allow},
        {"Access-Control-Allow-Headers",
         "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent"},
        {"Access-Control-Max-Age", "600"},
    };
    mtm_respond(r, 204, NULL, h, allowed ? 4 : 1, NULL, 0);
    return true;
}

/* 404, 405, 413, 401/403, 400, then the handler. */
static const struct mtm_route *route_request(struct api_thread *t, struct mtm_request *r,
                                             struct mtm_log_ctx *log)
{
    const struct mtm_route *route = NULL;
    char allow[128];

    switch (mtm_router_match(routes, sizeof(routes) / sizeof(routes[0]), r, &route, allow,
                             sizeof(allow))) {
    case MTM_ROUTE_NOT_FOUND: mtm_respond_error(r, 404, "no route for %.200s", r->path); break;
    case MTM_ROUTE_BAD_METHOD: {
        struct mtm_header h = {"Allow", allow};
        struct json_object *p =
            mtm_problem_new(405, "%.16s is not allowed on %.200s", r->method, r->path);
        mtm_respond_problem(r, p, &h, 1);
        json_object_put(p);
        break;
    }
    case MTM_ROUTE_FOUND:
        mtm_request_canonical_query(r, id_query_params);
        /* Size first (413 needs no credentials: the body is not read),
         * then who is calling, then the body's syntax. */
        if (r->content_length > t->ctx->cfg->max_body)
            mtm_respond_error(r, 413, "the request body is larger than %d bytes",
                              t->ctx->cfg->max_body);
        if (!r->status && api_authorize(t, r, (enum api_access)route->access))
            break;
        if (r->status)
            break;
        if (route->flags & MTM_ROUTE_JSON_BODY)
            read_json_body(t, r);
        else if (route->flags & MTM_ROUTE_OPTIONAL_BODY)
            read_body(t, r);
        if (!r->status)
            route->fn(t, r);
        if (!r->status) {
            LOG_ERROR(log, "handler %s sent no response", route->name);
            mtm_respond_error(r, 500, "the request was not answered");
        }
        break;
    }
    return route;
}

void api_dispatch(struct api_thread *t, struct mtm_request *r)
{
    int64_t start = mtm_mono_us();
    struct mtm_log_ctx log = t->log;
    log.request_id = r->request_id;
    log.trace_id = r->trace_id[0] ? r->trace_id : NULL;

    const struct mtm_route *route = NULL;
    if (!cors(t, r))
        route = route_request(t, r, &log);
    int64_t micros = mtm_mono_us() - start;
    httpmetrics_observe(&t->ctx->metrics, route, r->status, micros);
    LOG_DEBUG(&log, "%s %s -> %d in %lld us", r->method, r->path, r->status, (long long)micros);
}
