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
#include "auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "answer.h"
#include "common.h"
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

/* A 401 fault; why (NULL: no token was presented) also goes into the
 * challenge as an invalid_token description. */
static int challenge(struct api_thread *t, const char *why)
{
    if (why)
        snprintf(t->fault.challenge, sizeof(t->fault.challenge),
                 "Bearer realm=\"mtm\", error=\"invalid_token\", error_description=\"%.180s\"",
                 why);
    return api_fail(t, MTM_EAUTH, "%s", why ? why : "this route needs a bearer token");
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

/* The token is not revoked and its tenant exists and is not being deleted:
 * from the tenant cache when it found so recently (tenantcache.h), else
 * from the database. */
static int check_tenant_token(struct api_thread *t)
{
    struct tenant_cache *cache = &t->ctx->tenants;
    int64_t now = mtm_mono_ms(); /* before the read, as api_tenant_check */
    if (tenant_cache_token_valid(cache, t->who.tenant_id, t->who.jti, now))
        return 0;
    uint64_t generation = tenant_cache_generation(cache);
    const char *params[] = {t->who.jti, t->who.tenant_id};
    int rows;
    int rc = api_exec_rows(t, MTM_STMT_TOKEN_VALID, params, &rows);
    if (rc)
        return rc;
    if (rows != 1)
        return challenge(t, "the token was revoked or its tenant no longer exists");
    tenant_cache_token_put(cache, t->who.tenant_id, t->who.jti, generation, now);
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
    if (!tok)
        return challenge(t, NULL);
    const char *scrape = t->ctx->cfg->metrics_token, *hook = t->ctx->cfg->alerts_token;
    if (access == API_METRICS && scrape && mtm_password_equal(tok, scrape))
        return 0; /* the scrape token reads metrics and nothing else */
    if (access == API_ALERTS && hook && mtm_password_equal(tok, hook))
        return 0; /* the webhook token posts alerts and nothing else */
    if (token_memo_verify(&t->ctx->tokens, tok, t->ctx->cfg->jwt_secret, mtm_wall_ms() / 1000,
                          &t->who, err, sizeof(err))) {
        memset(&t->who, 0, sizeof(t->who));
        return challenge(t, err);
    }
    if (t->who.role == MTM_ROLE_TENANT) {
        /* mtm issues lower-case ids; a token from elsewhere is held to the
         * same form as the request's ids (mtm_token_verify checked it is a
         * UUID). */
        mtm_uuid_canonical(t->who.tenant_id);
        int rc = check_tenant_token(t);
        if (rc)
            return rc;
        switch (access) {
        case API_ADMIN:
        case API_METRICS:
        case API_ALERTS: return api_fail(t, MTM_EFORBIDDEN, "this route needs an admin token");
        case API_TENANT:
            if (r->nparams && mtm_uuid_valid(r->params[0]) && !same_tenant(t, r->params[0]))
                return api_fail(t, MTM_EFORBIDDEN, "the token belongs to another tenant");
            break;
        case API_TENANT_QUERY: {
            char q[MTM_UUID_STRLEN + 2];
            if (mtm_query_get(r->query, "tenant_id", q, sizeof(q)) == 0 && mtm_uuid_valid(q) &&
                !same_tenant(t, q))
                return api_fail(t, MTM_EFORBIDDEN, "the token belongs to another tenant");
            break;
        }
        default: break;
        }
    }
    /* Row-level security scope for everything this request reads, set
     * before its first statement (a publish usually runs none). */
    mtm_pg_set_session(&t->pg, MTM_STMT_SET_SCOPE, t->who.role == MTM_ROLE_ADMIN ? "all" : "tenant",
                       t->who.tenant_id);
    return 0;
}

void api_audit(struct api_thread *t, struct mtm_request *r, const char *actor, const char *action,
               const char *target, struct json_object *detail)
{
    char err[512];
    const char *params[] = {actor,          action,
                            target,         r->request_id,
                            r->remote_addr, detail ? json_object_to_json_string(detail) : "{}"};
    if (mtm_pg_exec(&t->pg, MTM_STMT_AUDIT_INSERT, params, NULL, err, sizeof(err)))
        LOG_ERROR(&t->log, "audit %s %s by %s not recorded: %s", action, target ? target : "-",
                  actor, err);
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

static int too_many(struct api_thread *t, long wait, const char *why)
{
    t->fault.retry_after = wait > 0 ? (int)(wait < 86400 ? wait : 86400) : 1;
    return api_fail(t, MTM_ERATELIMIT, "%s", why);
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

static int login_fields(struct api_thread *t, struct mtm_request *r, const char **user,
                        const char **pass)
{
    const struct mtm_field_rule rules[] = {
        {"username", MTM_FIELD_STRING, true, 1, 64, 0, NULL, user},
        {"password", MTM_FIELD_STRING, true, 1, 1024, 0, NULL, pass},
    };
    return mtm_fields_read(r->json, rules, 2, &t->fault);
}

/*
 * The address's turn, taken and counted in one statement before any
 * password work: concurrent guesses cannot all pass one check. 0 with
 * *attempts (this one included), or a fault (429 while the address must
 * wait, the database's error).
 */
static int login_turn(struct api_thread *t, const char *key, const char *user, long *attempts)
{
    char err[512];
    const char *tp[] = {
        key, user, LOGIN_FREE_ATTEMPTS, LOGIN_DELAY_BASE_S, LOGIN_DELAY_CAP_S, LOGIN_FORGET_S};
    PGresult *res;
    int rc = mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_ATTEMPT, tp, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    bool go = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    *attempts = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    long wait = PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 2), NULL, 10) : 1;
    PQclear(res);
    if (!go)
        return too_many(t, wait, "too many failed logins from this address; retry later");
    return 0;
}

/* Checks the password within one of the hashing slots: 0 with *ok, or a
 * fault (429 when every slot is taken, the database's error). */
static int login_check(struct api_thread *t, const char *user, const char *pass, bool *ok)
{
    char err[512];
    PGresult *res;
    if (!hashing_enter(t->ctx))
        return too_many(t, 1, "too many logins in progress; retry later");
    int rc = sync_admin(t, err, sizeof(err));
    *ok = false;
    if (!rc) {
        const char *up[] = {user};
        rc = mtm_pg_exec(&t->pg, MTM_STMT_USER_GET, up, &res, err, sizeof(err));
    }
    if (!rc) {
        if (PQntuples(res) == 1)
            *ok = mtm_password_check(pass, PQgetvalue(res, 0, 0));
        else
            mtm_password_check_dummy(pass);
        PQclear(res);
    }
    atomic_fetch_sub(&t->ctx->login_hashing, 1);
    return rc ? api_fail_db(t, rc, err) : 0;
}

/* Forgets the address's failures after a good login; returns how many
 * there were before it. */
static long login_clear(struct api_thread *t, const char *key)
{
    char err[512];
    PGresult *res;
    const char *kp[] = {key};
    long failures = 0;
    if (mtm_pg_exec(&t->pg, MTM_STMT_LOGIN_CLEAR, kp, &res, err, sizeof(err))) {
        LOG_WARN(&t->log, "login throttle of %s not cleared: %s", key, err);
        return 0;
    }
    if (PQntuples(res) == 1) /* attempts counts this one too */
        failures = strtol(PQgetvalue(res, 0, 0), NULL, 10) - 1;
    PQclear(res);
    return failures;
}

int api_login(struct api_thread *t, struct mtm_request *r)
{
    const char *user = NULL, *pass = NULL;
    char err[512], key[INET6_ADDRSTRLEN + 8];
    long attempts = 0;
    bool ok = false;
    throttle_key(r->remote_addr, key, sizeof(key));
    int rc = login_fields(t, r, &user, &pass);
    if (!rc)
        rc = login_turn(t, key, user, &attempts);
    if (!rc)
        rc = login_check(t, user, pass, &ok);
    if (rc)
        return rc;
    if (!ok) {
        /* One audit entry per address and record: its first failure. The
         * rest are summed up in one login.failures entry when the record
         * expires (mtm_login_sweep) or in the next login.success. No token
         * was presented: a plain challenge, not invalid_token. */
        if (attempts == 1)
            api_audit(t, r, user, "login.failure", NULL, NULL);
        return api_fail(t, MTM_EAUTH, "wrong username or password");
    }
    long failures = login_clear(t, key);

    struct mtm_claims c = {.role = MTM_ROLE_ADMIN};
    int64_t now = mtm_wall_ms() / 1000;
    snprintf(c.sub, sizeof(c.sub), "%s", user);
    c.iat = c.nbf = now;
    c.exp = now + ADMIN_TOKEN_TTL_S;
    char *token = NULL;
    if (mtm_uuid7_new(c.jti))
        return api_fail(t, MTM_EIO, "cannot make a token id");
    if (mtm_token_sign(&c, t->ctx->cfg->jwt_secret, &token, err, sizeof(err)))
        return api_fail(t, MTM_EINTERNAL, "cannot issue a token: %s", err);
    struct json_object *detail = NULL;
    if (failures > 0) {
        detail = json_object_new_object();
        json_object_object_add(detail, "failures_before", json_object_new_int64(failures));
    }
    api_audit(t, r, user, "login.success", NULL, detail);
    json_object_put(detail);
    answer_token(r, token, ADMIN_TOKEN_TTL_S);
    free(token);
    return 0;
}

/* ---- tenant tokens ------------------------------------------------------ */

/* The optional body {"ttl": seconds}: 0 with *ttl, or a fault. */
static int token_fields(struct api_thread *t, struct mtm_request *r, long *ttl)
{
    const struct mtm_field_rule rules[] = {
        {"ttl", MTM_FIELD_INT, false, 60, TENANT_TOKEN_TTL_MAX_S, TENANT_TOKEN_TTL_DEFAULT_S, NULL,
         ttl},
    };
    char perr[256];
    *ttl = TENANT_TOKEN_TTL_DEFAULT_S;
    if (!r->body.len)
        return 0;
    if (mtm_request_parse_json(r, perr, sizeof(perr)))
        return api_fail(t, MTM_EPARSE, "%s", perr);
    return mtm_fields_read(r->json, rules, 1, &t->fault);
}

int api_tokens_create(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    if (!tenant)
        return MTM_ENOTFOUND;
    long ttl = 0;
    int rc = token_fields(t, r, &ttl);
    if (!rc)
        rc = api_tenant_check(t, tenant, API_CHECK_DELETING, NULL);
    if (rc)
        return rc;

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
    if (mtm_uuid7_new(c.jti))
        return api_fail(t, MTM_EIO, "cannot make a token id");
    const char *params[] = {c.jti, c.tenant_id, exp, t->who.sub};
    rc = mtm_pg_exec(&t->pg, MTM_STMT_TOKEN_INSERT, params, NULL, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    if (mtm_token_sign(&c, t->ctx->cfg->jwt_secret, &token, err, sizeof(err)))
        return api_fail(t, MTM_EINTERNAL, "cannot sign a tenant token: %s", err);
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
    return 0;
}

int api_tokens_list(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    if (!tenant)
        return MTM_ENOTFOUND;
    return api_list_page(t, r, MTM_STMT_TOKEN_PAGE, tenant, "k", 0);
}

int api_tokens_revoke(struct api_thread *t, struct mtm_request *r)
{
    const char *tenant = api_path_tenant(t, r);
    if (!tenant)
        return MTM_ENOTFOUND;
    const char *jti = r->params[1];
    if (!mtm_uuid_valid(jti))
        return api_fail(t, MTM_ENOTFOUND, "no token %.64s", jti);
    const char *params[] = {tenant, jti};
    int found;
    int rc = api_exec_rows(t, MTM_STMT_TOKEN_REVOKE, params, &found);
    if (rc)
        return rc;
    if (!found)
        return api_fail(t, MTM_ENOTFOUND, "no token %s for tenant %s", jti, tenant);
    /* Refused by this process from now on; the others forget it when the
     * notification arrives (sql/0025_token_notify.sql). */
    tenant_cache_forget(&t->ctx->tenants, tenant);
    struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "jti", json_object_new_string(jti));
    api_audit(t, r, t->who.sub, "token.revoke", tenant, detail);
    json_object_put(detail);
    mtm_respond(r, 204, NULL, NULL, 0, NULL, 0);
    return 0;
}

/* ?order=asc|desc (default asc, oldest first) and ?target=<tenant id>. */
int api_audit_list(struct api_thread *t, struct mtm_request *r)
{
    bool asc;
    char target[MTM_UUID_STRLEN + 2], err[512];
    int rc = api_order_param(t, r, true, &asc);
    if (rc)
        return rc;
    int trc = mtm_query_get(r->query, "target", target, sizeof(target));
    if (trc != MTM_ENOTFOUND && (trc || !mtm_uuid_canonical(target)))
        return mtm_fault_field(&t->fault, "target", "must be a tenant id (a UUID)");
    const char *kind = asc ? "aa" : "ad";
    long limit;
    int64_t after = asc ? 0 : INT64_MAX;
    rc = api_page_params(t, r, kind, trc ? API_SCOPE_ALL : target, &limit, &after);
    if (rc && rc != MTM_ENOTFOUND)
        return rc;
    char after_s[24], limit_s[24];
    snprintf(after_s, sizeof(after_s), "%lld", (long long)after);
    snprintf(limit_s, sizeof(limit_s), "%ld", limit + 1);
    const char *params[] = {after_s, limit_s, trc ? NULL : target};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, asc ? MTM_STMT_AUDIT_PAGE_ASC : MTM_STMT_AUDIT_PAGE_DESC, params, &res,
                     err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    rc = api_respond_page(t, r, res, limit, kind, trc ? API_SCOPE_ALL : target, API_ROWS_VERBATIM);
    PQclear(res);
    return rc;
}
