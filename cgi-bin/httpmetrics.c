/* httpmetrics: see httpmetrics.h. */
#include "httpmetrics.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const int codes[HTTPM_CODES - 1] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                           409, 411, 413, 422, 429, 500, 503, 504};
/* Request durations in microseconds, bounds from 1 ms to 5 s. */
static const struct mtm_histogram_layout duration_layout = {
    .units_per_s = 1000000,
    .nbounds = 10,
    .bounds = {1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000},
};

void httpmetrics_init(struct httpmetrics *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t ri = 0; ri <= HTTPM_MAX_ROUTES; ri++)
        mtm_histogram_init(&m->duration[ri], &duration_layout);
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
    mtm_histogram_observe(&m->duration[ri], micros);
}

/* Label values match consumerd's: lowercase UUIDs. */
static void tenant_label(char out[MTM_UUID_STRLEN + 1], const char *tenant_id)
{
    size_t len = strnlen(tenant_id, MTM_UUID_STRLEN);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)tolower((unsigned char)tenant_id[i]);
    out[len] = '\0';
}

void httpmetrics_published(struct httpmetrics *m, const char *tenant_id, size_t n)
{
    char tenant[MTM_UUID_STRLEN + 1];
    tenant_label(tenant, tenant_id);
    size_t len = strlen(tenant);
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

void httpmetrics_forget(struct httpmetrics *m, const char *tenant_id)
{
    char tenant[MTM_UUID_STRLEN + 1];
    tenant_label(tenant, tenant_id);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->ntenants; i++) {
        if (strcmp(m->tenants[i].id, tenant) == 0) {
            /* Keep the others in their order: the scrape lists them as they came. */
            memmove(&m->tenants[i], &m->tenants[i + 1],
                    (m->ntenants - i - 1) * sizeof(*m->tenants));
            m->ntenants--;
            break;
        }
    }
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
        rc = mtm_histogram_header(out, "mtm_http_request_duration_seconds", "Time to answer.");
    for (size_t ri = 0; !rc && ri <= m->nroutes; ri++) {
        if (!mtm_histogram_count(&m->duration[ri]))
            continue;
        labels(m, ri, &route, &method);
        char lbl[256];
        snprintf(lbl, sizeof(lbl), "route=\"%s\",method=\"%s\"", route, method);
        rc = mtm_histogram_render(&m->duration[ri], "mtm_http_request_duration_seconds", lbl, out);
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
