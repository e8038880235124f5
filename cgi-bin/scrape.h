/*
 * scrape: GET /api/metrics (scrape.c).
 */
#ifndef MTM_API_SCRAPE_H
#define MTM_API_SCRAPE_H

#include "api.h"

/* The responder's own metrics (HTTP, tenant cache, publish allowance), Prometheus text. */
int api_metrics_render(struct api_ctx *ctx, struct mtm_buf *out) MTM_MUST_CHECK;

int api_metrics(struct api_thread *t, struct mtm_request *r);

#endif
