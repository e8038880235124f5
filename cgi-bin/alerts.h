/*
 * alerts: Alertmanager's webhook and the stored alerts (alerts.c).
 */
#ifndef MTM_API_ALERTS_H
#define MTM_API_ALERTS_H

#include "api.h"

int api_alerts_webhook(struct api_thread *t, struct mtm_request *r);
int api_alerts_list(struct api_thread *t, struct mtm_request *r);

#endif
