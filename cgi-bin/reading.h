/*
 * reading: message pages (reading.c).
 */
#ifndef MTM_API_READING_H
#define MTM_API_READING_H

#include "api.h"

int api_messages_list(struct api_thread *t, struct mtm_request *r);
int api_tenant_messages_list(struct api_thread *t, struct mtm_request *r);

#endif
