/*
 * dlq: a tenant's dead letters (dlq.c).
 */
#ifndef MTM_API_DLQ_H
#define MTM_API_DLQ_H

#include "api.h"

int api_dlq_list(struct api_thread *t, struct mtm_request *r);
int api_dlq_replay(struct api_thread *t, struct mtm_request *r);
int api_dlq_purge(struct api_thread *t, struct mtm_request *r);

#endif
