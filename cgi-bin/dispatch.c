/*
 * dispatch: the route table and the steps every request takes before its
 * handler: route match (404/405), id canonicalisation, body size (413),
 * JSON syntax (400). Handlers see a request whose JSON body, if the route
 * takes one, is already parsed into r->json, and whose ids (UUID path
 * captures, the query's tenant_id) are in canonical lower case: ids compare
 * case-insensitively, but queue and partition names, the tenant cache and
 * the authorization check compare bytes.
 */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "alerts.h"
#include "answer.h"
#include "auth.h"
#include "dlq.h"
#include "health.h"
#include "history.h"
#include "messages.h"
#include "reading.h"
#include "scrape.h"
#include "tenants.h"
#include "problem.h"
#include "router.h"
#include "timeutil.h"
#include "uuid.h"

#define JSON MTM_ROUTE_JSON_BODY
#define BODY MTM_ROUTE_OPTIONAL_BODY

static const struct api_route routes[] = {
    {{"GET", "/api/health", "health", 0}, API_PUBLIC, api_health},
    {{"GET", "/api/ready", "ready", 0}, API_PUBLIC, api_ready},
    {{"POST", "/api/auth/login", "login", JSON}, API_PUBLIC, api_login},
    {{"POST", "/api/tenants", "tenants", JSON}, API_ADMIN, api_tenant_create},
    {{"GET", "/api/tenants", "tenants", 0}, API_ADMIN, api_tenant_list},
    {{"GET", "/api/overview", "overview", 0}, API_ADMIN, api_overview},
    {{"GET", "/api/tenants/{id}", "tenant", 0}, API_TENANT, api_tenant_get},
    {{"DELETE", "/api/tenants/{id}", "tenant", 0}, API_ADMIN, api_tenant_delete},
    {{"PUT", "/api/tenants/{id}/config/concurrency", "tenant_concurrency", JSON},
     API_ADMIN,
     api_tenant_set_concurrency},
    {{"PUT", "/api/tenants/{id}/config/rate_limit", "tenant_rate", JSON},
     API_ADMIN,
     api_tenant_set_rate},
    {{"POST", "/api/tenants/{id}/pause", "tenant_pause", 0}, API_ADMIN, api_tenant_pause},
    {{"POST", "/api/tenants/{id}/resume", "tenant_resume", 0}, API_ADMIN, api_tenant_resume},
    {{"POST", "/api/tenants/{id}/tokens", "tokens", BODY}, API_ADMIN, api_tokens_create},
    {{"GET", "/api/tenants/{id}/tokens", "tokens", 0}, API_ADMIN, api_tokens_list},
    {{"DELETE", "/api/tenants/{id}/tokens/{jti}", "token", 0}, API_ADMIN, api_tokens_revoke},
    {{"POST", "/api/tenants/{id}/messages", "messages_publish", JSON},
     API_TENANT,
     api_messages_publish},
    {{"GET", "/api/tenants/{id}/messages", "tenant_messages", 0},
     API_TENANT,
     api_tenant_messages_list},
    {{"GET", "/api/messages", "messages", 0}, API_TENANT_QUERY, api_messages_list},
    {{"GET", "/api/tenants/{id}/dlq", "dlq", 0}, API_TENANT, api_dlq_list},
    {{"DELETE", "/api/tenants/{id}/dlq", "dlq", 0}, API_TENANT, api_dlq_purge},
    {{"POST", "/api/tenants/{id}/dlq/replay", "dlq_replay", BODY}, API_TENANT, api_dlq_replay},
    {{"GET", "/api/audit", "audit", 0}, API_ADMIN, api_audit_list},
    {{"GET", "/api/metrics", "metrics", 0}, API_METRICS, api_metrics},
    {{"POST", "/api/alerts/webhook", "alerts_webhook", JSON}, API_ALERTS, api_alerts_webhook},
    {{"GET", "/api/alerts", "alerts", 0}, API_ADMIN, api_alerts_list},
    {{"GET", "/api/prometheus/query_range", "prometheus", 0},
     API_ADMIN,
     api_prometheus_query_range},
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))
_Static_assert(NROUTES <= HTTPM_MAX_ROUTES, "httpmetrics has a slot for every route");

