/*
 * token: mtm's JSON Web Tokens (HS256 only), made and checked with libjwt.
 *
 * Claims: sub, role ("admin" or "tenant"), tenant_id (tenant tokens only),
 * iat, nbf, exp, jti. Verification accepts exactly one algorithm: libjwt
 * 1.10's jwt_decode takes the algorithm from the token's own header (so a
 * token saying "none" would decode without a signature check); the
 * algorithm is therefore compared with HS256 after decoding and anything
 * else is refused. exp and nbf are checked with MTM_TOKEN_LEEWAY_S of
 * leeway; claims must have the right types and shapes. What the database
 * knows (revocation, the tenant still existing) is checked by the caller.
 */
#ifndef MTM_TOKEN_H
#define MTM_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "uuid.h"

#define MTM_TOKEN_LEEWAY_S 30
#define MTM_TOKEN_MAX 4096 /* bytes of a bearer token we will look at */

enum mtm_role {
    MTM_ROLE_ADMIN = 1,
    MTM_ROLE_TENANT = 2,
};

struct mtm_claims {
    enum mtm_role role;
    char sub[129];
    char tenant_id[MTM_UUID_STRLEN + 1]; /* "" for admin tokens */
    char jti[MTM_UUID_STRLEN + 1];
    int64_t iat, nbf, exp; /* seconds since the epoch */
};

/*
 * Signs claims (jti must be set, exp > iat) into a new token string the
 * caller frees.
 */
int mtm_token_sign(const struct mtm_claims *c, const char *secret, char **out, char *err,
                   size_t errlen) MTM_MUST_CHECK;

/* Verifies token at time now; MTM_EAUTH with the reason in err. */
int mtm_token_verify(const char *token, const char *secret, int64_t now, struct mtm_claims *c,
                     char *err, size_t errlen) MTM_MUST_CHECK;

/* The part of mtm_token_verify that depends on the time: exp and nbf of
 * verified claims at now, with MTM_TOKEN_LEEWAY_S; MTM_EAUTH when outside. */
int mtm_token_check_times(const struct mtm_claims *c, int64_t now, char *err,
                          size_t errlen) MTM_MUST_CHECK;

#endif
