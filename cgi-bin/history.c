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
#include "history.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "answer.h"
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

int api_prometheus_query_range(struct api_thread *t, struct mtm_request *r)
{
    const char *url = t->ctx->cfg->prometheus_url;
    if (!allowed_params(r->query) || strlen(r->query) > 4096 || !strstr(r->query, "query="))
        return mtm_fault_field(&t->fault, "query",
                               "query, start, end and step only; query is required");
    mtm_fault_member(&t->fault, "configured", json_object_new_boolean(url != NULL));
    if (!url) {
        t->fault.retry_after = -1; /* waiting does not configure it */
        return api_fail(t, MTM_EUNAVAIL, "no Prometheus is configured (MTM_PROMETHEUS_URL)");
    }
    struct mtm_http_url u;
    if (mtm_http_url_parse(url, &u)) /* validated at start-up */
        return api_fail(t, MTM_EINTERNAL, "MTM_PROMETHEUS_URL does not parse");
    char path[4200], err[256];
    snprintf(path, sizeof(path), "/api/v1/query_range?%s", r->query);
    struct mtm_buf body;
    int status = 0;
    mtm_buf_init(&body, PROM_BODY_MAX);
    int rc = mtm_http_get(&u, path, PROM_TIMEOUT_MS, &status, &body, err, sizeof(err));
    if (rc) {
        LOG_WARN(&t->log, "prometheus: %s", err);
        t->fault.retry_after = 5;
        rc = api_fail(t, MTM_EUNAVAIL, "Prometheus is unavailable: %s", err);
    } else if (status == 400 || status == 422) {
        /* A query Prometheus refuses: its own JSON says why. */
        mtm_respond(r, 422, "application/json", NULL, 0, mtm_buf_cstr(&body), body.len);
    } else if (status != 200) {
        rc = api_fail(t, MTM_EUNAVAIL, "Prometheus answered %d", status);
    } else {
        mtm_respond(r, 200, "application/json", NULL, 0, mtm_buf_cstr(&body), body.len);
    }
    mtm_buf_cleanup(&body);
    return rc;
}
