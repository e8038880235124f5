/*
 * common: checks and answers that several resources share (common.c).
 */
#ifndef MTM_API_COMMON_H
#define MTM_API_COMMON_H

#include "api.h"

/* The {id} path parameter if it is a UUID (canonical: lower case, see
 * dispatch.c), also naming the tenant in t->log; otherwise NULL with a
 * 404 fault. */
const char *api_path_tenant(struct api_thread *t, struct mtm_request *r);

/* Flags of api_tenant_check. */
enum {
    API_CHECK_DELETING = 1, /* a tenant being deleted is answered 409 */
    API_CHECK_FRESH = 2,    /* read the database, not the tenant cache */
};

/* 0 when the tenant exists (and, with API_CHECK_DELETING, is not being
 * deleted), filling *facts (its publish limit among them) if not NULL;
 * otherwise returns the error (404, 409, 503) with t->fault filled. Reads the tenant cache
 * (tenantcache.h) unless API_CHECK_FRESH: use that where something just suggested the tenant
 * changed (a queue that vanished, an update that touched no row). */
int api_tenant_check(struct api_thread *t, const char *id, unsigned flags,
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
 * when there is no cursor (*after untouched), or the error (422, 400)
 * with t->fault filled.
 */
int api_page_params(struct api_thread *t, struct mtm_request *r, const char *kind,
                    const char *scope, long *limit, int64_t *after);
/* How api_respond_page copies each row's JSON text. */
enum api_rows {
    API_ROWS_VERBATIM, /* as read: payloads come back exactly as stored */
    API_ROWS_COMPACT,  /* without the whitespace PostgreSQL puts between tokens */
};

/*
 * Answers {"data":[...],"next_cursor":...} from rows of (key, JSON text
 * [, rows read]) fetched with LIMIT limit+1. Rows are added until limit or
 * until the next would take the page past API_PAGE_BYTES; there is a next
 * page when a row was left out, when the statement read more rows than it
 * returned (the third column: it cut the page at the budget itself), or
 * when the extra row came back. The cursor names the last row shown, in
 * the listing (kind, scope). 0, or an error with t->fault filled.
 */
int api_respond_page(struct api_thread *t, struct mtm_request *r, PGresult *res, long limit,
                     const char *kind, const char *scope, enum api_rows rows);

/*
 * One page of a keyset listing: reads limit and cursor, checks the tenant
 * (when not NULL), runs stmt with ([tenant,] after, limit + 1,
 * API_PAGE_BYTES) — a statement uses the parameters it declares, so the
 * budget is there for those that cut pages in SQL — and answers the page.
 * first_after is the key before the first row (0 ascending, INT64_MAX
 * descending). 0, or an error with t->fault filled.
 */
int api_list_page(struct api_thread *t, struct mtm_request *r, enum mtm_stmt stmt,
                  const char *tenant, const char *kind, int64_t first_after);

/* Runs stmt; 0 with *rows set to how many rows it returned, or the
 * database's error with t->fault filled. */
int api_exec_rows(struct api_thread *t, enum mtm_stmt stmt, const char *const *params, int *rows);

/* ?order=asc|desc (absent: default_asc); otherwise a 422 fault. */
int api_order_param(struct api_thread *t, struct mtm_request *r, bool default_asc, bool *asc);

#endif
