/*
 * api: state of the FastCGI responder (mtm-api).
 *
 * One process runs MTM_API_THREADS request threads that all accept on the
 * same listening socket. Threads share only struct api_ctx, which is
 * read-only after start-up except for its atomics and the two tables
 * with a mutex of their own (tenant cache, publish allowance). Each thread
 * owns its struct api_thread: its PostgreSQL and RabbitMQ connections live
 * across requests (no connection per request) and are reconnected on demand
 * by the code that uses them. No thread ever touches another's connections.
 * Messages go out through the process's one publisher (publisher.h), which
 * pipelines every thread's publishes and confirms on a connection of its
 * own; a thread's own RabbitMQ connection only declares and deletes queues
 * and answers the readiness check.
 *
 * This header holds the types every part of the responder shares; each
 * file's functions are declared in the header of the same name
 * (dispatch.h, answer.h, common.h, auth.h, and one per resource).
 */
#ifndef MTM_API_H
#define MTM_API_H

#include <stdatomic.h>
#include <stdbool.h>

#include "allowance.h"
#include "amqp.h"
#include "config.h"
#include "cursor.h"
#include "httpmetrics.h"
#include "http.h"
#include "log.h"
#include "pg.h"
#include "publisher.h"
#include "problem.h"
#include "tenantcache.h"
#include "tenantshare.h"
#include "token.h"
#include "tokenmemo.h"

struct api_ctx {
    const struct mtm_config *cfg; /* borrowed from main */
    atomic_bool stopping;
    atomic_bool admin_synced; /* the admin account matches the configuration */
    atomic_int login_hashing; /* logins checking a password right now (auth.c) */
    struct httpmetrics metrics;
    struct tenant_cache tenants;      /* kept right by the tenant watcher */
    struct token_memo tokens;         /* bearer tokens verified before */
    struct tenant_share share;        /* request threads each tenant holds (dispatch.c) */
    struct allowance allowance;       /* publish limit tokens held locally (allowance.h) */
    struct mtm_cursor_key cursor_key; /* from MTM_JWT_SECRET; read-only after start-up */
    struct mtm_publisher *publisher;  /* owned: every thread publishes messages through it */
};

/* Who may call a route (auth.c enforces it). */
enum api_access {
    API_PUBLIC = 0,   /* anyone */
    API_ADMIN,        /* admin tokens only */
    API_TENANT,       /* admin, or a token of the tenant named by {id} */
    API_TENANT_QUERY, /* admin, or a token of the tenant named by ?tenant_id */
    API_METRICS,      /* admin, or the scrape token MTM_METRICS_TOKEN */
    API_ALERTS,       /* admin, or Alertmanager's webhook token MTM_ALERTS_TOKEN */
};

struct api_thread {
    struct api_ctx *ctx; /* borrowed */
    int index;
    struct mtm_pg pg;       /* owned */
    struct mtm_amqp amqp;   /* owned */
    struct mtm_log_ctx log; /* carries the current request's id, trace and tenant */
    struct mtm_claims who;  /* the current request's verified token; zeroed if none */
    struct mtm_fault fault; /* why the current request failed (api_fail) */
    bool sharing;           /* holds a slot of ctx->share for the current request */
};

/*
 * A handler either answers its request and returns 0, or returns an error
 * code with t->fault filled (api_fail, api_fail_db, the field checks) and
 * answers nothing: api_dispatch turns the fault into the answer, in one
 * place (answer.c). Helpers that can fail follow the same rule.
 */
typedef int api_handler(struct api_thread *t, struct mtm_request *r);

struct api_route {
    struct mtm_route match; /* first: the router reads it */
    enum api_access access;
    api_handler *fn;
};

#endif
