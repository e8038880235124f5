/*
 * dispatch: the route table, and the steps every request takes to its
 * handler and its answer (dispatch.c).
 */
#ifndef MTM_API_DISPATCH_H
#define MTM_API_DISPATCH_H

#include "api.h"

void api_thread_init(struct api_thread *t, struct api_ctx *ctx, int index);
void api_thread_cleanup(struct api_thread *t);

/* The route table (for the metrics): n entries. */
const struct api_route *api_routes(size_t *n);

/* Routes one request and answers it; never leaves it unanswered. */
void api_dispatch(struct api_thread *t, struct mtm_request *r);

#endif
