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
 *   POST   /api/auth/login                   admin password -> admin token,
 *                                            throttled per client address
 *   POST   /api/tenants/{id}/tokens          issue a tenant token (admin)
 *   GET    /api/tenants/{id}/tokens          list (never the token itself)
 *   DELETE /api/tenants/{id}/tokens/{jti}    revoke at once
 *   GET    /api/audit                        admin actions, keyset pages
 */
#include <arpa/inet.h>
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

/*
 * Login throttling, per client address (sql/0014_login_throttle.sql): the
 * first LOGIN_FREE_ATTEMPTS attempts of an address go on at once; after
 * that each attempt let through makes the next wait twice as long, from
 * LOGIN_DELAY_BASE_S up to LOGIN_DELAY_CAP_S. A record is forgotten
 * LOGIN_FORGET_S after its last attempt (longer than the cap, so waiting
 * out the cap does not start over with free attempts). At most half of the
 * request threads hash passwords at once; the others answer 429 at once,
 * so a login flood from many addresses cannot take every thread.
 */
#define LOGIN_FREE_ATTEMPTS "5" /* text: they are parameters of mtm_login_attempt() */
#define LOGIN_DELAY_BASE_S "2"
#define LOGIN_DELAY_CAP_S "900"
#define LOGIN_FORGET_S "3600"

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
    const char *scrape = t->ctx->cfg->metrics_token, *hook = t->ctx->cfg->alerts_token;
    if (access == API_METRICS && scrape && mtm_password_equal(tok, scrape))
        return 0; /* the scrape token reads metrics and nothing else */
    if (access == API_ALERTS && hook && mtm_password_equal(tok, hook))
        return 0; /* the webhook token posts alerts and nothing else */
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
        case API_METRICS:
        case API_ALERTS: return forbid(r, "this route needs an admin token");
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

static void too_many(struct mtm_request *r, long wait, const char *why)
{
    char retry[24];
    snprintf(retry, sizeof(retry), "%ld", wait > 0 ? wait : 1);
    struct mtm_header h = {"Retry-After", retry};
    struct json_object *p = mtm_problem_new(429, "%s", why);
    mtm_respond_problem(r, p, &h, 1);
    json_object_put(p);
}

/*
 * The key a client's login attempts are counted under: its address, with
 * an IPv6 address cut to its /64 (one host usually holds a whole /64, so
 * counting single IPv6 addresses would give it 2^64 fresh records).
 * REMOTE_ADDR is already the client's own address behind a trusted proxy
 * (lighttpd's mod_extforward, MTM_TRUSTED_PROXIES).
 */
static void throttle_key(const char *addr, char *out, size_t outlen)
{
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];
    if (inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, v4mapped, sizeof(v4mapped)) != 0) {
            memset(a + 8, 0, 8);
            if (inet_ntop(AF_INET6, a, text, sizeof(text))) {
                snprintf(out, outlen, "%s/64", text);
                return;
            }
        }
    }
    snprintf(out, outlen, "%s", addr);
}

/* Takes one of the password-check slots (half the request threads, at
 * least one); false when all are taken. */
static bool hashing_enter(struct api_ctx *ctx)
{
    int max = ctx->cfg->api_threads / 2 > 0 ? ctx->cfg->api_threads / 2 : 1;
    if (atomic_fetch_add(&ctx->login_hashing, 1) >= max) {
        atomic_fetch_sub(&ctx->login_hashing, 1);
        return false;
    }
    return true;
}

