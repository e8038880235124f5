/*
 * api: state of the FastCGI responder (mtm-api).
 *
 * One process runs MTM_API_THREADS request threads that all accept on the
 * same listening socket. Threads share only struct api_ctx, which is
 * read-only after start-up except for its atomics. Each thread
 * owns its struct api_thread: its PostgreSQL and RabbitMQ connections live
 * across requests (no connection per request) and are reconnected on demand
 * by the code that uses them. No thread ever touches another's connections.
 */
#ifndef MTM_API_H
#define MTM_API_H

#include <stdatomic.h>
#include <stdbool.h>

#include "amqp.h"
#include "config.h"
#include "cursor.h"
#include "httpmetrics.h"
#include "http.h"
#include "log.h"
#include "pg.h"
#include "tenantcache.h"
#include "token.h"

struct api_ctx {
    const struct mtm_config *cfg; /* borrowed from main */
    atomic_bool stopping;
    atomic_bool admin_synced; /* the admin account matches the configuration */
    atomic_int login_hashing; /* logins checking a password right now (auth.c) */
    struct httpmetrics metrics;
    struct tenant_cache tenants;      /* kept right by the tenant watcher */
    struct mtm_cursor_key cursor_key; /* from MTM_JWT_SECRET; read-only after start-up */
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
    struct mtm_pg pg;     /* owned */
    struct mtm_amqp amqp; /* owned */
    struct mtm_log_ctx log;
    struct mtm_claims who; /* the current request's verified token; zeroed if none */
};

void api_thread_init(struct api_thread *t, struct api_ctx *ctx, int index);
void api_thread_cleanup(struct api_thread *t);

/* Answers a failed database call: 503 (with Retry-After) for outages, 500
 * for anything else, which is logged with the request id. */
void api_respond_db_error(struct api_thread *t, struct mtm_request *r, int rc, const char *err);
/* Answers 422 with the field errors collected in problem (borrowed). */
void api_respond_invalid(struct mtm_request *r, struct json_object *problem);
/* The {id} path parameter if it is a UUID (canonical: lower case, see
 * dispatch.c); otherwise answers 404, NULL. */
const char *api_path_tenant(struct mtm_request *r);

/* Flags of api_tenant_check. */
enum {
    API_CHECK_DELETING = 1, /* a tenant being deleted is answered 409 */
    API_CHECK_FRESH = 2,    /* read the database, not the tenant cache */
};

/* 0 when the tenant exists (and, with API_CHECK_DELETING, is not being
 * deleted), filling *facts (its publish limit among them) if not NULL;
 * otherwise answers 404, 409 or 503 and returns the error. Reads the tenant cache (tenantcache.h)
 * unless API_CHECK_FRESH: use that where something just suggested the tenant changed (a queue that
 * vanished, an update that touched no row). */
int api_tenant_check(struct api_thread *t, struct mtm_request *r, const char *id, unsigned flags,
                     struct tenant_facts *facts);

#define API_PAGE_DEFAULT 50
#define API_PAGE_MAX 1000
/* A page stops adding rows before its JSON would pass this many bytes (it
 * always holds at least one row): one page never holds more than a few
 * MiB in the responder, whatever the limit and however large the rows. */
#define API_PAGE_BYTES (4 * 1024 * 1024)
/* The scope of a listing that is not one tenant's (tenants, audit). */
#define API_SCOPE_ALL "all"

/*
 * Reads limit (1..API_PAGE_MAX, default API_PAGE_DEFAULT) and cursor from
 * the query. Returns 0 with *after set from a cursor that this listing
 * (`kind`, and `scope`: the tenant id or API_SCOPE_ALL) issued, MTM_ENOTFOUND
 * when there is no cursor (*after untouched), or answers 422/400 and
 * returns that error.
 */
int api_page_params(struct api_thread *t, struct mtm_request *r, const char *kind,
                    const char *scope, long *limit, int64_t *after);
