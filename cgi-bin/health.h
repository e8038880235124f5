/*
 * health: liveness and readiness (health.c).
 */
#ifndef MTM_API_HEALTH_H
#define MTM_API_HEALTH_H

#include "api.h"

int api_health(struct api_thread *t, struct mtm_request *r);
int api_ready(struct api_thread *t, struct mtm_request *r);

#endif
