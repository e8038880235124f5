/*
 * auth: who is calling, and may they.
 *
 * Every route names its access rule (api.h). For all but the public ones,
 * the request must carry `Authorization: Bearer <JWT>`: the token is
 * verified (token.h: signature, HS256 only, exp/nbf with leeway, claim
 * shapes); a tenant token must also be known, unrevoked, and its tenant not
 * being deleted (one indexed lookup). Failures answer 401 with a
 * WWW-Authenticate challenge; a valid token without the scope answers 403.
 * The verified identity then sets the database session's row-level
 * security scope (sql/0008_row_security.sql) before the handler runs, so a
 * handler bug cannot read another tenant's rows either.
 *
 *   POST   /api/auth/login                   admin password -> admin token
 *   POST   /api/tenants/{id}/tokens          issue a tenant token (admin)
 *   GET    /api/tenants/{id}/tokens          list (never the token itself)
 *   DELETE /api/tenants/{id}/tokens/{jti}    revoke at once
 *   GET    /api/audit                        admin actions, keyset pages
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "fields.h"
#include "password.h"
#include "problem.h"
#include "timeutil.h"
#include "token.h"
#include "uuid.h"
#include "xalloc.h"

#define ADMIN_TOKEN_TTL_S 3600
#define TENANT_TOKEN_TTL_DEFAULT_S (30 * 24 * 3600)
#define TENANT_TOKEN_TTL_MAX_S (365 * 24 * 3600)
#define LOGIN_MAX_FAILURES 5
#define LOGIN_WINDOW_S 300

static void challenge(struct mtm_request *r, const char *why)
{
    char value[256];
    if (why)
        snprintf(value, sizeof(value),
                 "Bearer realm=\"mtm\", error=\"invalid_token\", error_description=\"%s\"", why);
    else
        snprintf(value, sizeof(value), "Bearer realm=\"mtm\"");
    struct mtm_header h = {"WWW-Authenticate", value};
    struct json_object *p =
        mtm_problem_new(401, "%s", why ? why : "this route needs a bearer token");
    mtm_respond_problem(r, p, &h, 1);
    json_object_put(p);
}

static int forbid(struct mtm_request *r, const char *why)
{
    mtm_respond_error(r, 403, "%s", why);
    return MTM_EFORBIDDEN;
}

/* The bearer token of the request, or NULL. */
static const char *bearer(struct mtm_request *r)
{
    const char *h = mtm_request_header(r, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static int check_tenant_token(struct api_thread *t, struct mtm_request *r)
{
    const char *params[] = {t->who.jti, t->who.tenant_id};
    int rows = api_exec_rows(t, r, MTM_STMT_TOKEN_VALID, params);
    if (rows < 0)
        return MTM_EUNAVAIL;
    if (rows != 1) {
        challenge(r, "the token was revoked or its tenant no longer exists");
        return MTM_EAUTH;
    }
    return 0;
}

/* Whether the token's tenant is `id` (a UUID in any case). */
/* Both ids are canonical (dispatch.c lowers the request's, api_authorize
 * the token's), so bytes compare: an id that somehow escaped
 * canonicalisation is refused rather than let through to name another
 * queue. */
static bool same_tenant(const struct api_thread *t, const char *id)
{
    return strcmp(t->who.tenant_id, id) == 0;
}

int api_authorize(struct api_thread *t, struct mtm_request *r, enum api_access access)
{
    char err[256];
    memset(&t->who, 0, sizeof(t->who));
    if (access == API_PUBLIC)
        return 0;
    const char *tok = bearer(r);
    if (!tok) {
        challenge(r, NULL);
        return MTM_EAUTH;
    }
    const char *scrape = t->ctx->cfg->metrics_token;
    if (access == API_METRICS && scrape && mtm_password_equal(tok, scrape))
        return 0; /* the scrape token reads metrics and nothing else */
    if (mtm_token_verify(tok, t->ctx->cfg->jwt_secret, mtm_wall_ms() / 1000, &t->who, err,
                         sizeof(err))) {
        memset(&t->who, 0, sizeof(t->who));
        challenge(r, err);
        return MTM_EAUTH;
    }
    if (t->who.role == MTM_ROLE_TENANT) {
        /* mtm issues lower-case ids; a token from elsewhere is held to the
         * same form as the request's ids (mtm_token_verify checked it is a
         * UUID). */
        mtm_uuid_canonical(t->who.tenant_id);
        int rc = check_tenant_token(t, r);
        if (rc)
            return rc;
        switch (access) {
        case API_ADMIN:
        case API_METRICS: return forbid(r, "this route needs an admin token");
        case API_TENANT:
            if (r->nparams && mtm_uuid_valid(r->params[0]) && !same_tenant(t, r->params[0]))
                return forbid(r, "the token belongs to another tenant");
            break;
        case API_TENANT_QUERY: {
            char q[MTM_UUID_STRLEN + 2];
            if (mtm_query_get(r->query, "tenant_id", q, sizeof(q)) == 0 && mtm_uuid_valid(q) &&
                !same_tenant(t, q))
                return forbid(r, "the token belongs to another tenant");
            break;
        }
        default: break;
        }
    }
    /* Row-level security scope for everything this request reads. */
    int rc = mtm_pg_set_session(&t->pg, MTM_STMT_SET_SCOPE,
                                t->who.role == MTM_ROLE_ADMIN ? "all" : "tenant", t->who.tenant_id,
                                err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return rc;
    }
    return 0;
}

void api_audit(struct api_thread *t, struct mtm_request *r, const char *actor, const char *action,
               const char *target, struct json_object *detail)
{
    char err[512];
    const char *params[] = {actor,          action,
                            target,         r->request_id,
                            r->remote_addr, detail ? json_object_to_json_string(detail) : "{}"};
    if (mtm_pg_exec(&t->pg, MTM_STMT_AUDIT_INSERT, params, NULL, err, sizeof(err))) {
        struct mtm_log_ctx log = t->log;
        log.request_id = r->request_id;
        LOG_ERROR(&log, "audit %s %s by %s not recorded: %s", action, target ? target : "-", actor,
                  err);
    }
}

/* ---- login -------------------------------------------------------------- */

/*
 * The admin account follows MTM_ADMIN_USER/MTM_ADMIN_PASSWORD: created at
 * the first login after start, and its hash replaced if the configured
 * password changed. Done once per process.
 */
static int sync_admin(struct api_thread *t, char *err, size_t errlen)
{
    const struct mtm_config *cfg = t->ctx->cfg;
    if (atomic_load(&t->ctx->admin_synced) || !cfg->admin_password)
        return 0;
    PGresult *res;
    const char *p1[] = {cfg->admin_user};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_USER_GET, p1, &res, err, errlen);
    if (rc)
        return rc;
    bool current =
        PQntuples(res) == 1 && mtm_password_check(cfg->admin_password, PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!current) {
        char *hash;
        rc = mtm_password_hash(cfg->admin_password, &hash);
        if (rc) {
            snprintf(err, errlen, "cannot hash the admin password");
            return rc;
        }
        const char *p2[] = {cfg->admin_user, hash};
        rc = mtm_pg_exec(&t->pg, MTM_STMT_USER_UPSERT, p2, NULL, err, errlen);
        free(hash);
        if (rc)
            return rc;
        LOG_INFO(&t->log, "admin account %s set from the configuration", cfg->admin_user);
    }
    atomic_store(&t->ctx->admin_synced, true);
    return 0;
}

static void answer_token(struct mtm_request *r, const char *token, long ttl)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "access_token", json_object_new_string(token));
    json_object_object_add(o, "token_type", json_object_new_string("Bearer"));
    json_object_object_add(o, "expires_in", json_object_new_int64(ttl));
    struct mtm_header h = {"Cache-Control", "no-store"};
    mtm_respond_json(r, 200, o, &h, 1);
    json_object_put(o);
}