/*
 * Answers {"data":[...],"next_cursor":...} from rows of (key, JSON text
 * [, rows read]) fetched with LIMIT limit+1. Rows are added until limit or
 * until the next would take the page past API_PAGE_BYTES; there is a next
 * page when a row was left out, when the statement read more rows than it
 * returned (the third column: it cut the page at the budget itself), or
 * when the extra row came back. The cursor names the last row shown.
 * Answers {"data":[...],"next_cursor":...} from rows of (key, JSON text)
 * fetched with LIMIT limit+1: the extra row only says whether a next page
 * exists, and the cursor names the last row shown, in the listing (kind,
 * scope).
 */
void api_respond_page(struct api_thread *t, struct mtm_request *r, PGresult *res, long limit,
                      const char *kind, const char *scope);

/*
 * Checks the request's token against the route's access rule and sets the
 * database scope. Returns 0, or answers 401/403/503 and returns the error.
 */
int api_authorize(struct api_thread *t, struct mtm_request *r, enum api_access access);
/* Records an admin action (failures are logged, never fatal). detail may be NULL. */
void api_audit(struct api_thread *t, struct mtm_request *r, const char *actor, const char *action,
               const char *target, struct json_object *detail);

/* The responder's own metrics (HTTP, tenant cache), Prometheus text. */
int api_metrics_render(struct api_ctx *ctx, struct mtm_buf *out) MTM_MUST_CHECK;

/* The route table, for the metrics. */
const struct mtm_route *api_routes(size_t *n);

/*
 * One page of a keyset listing: reads limit and cursor, checks the tenant
 * (when not NULL), runs stmt with ([tenant,] after, limit + 1,
 * API_PAGE_BYTES) — a statement uses the parameters it declares, so the
 * budget is there for those that cut pages in SQL — and answers the page. first_after is the key
 * before the first row (0 ascending, INT64_MAX descending).
 */
void api_list_page(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                   const char *tenant, const char *kind, int64_t first_after);

/* Runs stmt and returns how many rows it returned, or answers the
 * database failure (503/500) and returns -1. */
int api_exec_rows(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                  const char *const *params);

/* ?order=asc|desc (absent: default_asc); answers 422 otherwise. */
int api_order_param(struct mtm_request *r, bool default_asc, bool *asc);

/* Routes one request and answers it; never leaves it unanswered. */
void api_dispatch(struct api_thread *t, struct mtm_request *r);

/* Handlers (one file per resource). */
void api_health(void *t, struct mtm_request *r);
void api_ready(void *t, struct mtm_request *r);
void api_tenant_create(void *t, struct mtm_request *r);
void api_tenant_list(void *t, struct mtm_request *r);
void api_overview(void *t, struct mtm_request *r);
void api_alerts_webhook(void *t, struct mtm_request *r);
void api_alerts_list(void *t, struct mtm_request *r);
void api_prometheus_query_range(void *t, struct mtm_request *r);
void api_tenant_get(void *t, struct mtm_request *r);
void api_tenant_delete(void *t, struct mtm_request *r);
void api_tenant_set_concurrency(void *t, struct mtm_request *r);
void api_tenant_pause(void *t, struct mtm_request *r);
void api_tenant_set_rate(void *t, struct mtm_request *r);
void api_tenant_resume(void *t, struct mtm_request *r);
void api_messages_publish(void *t, struct mtm_request *r);
void api_messages_list(void *t, struct mtm_request *r);
void api_tenant_messages_list(void *t, struct mtm_request *r);
void api_dlq_list(void *t, struct mtm_request *r);
void api_dlq_replay(void *t, struct mtm_request *r);
void api_dlq_purge(void *t, struct mtm_request *r);
void api_login(void *t, struct mtm_request *r);
void api_tokens_create(void *t, struct mtm_request *r);
void api_tokens_list(void *t, struct mtm_request *r);
void api_tokens_revoke(void *t, struct mtm_request *r);
void api_audit_list(void *t, struct mtm_request *r);
void api_metrics(void *t, struct mtm_request *r);

#endif
