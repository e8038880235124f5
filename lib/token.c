/* token: see token.h. */
#include "token.h"

#include <errno.h>
#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

int mtm_token_sign(const struct mtm_claims *c, const char *secret, char **out, char *err,
                   size_t errlen)
{
    jwt_t *jwt = NULL;
    int rc = 0;
    *out = NULL;
    if (jwt_new(&jwt) != 0) {
        snprintf(err, errlen, "jwt_new failed");
        return MTM_EINTERNAL;
    }
    if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) ||
        jwt_add_grant(jwt, "sub", c->sub) ||
        jwt_add_grant(jwt, "role", c->role == MTM_ROLE_ADMIN ? "admin" : "tenant") ||
        (c->role == MTM_ROLE_TENANT && jwt_add_grant(jwt, "tenant_id", c->tenant_id)) ||
        jwt_add_grant(jwt, "jti", c->jti) || jwt_add_grant_int(jwt, "iat", (long)c->iat) ||
        jwt_add_grant_int(jwt, "nbf", (long)c->nbf) ||
        jwt_add_grant_int(jwt, "exp", (long)c->exp)) {
        snprintf(err, errlen, "cannot build the token");
        rc = MTM_EINTERNAL;
    } else {
        char *s = jwt_encode_str(jwt);
        if (!s) {
            snprintf(err, errlen, "cannot sign the token");
            rc = MTM_EINTERNAL;
        } else {
            *out = xstrdup(s);
            free(s); /* libjwt 1.10 allocates it with malloc */
        }
    }
    jwt_free(jwt);
    return rc;
}

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return MTM_EAUTH;
}

/* A string claim copied into out (size outlen), or false. */
static bool str_claim(jwt_t *jwt, const char *name, char *out, size_t outlen)
{
    const char *v = jwt_get_grant(jwt, name);
    if (!v || strlen(v) >= outlen)
        return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

/*
 * An integer claim: 0, MTM_ENOTFOUND when absent, MTM_EINVAL when it is not
 * a JSON integer that fits. libjwt 1.10's jwt_get_grant_int answers 0 with
 * no error for a claim of another type ("exp":"soon", 1.5, true), so the
 * claim's own JSON text is read instead.
 */
static int int_claim(jwt_t *jwt, const char *name, int64_t *out)
{
    char *js = jwt_get_grants_json(jwt, name);
    if (!js)
        return MTM_ENOTFOUND;
    const char *p = js + (js[0] == '-');
    bool digits = *p != '\0';
    for (; *p && digits; p++)
        digits = *p >= '0' && *p <= '9';
    char *end;
    errno = 0;
    long long v = digits ? strtoll(js, &end, 10) : 0;
    int rc = digits && !errno && !*end ? 0 : MTM_EINVAL;
    free(js); /* libjwt 1.10 allocates it with malloc */
    if (!rc)
        *out = v;
    return rc;
}

int mtm_token_verify(const char *token, const char *secret, int64_t now, struct mtm_claims *c,
                     char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    if (!token || !*token || strlen(token) > MTM_TOKEN_MAX)
        return fail(err, errlen, "the token is missing or too long");
    /* Three base64url parts, nothing else. */
    size_t dots = 0;
    for (const char *p = token; *p; p++) {
        if (*p == '.')
            dots++;
        else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return fail(err, errlen, "the token is not a JWT");
    }
    if (dots != 2)
        return fail(err, errlen, "the token is not a JWT");

    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)strlen(secret)) != 0 || !jwt)
        return fail(err, errlen, "the token's signature or encoding is invalid");
    int rc = 0;
    char role[16];
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        rc = fail(err, errlen, "the token's algorithm is not HS256");
    else if (!str_claim(jwt, "sub", c->sub, sizeof(c->sub)) ||
             !str_claim(jwt, "role", role, sizeof(role)) ||
             !str_claim(jwt, "jti", c->jti, sizeof(c->jti)) || int_claim(jwt, "exp", &c->exp) ||
             int_claim(jwt, "iat", &c->iat))
        rc = fail(err, errlen, "the token lacks a required claim");
    else if (int_claim(jwt, "nbf", &c->nbf) == MTM_EINVAL)
        rc = fail(err, errlen, "the token's nbf is not a number");
    if (!rc) {
        if (strcmp(role, "admin") == 0) {
            c->role = MTM_ROLE_ADMIN;
        } else if (strcmp(role, "tenant") == 0) {
            c->role = MTM_ROLE_TENANT;
            if (!str_claim(jwt, "tenant_id", c->tenant_id, sizeof(c->tenant_id)) ||
                !mtm_uuid_valid(c->tenant_id))
                rc = fail(err, errlen, "the tenant token has no valid tenant_id");
        } else {
            rc = fail(err, errlen, "the token's role is unknown");
        }
    }
    if (!rc)
        rc = mtm_token_check_times(c, now, err, errlen);
    jwt_free(jwt);
    return rc;
}

int mtm_token_check_times(const struct mtm_claims *c, int64_t now, char *err, size_t errlen)
{
    if (now > c->exp + MTM_TOKEN_LEEWAY_S)
        return fail(err, errlen, "the token has expired");
    if (c->nbf && now + MTM_TOKEN_LEEWAY_S < c->nbf)
        return fail(err, errlen, "the token is not valid yet");
    return 0;
}
