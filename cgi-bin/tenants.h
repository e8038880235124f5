/*
 * tenants: the tenant resource and the overview (tenants.c).
 */
#ifndef MTM_API_TENANTS_H
#define MTM_API_TENANTS_H

#include "api.h"

int api_tenant_create(struct api_thread *t, struct mtm_request *r);
int api_tenant_list(struct api_thread *t, struct mtm_request *r);
int api_tenant_get(struct api_thread *t, struct mtm_request *r);
int api_tenant_delete(struct api_thread *t, struct mtm_request *r);
int api_tenant_set_concurrency(struct api_thread *t, struct mtm_request *r);
int api_tenant_set_rate(struct api_thread *t, struct mtm_request *r);
int api_tenant_pause(struct api_thread *t, struct mtm_request *r);
int api_tenant_resume(struct api_thread *t, struct mtm_request *r);
int api_overview(struct api_thread *t, struct mtm_request *r);

#endif