void api_login(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    static const char *const allowed[] = {"username", "password", NULL};
    const char *user = NULL, *pass = NULL;
    char err[512], window[16], retry[24];
    struct json_object *p = mtm_problem_new(422, "invalid");
    int bad = mtm_field_object(r->json, p);
    if (!bad) {
        bad |= mtm_fields_only(r->json, allowed, p);
        bad |= mtm_field_string(r->json, "username", true, 1, 64, NULL, &user, p);
        bad |= mtm_field_string(r->json, "password", true, 1, 1024, NULL, &pass, p);
    }
    if (bad) {
        api_respond_invalid(r, p);
        json_object_put(p);
        return;
    }
    json_object_put(p);

    int rc = sync_admin(t, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    snprintf(window, sizeof(window), "%d", LOGIN_WINDOW_S);
    const char *tp[] = {user, r->remote_addr, window};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_THROTTLE, tp, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    int failures = PQntuples(res) ? (int)strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    long wait = PQntuples(res) ? strtol(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    PQclear(res);
    if (failures >= LOGIN_MAX_FAILURES) {
        snprintf(retry, sizeof(retry), "%ld", wait > 0 ? wait : 1);
        struct mtm_header h = {"Retry-After", retry};
        struct json_object *rp = mtm_problem_new(429, "too many failed logins; retry later");
        mtm_respond_problem(r, rp, &h, 1);
        json_object_put(rp);
        return;
    }

    const char *up[] = {user};
    rc = mtm_pg_exec(&t->pg, MTM_STMT_USER_GET, up, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    bool ok;
    if (PQntuples(res) == 1) {
        ok = mtm_password_check(pass, PQgetvalue(res, 0, 0));
    } else {
        mtm_password_check_dummy(pass);
        ok = false;
    }
    PQclear(res);
    if (!ok) {
        if (mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_FAILED, tp, NULL, err, sizeof(err)))
            LOG_WARN(&t->log, "login failure not counted: %s", err);
        api_audit(t, r, user, "login.failure", NULL, NULL);
        /* No token was presented: a plain challenge, not invalid_token. */
        struct mtm_header h = {"WWW-Authenticate", "Bearer realm=\"mtm\""};
        struct json_object *lp = mtm_problem_new(401, "wrong username or password");
        mtm_respond_problem(r, lp, &h, 1);
        json_object_put(lp);
        return;
    }
    const char *sp[] = {user, r->remote_addr};
    if (mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_SUCCEEDED, sp, NULL, err, sizeof(err)))
        LOG_WARN(&t->log, "login failures not cleared: %s", err);

    struct mtm_claims c = {.role = MTM_ROLE_ADMIN};
    int64_t now = mtm_wall_ms() / 1000;
    snprintf(c.sub, sizeof(c.sub), "%s", user);
    c.iat = c.nbf = now;
    c.exp = now + ADMIN_TOKEN_TTL_S;
    char *token = NULL;
    if (mtm_uuid7_new(c.jti) ||
        mtm_token_sign(&c, t->ctx->cfg->jwt_secret, &token, err, sizeof(err))) {
        LOG_ERROR(&t->log, "cannot issue a token: %s", err);
        mtm_respond_error(r, 500, "internal error (request %s)", r->request_id);
        return;
    }
    api_audit(t, r, user, "login.success", NULL, NULL);
    answer_token(r, token, ADMIN_TOKEN_TTL_S);
    free(token);
}

/* ---- tenant tokens ------------------------------------------------------ */

void api_tokens_create(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    static const char *const allowed[] = {"ttl", NULL};
    const char *tenant = api_path_tenant(r);
    if (!tenant)
        return;
    long ttl = TENANT_TOKEN_TTL_DEFAULT_S;
    if (r->body.len) {
        char perr[256];
        if (mtm_request_parse_json(r, perr, sizeof(perr))) {
            mtm_respond_error(r, 400, "%s", perr);
            return;
        }
        struct json_object *p = mtm_problem_new(422, "invalid");
        int bad = mtm_field_object(r->json, p);
        if (!bad) {
            bad |= mtm_fields_only(r->json, allowed, p);
            bad |= mtm_field_int(r->json, "ttl", false, 60, TENANT_TOKEN_TTL_MAX_S,
                                 TENANT_TOKEN_TTL_DEFAULT_S, &ttl, p);
        }
        if (bad) {
            api_respond_invalid(r, p);
            json_object_put(p);
            return;
        }
        json_object_put(p);
    }
    if (api_tenant_check(t, r, tenant, API_CHECK_DELETING, NULL))
        return;

    struct mtm_claims c = {.role = MTM_ROLE_TENANT};
    int64_t now = mtm_wall_ms() / 1000;
    char err[512], exp[24], *token = NULL;
    /* tenant is a validated UUID: 36 characters, hex in either case. */
    for (int i = 0; i < MTM_UUID_STRLEN; i++)
        c.tenant_id[i] = (char)tolower((unsigned char)tenant[i]);
    snprintf(c.sub, sizeof(c.sub), "tenant:%s", c.tenant_id);
    c.iat = c.nbf = now;
    c.exp = now + ttl;
    snprintf(exp, sizeof(exp), "%lld", (long long)c.exp);
    if (mtm_uuid7_new(c.jti)) {
        mtm_respond_error(r, 500, "internal error (request %s)", r->request_id);
        return;
    }
    const char *params[] = {c.jti, c.tenant_id, exp, t->who.sub};
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_TOKEN_INSERT, params, NULL, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    if (mtm_token_sign(&c, t->ctx->cfg->jwt_secret, &token, err, sizeof(err))) {
        LOG_ERROR(&t->log, "cannot sign a tenant token: %s", err);
        mtm_respond_error(r, 500, "internal error (request %s)", r->request_id);
        return;
    }
    struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "jti", json_object_new_string(c.jti));
    json_object_object_add(detail, "ttl", json_object_new_int64(ttl));
    api_audit(t, r, t->who.sub, "token.issue", c.tenant_id, detail);
    json_object_put(detail);

    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "token", json_object_new_string(token));
    json_object_object_add(o, "jti", json_object_new_string(c.jti));
    char when[32];
    time_t e = (time_t)c.exp;
    struct tm tm;
    gmtime_r(&e, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_object_add(o, "expires_at", json_object_new_string(when));
    struct mtm_header h = {"Cache-Control", "no-store"};
    mtm_respond_json(r, 201, o, &h, 1);
    json_object_put(o);
    free(token);
}

void api_tokens_list(void *vt, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(r);
    if (tenant)
        api_list_page(vt, r, MTM_STMT_TOKEN_PAGE, tenant, "k", 0);
}

void api_tokens_revoke(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    const char *tenant = api_path_tenant(r);
    if (!tenant)
        return;
    const char *jti = r->params[1];
    if (!mtm_uuid_valid(jti)) {
        mtm_respond_error(r, 404, "no token %.64s", jti);
        return;
    }
    const char *params[] = {tenant, jti};
    int found = api_exec_rows(t, r, MTM_STMT_TOKEN_REVOKE, params);
    if (found < 0)
        return;
    if (!found) {
        mtm_respond_error(r, 404, "no token %s for tenant %s", jti, tenant);
        return;
    }
    struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "jti", json_object_new_string(jti));
    api_audit(t, r, t->who.sub, "token.revoke", tenant, detail);
    json_object_put(detail);
    mtm_respond(r, 204, NULL, NULL, 0, NULL, 0);
}

void api_audit_list(void *vt, struct mtm_request *r)
{
    api_list_page(vt, r, MTM_STMT_AUDIT_PAGE, NULL, "a", 0);
}