/* Query parameters that carry ids (canonicalised like path captures). */
static const char *const id_query_params[] = {"tenant_id", NULL};

const struct api_route *api_routes(size_t *n)
{
    *n = NROUTES;
    return routes;
}

void api_thread_init(struct api_thread *t, struct api_ctx *ctx, int index)
{
    memset(t, 0, sizeof(*t));
    t->ctx = ctx;
    t->index = index;
    mtm_pg_init(&t->pg, ctx->cfg->pg_url, 2);
    mtm_pg_set_deadline(&t->pg, MTM_PG_ANSWER_MS);
    mtm_pg_set_options(&t->pg, MTM_PG_OPTIONS_CUSTOM_PLANS);
    mtm_amqp_init(&t->amqp, ctx->cfg->amqp_url, 1000, 0);
    t->log.component = "mtm-api";
}

void api_thread_cleanup(struct api_thread *t)
{
    mtm_fault_reset(&t->fault);
    mtm_amqp_cleanup(&t->amqp);
    mtm_pg_cleanup(&t->pg);
}

static int too_big(struct api_thread *t)
{
    return api_fail(t, MTM_ETOOBIG, "the request body is larger than %d bytes",
                    t->ctx->cfg->max_body);
}

/* Reads the body within MTM_MAX_BODY; a 413 or 400 fault on failure. */
static int read_body(struct api_thread *t, struct mtm_request *r)
{
    int rc = mtm_request_read_body(r, (size_t)t->ctx->cfg->max_body);
    if (rc == MTM_ETOOBIG)
        return too_big(t);
    if (rc)
        return api_fail(t, MTM_EPARSE, "the request body could not be read");
    return 0;
}

static int read_json_body(struct api_thread *t, struct mtm_request *r)
{
    char err[256];
    int rc = read_body(t, r);
    if (!rc && mtm_request_parse_json(r, err, sizeof(err)))
        rc = api_fail(t, MTM_EPARSE, "%s", err);
    return rc;
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
 * is handled here. Returns 1 when the request has been answered, 0 when it
 * is not a preflight, or an error with t->fault filled.
 */
static int cors(struct api_thread *t, struct mtm_request *r)
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
        return 0;

    size_t index;
    char allow[sizeof(t->fault.allow)];
    if (mtm_router_match(&routes[0].match, NROUTES, sizeof(routes[0]), r, &index, allow,
                         sizeof(allow)) == MTM_ROUTE_NOT_FOUND)
        return api_fail(t, MTM_ENOTFOUND, "no route for %.200s", r->path);
    if (origin && mtm_request_header(r, "Access-Control-Request-Method") && !allowed)
        return api_fail(t, MTM_EFORBIDDEN, "origin %.200s may not call this API", origin);
    struct mtm_header h[4] = {
        {"Allow", allow},
        {"Access-Control-Allow-Methods", allow},
        {"Access-Control-Allow-Headers",
         "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent"},
        {"Access-Control-Max-Age", "600"},
    };
    mtm_respond(r, 204, NULL, h, allowed ? 4 : 1, NULL, 0);
    return 1;
}

/* Routes under this pattern name a tenant by their {id}. */
static const char tenant_pattern[] = "/api/tenants/{id}";

/* The tenant a request is for: the {id} of a tenant route, the ?tenant_id
 * of /api/messages (a tenant token's own when absent); NULL otherwise. */
static const char *request_tenant(const struct api_thread *t, const struct mtm_request *r,
                                  const struct api_route *route, char *buf, size_t len)
{
    if (strncmp(route->match.pattern, tenant_pattern, sizeof(tenant_pattern) - 1) == 0)
        return mtm_uuid_valid(r->params[0]) ? r->params[0] : NULL;
    if (route->access != API_TENANT_QUERY)
        return NULL;
    if (mtm_query_get(r->query, "tenant_id", buf, len) == 0 && mtm_uuid_valid(buf))
        return buf;
    return t->who.role == MTM_ROLE_TENANT ? t->who.tenant_id : NULL;
}

