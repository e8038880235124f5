/*
 * messages: publishing (messages.c).
 */
#ifndef MTM_API_MESSAGES_H
#define MTM_API_MESSAGES_H

#include "api.h"

int api_messages_publish(struct api_thread *t, struct mtm_request *r);

#endif
