/*
 * scrape: GET /api/metrics, Prometheus text format.
 *
 * The responder's own metrics (httpmetrics.h), followed by the textfiles
 * of every consumerd writing to $MTM_METRICS_DIR (mtm-consumerd-*.prom,
 * merged family by family: lib/promtext.h) and mtm-events'
 * (mtm-events.prom) when they are readable, so one scrape of the API sees
 * the whole system. Allowed to admin tokens and to the static scrape token
 * MTM_METRICS_TOKEN (auth.c).
 */
#include "scrape.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "promtext.h"
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

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every consumerd's textfile in dir (mtm-consumerd-<name>.prom), in the
 * order of their names, merged into one exposition. */
static int append_consumerd_files(const char *dir, struct mtm_buf *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : MTM_EIO;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, "mtm-consumerd-", 14) != 0 || len < 20 ||
            strcmp(e->d_name + len - 5, ".prom") != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), by_name);
    struct mtm_promtext merged;
    mtm_promtext_init(&merged, 4 * (size_t)CONSUMERD_FILE_MAX);
    struct mtm_buf one;
    mtm_buf_init(&one, CONSUMERD_FILE_MAX + 65536);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        mtm_buf_reset(&one);
        if (!rc)
            rc = append_file(dir, names[i], &one);
        if (!rc)
            rc = mtm_promtext_add(&merged, mtm_buf_cstr(&one), one.len);
        free(names[i]);
    }
    free(names);
    mtm_buf_cleanup(&one);
    if (!rc)
        rc = mtm_promtext_render(&merged, out);
    mtm_promtext_cleanup(&merged);
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
        rc = token_memo_render(&ctx->tokens, out);
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
        rc = append_consumerd_files(t->ctx->cfg->metrics_dir, &out);
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
