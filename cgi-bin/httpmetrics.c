/* httpmetrics: see httpmetrics.h. */
#include "httpmetrics.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const int codes[HTTPM_CODES - 1] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                           409, 411, 413, 422, 429, 500, 503, 504};
static const double bounds[HTTPM_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,  0.1,    0.25,  1,    5};

void httpmetrics_init(struct httpmetrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void httpmetrics_add_route(struct httpmetrics *m, const struct mtm_route *route)
{
    if (m->nroutes == HTTPM_MAX_ROUTES)
        abort(); /* the route table's static assertion failed to hold */
    m->routes[m->nroutes++] = route;
}

void httpmetrics_cleanup(struct httpmetrics *m)
{
    free(m->tenants);
    m->tenants = NULL;
    pthread_mutex_destroy(&m->lock);
}

void httpmetrics_observe(struct httpmetrics *m, size_t route, int status, int64_t micros)
{
    /* A route has one method; unmatched requests share the last slot. */
    size_t ri = route < m->nroutes ? route : m->nroutes, ci = HTTPM_CODES - 1;
    for (size_t i = 0; i < HTTPM_CODES - 1; i++)
        if (codes[i] == status)
            ci = i;
    atomic_fetch_add_explicit(&m->requests[ri][ci], 1, memory_order_relaxed);
    double secs = (double)micros / 1e6;
    for (size_t b = 0; b < HTTPM_BUCKETS; b++)
        if (b == HTTPM_BUCKETS - 1 || secs <= bounds[b])
            atomic_fetch_add_explicit(&m->buckets[ri][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->count[ri], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[ri], (unsigned long long)(micros > 0 ? micros : 0),
                              memory_order_relaxed);
}

void httpmetrics_published(struct httpmetrics *m, const char *tenant_id, size_t n)
{
    /* Label values match consumerd's: lowercase UUIDs. */
    char tenant[MTM_UUID_STRLEN + 1];
    size_t len = strnlen(tenant_id, MTM_UUID_STRLEN);
    for (size_t i = 0; i < len; i++)
        tenant[i] = (char)tolower((unsigned char)tenant_id[i]);
    tenant[len] = '\0';
    pthread_mutex_lock(&m->lock);
    size_t i = 0;
    while (i < m->ntenants && strcmp(m->tenants[i].id, tenant) != 0)
        i++;
    if (i == m->ntenants) {
        if (m->ntenants == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->tenants = xrealloc(m->tenants, m->cap * sizeof(*m->tenants));
        }
        memset(&m->tenants[i], 0, sizeof(m->tenants[i]));
        memcpy(m->tenants[i].id, tenant, len + 1);
        m->ntenants++;
    }
    m->tenants[i].published += n;
    pthread_mutex_unlock(&m->lock);
}

static void labels(const struct httpmetrics *m, size_t ri, const char **route, const char **method)
{
    *route = ri < m->nroutes ? m->routes[ri]->name : "unmatched";
    *method = ri < m->nroutes ? m->routes[ri]->method : "any";
}

int httpmetrics_render(struct httpmetrics *m, struct mtm_buf *out)
{
    const char *route, *method;
    int rc = mtm_buf_puts(out, "# HELP mtm_http_requests_total HTTP requests answered.\n"
                               "# TYPE mtm_http_requests_total counter\n");
    for (size_t ri = 0; !rc && ri <= m->nroutes; ri++) {
        labels(m, ri, &route, &method);
        for (size_t ci = 0; !rc && ci < HTTPM_CODES; ci++) {
            unsigned long long v = atomic_load(&m->requests[ri][ci]);
            if (!v)
                continue;
            char code[16] = "other";
            if (ci < HTTPM_CODES - 1)
                snprintf(code, sizeof(code), "%d", codes[ci]);
            rc = mtm_buf_printf(out,
                                "mtm_http_requests_total{route=\"%s\",method=\"%s\","
                                "code=\"%s\"} %llu\n",
                                route, method, code, v);
        }
    }
    if (!rc)
        rc = mtm_buf_puts(out, "# HELP mtm_http_request_duration_seconds Time to answer.\n"
                               "# TYPE mtm_http_request_duration_seconds histogram\n");
    for (size_t ri = 0; !rc && ri <= m->nroutes; ri++) {
        unsigned long long count = atomic_load(&m->count[ri]);
        if (!count)
            continue;
        labels(m, ri, &route, &method);
        for (size_t b = 0; !rc && b < HTTPM_BUCKETS; b++) {
            unsigned long long v = atomic_load(&m->buckets[ri][b]);
            char le[32] = "+Inf";
            if (b < HTTPM_BUCKETS - 1)
                snprintf(le, sizeof(le), "%g", bounds[b]);
            rc = mtm_buf_printf(out,
                                "mtm_http_request_duration_seconds_bucket{route=\"%s\","
                                "method=\"%s\",le=\"%s\"} %llu\n",
                                route, method, le, v);
        }
        if (!rc)
            rc = mtm_buf_printf(out,
                                "mtm_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\"}"
                                " %.6f\n"
                                "mtm_http_request_duration_seconds_count{route=\"%s\","
                                "method=\"%s\"} %llu\n",
                                route, method, (double)atomic_load(&m->sum_us[ri]) / 1e6, route,
                                method, count);
    }
    if (!rc)
        rc =
            mtm_buf_puts(out, "# HELP mtm_messages_published_total Messages the broker confirmed.\n"
                              "# TYPE mtm_messages_published_total counter\n");
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; !rc && i < m->ntenants; i++)
        rc = mtm_buf_printf(out, "mtm_messages_published_total{tenant=\"%s\"} %llu\n",
                            m->tenants[i].id, m->tenants[i].published);
    pthread_mutex_unlock(&m->lock);
    return rc;
}
