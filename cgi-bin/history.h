/*
 * history: Prometheus's query_range, proxied for the console (history.c).
 */
#ifndef MTM_API_HISTORY_H
#define MTM_API_HISTORY_H

#include "api.h"

int api_prometheus_query_range(struct api_thread *t, struct mtm_request *r);

#endif
