/*
 * scrape: GET /api/metrics, Prometheus text format.
 *
 * The responder's own metrics (httpmetrics.h), followed by consumerd's
 * textfile ($MTM_METRICS_DIR/mtm.prom) and mtm-events' (mtm-events.prom)
 * when they are readable, so one scrape of the API sees the whole system. Allowed to admin tokens
 * and to the static scrape token MTM_METRICS_TOKEN (auth.c).
 */
#include "scrape.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "xalloc.h"

#define CONSUMERD_FILE_MAX (16 << 20)

/* Appends dir/name if it exists; a missing file is not an error. */
static int append_file(const char *dir, const char *name, struct mtm_buf *out)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return errno == ENOENT ? 0 : MTM_EIO;
    char chunk[65536];
    size_t n, total = 0;
    int rc = 0;
    while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        total += n;
        rc = total > CONSUMERD_FILE_MAX ? MTM_ETOOBIG : mtm_buf_append(out, chunk, n);
    }
    fclose(f);
    return rc;
}

/* How much the process's publisher pipelined (publisher.h). */
static int publisher_render(struct mtm_publisher *p, struct mtm_buf *out)
{
    unsigned long long calls, writes;
    mtm_publisher_counts(p, &calls, &writes);
    return mtm_buf_printf(
        out,
        "# HELP mtm_api_publisher_calls_total Publish calls (one request's messages each) "
        "this process's publisher sent to the broker.\n"
        "# TYPE mtm_api_publisher_calls_total counter\n"
        "mtm_api_publisher_calls_total %llu\n"
        "# HELP mtm_api_publisher_writes_total Rounds of writes that carried those calls: "
        "calls / writes is how many requests shared a round and its confirms.\n"
        "# TYPE mtm_api_publisher_writes_total counter\n"
        "mtm_api_publisher_writes_total %llu\n",
        calls, writes);
}

int api_metrics_render(struct api_ctx *ctx, struct mtm_buf *out)
{
    int rc = httpmetrics_render(&ctx->metrics, out);
    if (!rc)
        rc = tenant_cache_render(&ctx->tenants, out);
    if (!rc)
        rc = publisher_render(ctx->publisher, out);
    return rc ? rc : allowance_render(&ctx->allowance, out);
}

int api_metrics(struct api_thread *t, struct mtm_request *r)
{
    struct mtm_buf out;
    mtm_buf_init(&out, 64 << 20);
    int rc = api_metrics_render(t->ctx, &out);
    if (!rc)
        rc = append_file(t->ctx->cfg->metrics_dir, "mtm.prom", &out);
    if (!rc)
        rc = append_file(t->ctx->cfg->metrics_dir, "mtm-events.prom", &out);
    if (rc)
        rc = api_fail(t, MTM_EINTERNAL, "metrics: %s", mtm_strerror(rc));
    else
        mtm_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, 0, mtm_buf_cstr(&out),
                    out.len);
    mtm_buf_cleanup(&out);
    return rc;
}
