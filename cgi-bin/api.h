/*
 * api: state of the FastCGI responder (mtm-api).
 *
 * One process runs MTM_API_THREADS request threads that all accept on the
 * same listening socket. Threads share only struct api_ctx, which is
 * read-only after start-up except for the atomic `stopping`. Each thread
 * owns its struct api_thread: its PostgreSQL and RabbitMQ connections live
 * across requests (no connection per request) and are reconnected on demand
 * by the code that uses them. No thread ever touches another's connections.
 */
#ifndef MTM_API_H
#define MTM_API_H

#include <stdatomic.h>

#include "amqp.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "pg.h"

struct api_ctx {
    const struct mtm_config *cfg; /* borrowed from main */
    atomic_bool stopping;
};

struct api_thread {
    struct api_ctx *ctx; /* borrowed */
    int index;
    struct mtm_pg pg;     /* owned */
    struct mtm_amqp amqp; /* owned */
    struct mtm_log_ctx log;
};

void api_thread_init(struct api_thread *t, struct api_ctx *ctx, int index);
void api_thread_cleanup(struct api_thread *t);

/* Routes one request and answers it; never leaves it unanswered. */
void api_dispatch(struct api_thread *t, struct mtm_request *r);

/* Handlers (one file per resource). */
void api_health(void *t, struct mtm_request *r);
void api_ready(void *t, struct mtm_request *r);
void api_tenant_create(void *t, struct mtm_request *r);
void api_tenant_list(void *t, struct mtm_request *r);
void api_tenant_get(void *t, struct mtm_request *r);
void api_tenant_delete(void *t, struct mtm_request *r);
void api_tenant_set_concurrency(void *t, struct mtm_request *r);
void api_tenant_pause(void *t, struct mtm_request *r);
void api_tenant_resume(void *t, struct mtm_request *r);
void api_messages_publish(void *t, struct mtm_request *r);

#endif
