/*
 * history: the console's charts read Prometheus through the API.
 *
 *   GET /api/prometheus/query_range?query=&start=&end=&step=   (admin)
 *
 * The browser never talks to Prometheus (the CSP allows only 'self'), and
 * Prometheus needs no exposure of its own: mtm-api forwards the query to
 * MTM_PROMETHEUS_URL's /api/v1/query_range and returns its answer as is.
 * Only these four parameters pass, already URL-encoded as the client sent
 * them. Without MTM_PROMETHEUS_URL the answer is 503 with
 * `"configured": false`, so that the console can say charts need it.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "httpclient.h"
#include "problem.h"

#define PROM_TIMEOUT_MS 5000
#define PROM_BODY_MAX (8 << 20)

/* Whether every parameter of the query string is one Prometheus range
 * queries take. */
static bool allowed_params(const char *q)
{
    static const char *const names[] = {"query", "start", "end", "step"};
    while (*q) {
        size_t len = strcspn(q, "=&");
        bool ok = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            ok = ok || (len == strlen(names[i]) && strncmp(q, names[i], len) == 0);
        if (!ok)
            return false;
        q += strcspn(q, "&");
        if (*q == '&')
            q++;
    }
    return true;
}

void api_prometheus_query_range(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    const char *url = t->ctx->cfg->prometheus_url;
    if (!allowed_params(r->query) || strlen(r->query) > 4096 || !strstr(r->query, "query=")) {
        struct json_object *p = mtm_problem_new(422, "invalid");
        mtm_problem_add_field(p, "query", "query, start, end and step only; query is required");
        api_respond_invalid(r, p);
        json_object_put(p);
        return;
    }
    if (!url) {
        struct json_object *p = mtm_problem_new(503, "no Prometheus is configured "
                                                     "(MTM_PROMETHEUS_URL)");
        json_object_object_add(p, "configured", json_object_new_boolean(0));
        mtm_respond_problem(r, p, NULL, 0);
        json_object_put(p);
        return;
    }
    struct mtm_http_url u;
    if (mtm_http_url_parse(url, &u)) { /* validated at start-up */
        mtm_respond_error(r, 500, "internal error (request %s)", r->request_id);
        return;
    }
    char path[4200], err[256];
    snprintf(path, sizeof(path), "/api/v1/query_range?%s", r->query);
    struct mtm_buf body;
    int status = 0;
    mtm_buf_init(&body, PROM_BODY_MAX);
    int rc = mtm_http_get(&u, path, PROM_TIMEOUT_MS, &status, &body, err, sizeof(err));
    if (rc) {
        struct mtm_log_ctx log = t->log;
        log.request_id = r->request_id;
        LOG_WARN(&log, "prometheus: %s", err);
        struct mtm_header h = {"Retry-After", "5"};
        struct json_object *p = mtm_problem_new(503, "Prometheus is unavailable: %s", err);
        json_object_object_add(p, "configured", json_object_new_boolean(1));
        mtm_respond_problem(r, p, &h, 1);
        json_object_put(p);
    } else if (status == 400 || status == 422) {
        /* A query Prometheus refuses: its own JSON says why. */
        mtm_respond(r, 422, "application/json", NULL, 0, mtm_buf_cstr(&body), body.len);
    } else if (status != 200) {
        struct json_object *p = mtm_problem_new(503, "Prometheus answered %d", status);
        json_object_object_add(p, "configured", json_object_new_boolean(1));
        mtm_respond_problem(r, p, NULL, 0);
        json_object_put(p);
    } else {
        mtm_respond(r, 200, "application/json", NULL, 0, mtm_buf_cstr(&body), body.len);
    }
    mtm_buf_cleanup(&body);
}