/*
 * While tenants compete, one may hold ctx->share.limit request threads at
 * once (MTM_TENANT_THREADS), and more only while another thread stays
 * free: past that it is answered 429 at once, so a tenant flooding the API
 * cannot take every thread from the others; a tenant alone may hold them
 * all (tenantshare.h).
 */
static int take_share(struct api_thread *t, struct mtm_request *r, const struct api_route *route)
{
    char buf[MTM_UUID_STRLEN + 2];
    const char *tenant = request_tenant(t, r, route, buf, sizeof(buf));
    int held;
    if (!tenant)
        return 0;
    if (tenant_share_enter(&t->ctx->share, t->index, tenant, mtm_mono_ms(), &held)) {
        t->sharing = true;
        return 0;
    }
    t->fault.retry_after = 1;
    return api_fail(t, MTM_ERATELIMIT,
                    "tenant %s holds %d of this responder's %d request threads, its share "
                    "while the responder is full; retry in a moment",
                    tenant, held, t->ctx->share.nthreads);
}

/* 404, 405, 413, 401/403, 400, then the handler. Stores the route's
 * position in *index (NROUTES when none matched). */
static int route_request(struct api_thread *t, struct mtm_request *r, size_t *index)
{
    char *allow = t->fault.allow;
    switch (mtm_router_match(&routes[0].match, NROUTES, sizeof(routes[0]), r, index, allow,
                             sizeof(t->fault.allow))) {
    case MTM_ROUTE_NOT_FOUND: return api_fail(t, MTM_ENOTFOUND, "no route for %.200s", r->path);
    case MTM_ROUTE_BAD_METHOD:
        t->fault.status = 405;
        return api_fail(t, MTM_EINVAL, "%.16s is not allowed on %.200s", r->method, r->path);
    case MTM_ROUTE_FOUND: break;
    }
    const struct api_route *route = &routes[*index];
    mtm_request_canonical_query(r, id_query_params);
    /* Size first (413 needs no credentials: the body is not read), then
     * who is calling, then the body's syntax. */
    if (r->content_length > t->ctx->cfg->max_body)
        return too_big(t);
    int rc = api_authorize(t, r, route->access);
    if (!rc)
        rc = take_share(t, r, route);
    if (!rc && (route->match.flags & MTM_ROUTE_JSON_BODY))
        rc = read_json_body(t, r);
    else if (!rc && (route->match.flags & MTM_ROUTE_OPTIONAL_BODY))
        rc = read_body(t, r);
    if (!rc)
        rc = route->fn(t, r);
    if (!rc && !r->status)
        rc = api_fail(t, MTM_EINTERNAL, "handler %s sent no response", route->match.name);
    return rc;
}

void api_dispatch(struct api_thread *t, struct mtm_request *r)
{
    int64_t start = mtm_mono_us();
    const struct mtm_log_ctx base = t->log;
    t->log.request_id = r->request_id;
    t->log.trace_id = r->trace_id[0] ? r->trace_id : NULL;
    mtm_fault_reset(&t->fault);

    size_t index = NROUTES;
    int rc = cors(t, r);
    if (!rc)
        rc = route_request(t, r, &index);
    if (rc < 0 && !r->status)
        api_answer_fault(t, r);
    else if (rc < 0)
        LOG_ERROR(&t->log, "a failure (%s: %s) after the answer was sent", mtm_strerror(rc),
                  t->fault.detail);
    int64_t micros = mtm_mono_us() - start;
    httpmetrics_observe(&t->ctx->metrics, index, r->status, micros);
    LOG_DEBUG(&t->log, "%s %s -> %d in %lld us", r->method, r->path, r->status, (long long)micros);
    if (t->sharing)
        tenant_share_leave(&t->ctx->share, t->index);
    t->sharing = false;
    mtm_fault_reset(&t->fault);
    t->log = base;
}