void api_login(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    static const char *const allowed[] = {"username", "password", NULL};
    const char *user = NULL, *pass = NULL;
    char err[512], key[INET6_ADDRSTRLEN + 8];
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

    /* The address's turn, taken and counted in one statement before any
     * password work: concurrent guesses cannot all pass one check. */
    throttle_key(r->remote_addr, key, sizeof(key));
    const char *tp[] = {
        key, user, LOGIN_FREE_ATTEMPTS, LOGIN_DELAY_BASE_S, LOGIN_DELAY_CAP_S, LOGIN_FORGET_S};
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_ATTEMPT, tp, &res, err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    bool go = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    long attempts = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    long wait = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 2), NULL, 10) : 1;
    PQclear(res);
    if (!go) {
        too_many(r, wait, "too many failed logins from this address; retry later");
        return;
    }
    if (!hashing_enter(t->ctx)) {
        too_many(r, 1, "too many logins in progress; retry later");
        return;
    }
    rc = sync_admin(t, err, sizeof(err));
    bool ok = false;
    if (!rc) {
        const char *up[] = {user};
        rc = mtm_pg_exec(&t->pg, MTM_STMT_USER_GET, up, &res, err, sizeof(err));
    }
    if (!rc) {
        if (PQntuples(res) == 1) {
            ok = mtm_password_check(pass, PQgetvalue(res, 0, 0));
        } else {
            mtm_password_check_dummy(pass);
            ok = false;
        }
        PQclear(res);
    }
    atomic_fetch_sub(&t->ctx->login_hashing, 1);
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    if (!ok) {
        /* One audit entry per address and record: its first failure. The
         * rest are summed up in one login.failures entry when the record
         * expires (mtm_login_sweep) or in the next login.success. */
        if (attempts == 1)
            api_audit(t, r, user, "login.failure", NULL, NULL);
        /* No token was presented: a plain challenge, not invalid_token. */
        struct mtm_header h = {"WWW-Authenticate", "Bearer realm=\"mtm\""};
        struct json_object *lp = mtm_problem_new(401, "wrong username or password");
        mtm_respond_problem(r, lp, &h, 1);
        json_object_put(lp);
        return;
    }
    const char *kp[] = {key};
    long failures = 0;
    if (mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_CLEAR, kp, &res, err, sizeof(err))) {
        LOG_WARN(&t->log, "login throttle of %s not cleared: %s", key, err);
    } else {
        /* attempts counts this one too */
        if (PQntuples(res) == 1)
            failures = strtol(PQgetvalue(res, 0, 0), NULL, 10) - 1;
        PQclear(res);
    }

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
    struct json_object *detail = NULL;
    if (failures > 0) {
        detail = json_object_new_object();
        json_object_object_add(detail, "failures_before", json_object_new_int64(failures));
    }
    api_audit(t, r, user, "login.success", NULL, detail);
    json_object_put(detail);
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

/* ?order=asc|desc (default asc, oldest first) and ?target=<tenant id>. */
void api_audit_list(void *vt, struct mtm_request *r)
{
    struct api_thread *t = vt;
    bool asc;
    char target[MTM_UUID_STRLEN + 2], err[512];
    if (api_order_param(r, true, &asc))
        return;
    int trc = mtm_query_get(r->query, "target", target, sizeof(target));
    if (trc != MTM_ENOTFOUND && (trc || !mtm_uuid_canonical(target))) {
        struct json_object *p = mtm_problem_new(422, "invalid");
        mtm_problem_add_field(p, "target", "must be a tenant id (a UUID)");
        api_respond_invalid(r, p);
        json_object_put(p);
        return;
    }
    const char *kind = asc ? "aa" : "ad";
    long limit;
    int64_t after = asc ? 0 : INT64_MAX;
    int rc = api_page_params(t, r, kind, trc ? API_SCOPE_ALL : target, &limit, &after);
    if (rc && rc != MTM_ENOTFOUND)
        return;
    char after_s[24], limit_s[24];
    snprintf(after_s, sizeof(after_s), "%lld", (long long)after);
    snprintf(limit_s, sizeof(limit_s), "%ld", limit + 1);
    const char *params[] = {after_s, limit_s, trc ? NULL : target};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, asc ? MTM_STMT_AUDIT_PAGE_ASC : MTM_STMT_AUDIT_PAGE_DESC, params, &res,
                     err, sizeof(err));
    if (rc) {
        api_respond_db_error(t, r, rc, err);
        return;
    }
    api_respond_page(t, r, res, limit, kind, trc ? API_SCOPE_ALL : target);
    PQclear(res);
}
