/*
 * test_token: signing and verifying mtm's JWTs (lib/token.c).
 *
 * Good tokens round-trip with every claim. Tokens that must be refused are
 * built with libjwt directly (so each carries exactly one defect): another
 * secret, another algorithm (HS512, "none"), missing or mistyped claims, an
 * unknown role, a tenant token without a valid tenant_id, expiry and
 * not-before just inside and just outside the leeway, and text that is not
 * a JWT at all. Every refusal is MTM_EAUTH with its reason in err.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define TENANT "0b5e7c3a-1111-4222-8333-944445555666"
#define JTI "11111111-2222-4333-8444-555555555555"
#define NOW 1700000000

static struct mtm_claims admin_claims(void)
{
    struct mtm_claims c = {.role = MTM_ROLE_ADMIN, .iat = NOW, .nbf = NOW, .exp = NOW + 3600};
    snprintf(c.sub, sizeof(c.sub), "admin");
    snprintf(c.jti, sizeof(c.jti), JTI);
    return c;
}

/* A token with exactly these claims (JSON), signed by libjwt itself. */
static char *forge(const char *claims_json, jwt_alg_t alg, const char *secret)
{
    jwt_t *jwt = NULL;
    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims_json), 0);
    assert_int_equal(
        jwt_set_alg(jwt, alg, (const unsigned char *)secret, secret ? (int)strlen(secret) : 0), 0);
    char *s = jwt_encode_str(jwt);
    assert_non_null(s);
    jwt_free(jwt);
    return s;
}

static void expect_refused(const char *token, int64_t now, const char *why)
{
    struct mtm_claims c;
    char err[256] = "";
    assert_int_equal(mtm_token_verify(token, SECRET, now, &c, err, sizeof(err)), MTM_EAUTH);
    assert_contains(err, why);
}

static void expect_forged_refused(const char *claims_json, const char *why)
{
    char *t = forge(claims_json, JWT_ALG_HS256, SECRET);
    expect_refused(t, NOW, why);
    free(t);
}

static void test_admin_round_trip(void **state)
{
    (void)state;
    struct mtm_claims in = admin_claims(), out;
    char *token = NULL, err[256] = "";
    assert_int_equal(mtm_token_sign(&in, SECRET, &token, err, sizeof(err)), 0);
    assert_non_null(token);
    assert_int_equal(mtm_token_verify(token, SECRET, NOW, &out, err, sizeof(err)), 0);
    assert_int_equal(out.role, MTM_ROLE_ADMIN);
    assert_string_equal(out.sub, "admin");
    assert_string_equal(out.tenant_id, "");
    assert_string_equal(out.jti, JTI);
    assert_int_equal(out.iat, NOW);
    assert_int_equal(out.nbf, NOW);
    assert_int_equal(out.exp, NOW + 3600);
    free(token);
}

static void test_tenant_round_trip(void **state)
{
    (void)state;
    struct mtm_claims in = admin_claims(), out;
    in.role = MTM_ROLE_TENANT;
    snprintf(in.sub, sizeof(in.sub), "reporting-job");
    snprintf(in.tenant_id, sizeof(in.tenant_id), TENANT);
    char *token = NULL, err[256] = "";
    assert_int_equal(mtm_token_sign(&in, SECRET, &token, err, sizeof(err)), 0);
    assert_int_equal(mtm_token_verify(token, SECRET, NOW, &out, err, sizeof(err)), 0);
    assert_int_equal(out.role, MTM_ROLE_TENANT);
    assert_string_equal(out.sub, "reporting-job");
    assert_string_equal(out.tenant_id, TENANT);
    free(token);
}

static void test_wrong_secret(void **state)
{
    (void)state;
    struct mtm_claims in = admin_claims();
    char *token = NULL, err[256] = "";
    assert_int_equal(
        mtm_token_sign(&in, "another secret of 32 bytes or more!", &token, err, sizeof(err)), 0);
    expect_refused(token, NOW, "signature");
    free(token);
}

/* A token whose signature part was changed by one character. */
static void test_tampered_signature(void **state)
{
    (void)state;
    struct mtm_claims in = admin_claims();
    char *token = NULL, err[256] = "";
    assert_int_equal(mtm_token_sign(&in, SECRET, &token, err, sizeof(err)), 0);
    char *last = token + strlen(token) - 1;
    *last = *last == 'A' ? 'B' : 'A';
    expect_refused(token, NOW, "signature");
    free(token);
}

static void test_other_algorithms(void **state)
{
    (void)state;
    static const char claims[] = "{\"sub\":\"admin\",\"role\":\"admin\",\"jti\":\"" JTI "\","
                                 "\"iat\":1700000000,\"exp\":1700003600}";
    char *t = forge(claims, JWT_ALG_HS512, SECRET);
    expect_refused(t, NOW, "not HS256");
    free(t);
    /* alg "none": no signature at all; libjwt would accept it without one. */
    t = forge(claims, JWT_ALG_NONE, NULL);
    expect_refused(t, NOW, "");
    free(t);
}

static void test_missing_or_bad_claims(void **state)
{
    (void)state;
    /* No jti; no sub; no exp; no iat; sub too long; role not a string. */
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"iat\":1,\"exp\":1700003600}",
                          "lacks a required claim");
    expect_forged_refused("{\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,\"exp\":1700003600}",
                          "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1}",
                          "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\","
                          "\"exp\":1700003600}",
                          "lacks a required claim");
    char claims[512];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%0129d\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
             "\"exp\":1700003600}",
             0);
    expect_forged_refused(claims, "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":\"1700003600\"}",
                          "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600.5}",
                          "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":true}",
                          "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\","
                          "\"iat\":\"yesterday\",\"exp\":1700003600}",
                          "lacks a required claim");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600,\"nbf\":\"soon\"}",
                          "nbf is not a number");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600,\"nbf\":null}",
                          "nbf is not a number");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600,\"nbf\":-1.0}",
                          "nbf is not a number");
}

static void test_roles(void **state)
{
    (void)state;
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"root\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600}",
                          "role is unknown");
    /* Role names are exact: no case folding. */
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"Admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600}",
                          "role is unknown");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"tenant\",\"jti\":\"" JTI "\",\"iat\":1,"
                          "\"exp\":1700003600}",
                          "no valid tenant_id");
    expect_forged_refused("{\"sub\":\"a\",\"role\":\"tenant\",\"tenant_id\":\"not-a-uuid\","
                          "\"jti\":\"" JTI "\",\"iat\":1,\"exp\":1700003600}",
                          "no valid tenant_id");
    /* An admin token carrying a tenant_id is still an admin token; the
     * claim is not copied (admin claims have tenant_id ""). */
    char *t = forge("{\"sub\":\"a\",\"role\":\"admin\",\"tenant_id\":\"" TENANT "\","
                    "\"jti\":\"" JTI "\",\"iat\":1,\"exp\":1700003600}",
                    JWT_ALG_HS256, SECRET);
    struct mtm_claims c;
    char err[256] = "";
    assert_int_equal(mtm_token_verify(t, SECRET, NOW, &c, err, sizeof(err)), 0);
    assert_int_equal(c.role, MTM_ROLE_ADMIN);
    assert_string_equal(c.tenant_id, "");
    free(t);
}

static void test_expiry_and_not_before_leeway(void **state)
{
    (void)state;
    struct mtm_claims in = admin_claims(), out;
    in.nbf = NOW + 100;
    in.exp = NOW + 200;
    char *token = NULL, err[256] = "";
    assert_int_equal(mtm_token_sign(&in, SECRET, &token, err, sizeof(err)), 0);
    /* nbf: accepted from nbf - leeway on. */
    expect_refused(token, NOW + 100 - MTM_TOKEN_LEEWAY_S - 1, "not valid yet");
    assert_int_equal(
        mtm_token_verify(token, SECRET, NOW + 100 - MTM_TOKEN_LEEWAY_S, &out, err, sizeof(err)), 0);
    /* exp: accepted up to exp + leeway. */
    assert_int_equal(
        mtm_token_verify(token, SECRET, NOW + 200 + MTM_TOKEN_LEEWAY_S, &out, err, sizeof(err)), 0);
    expect_refused(token, NOW + 200 + MTM_TOKEN_LEEWAY_S + 1, "expired");
    free(token);
    /* No nbf at all: valid from the start. */
    char *t = forge("{\"sub\":\"a\",\"role\":\"admin\",\"jti\":\"" JTI "\",\"iat\":1,"
                    "\"exp\":1700003600}",
                    JWT_ALG_HS256, SECRET);
    assert_int_equal(mtm_token_verify(t, SECRET, 0, &out, err, sizeof(err)), 0);
    assert_int_equal(out.nbf, 0);
    free(t);
}

static void test_not_a_jwt(void **state)
{
    (void)state;
    expect_refused(NULL, NOW, "missing or too long");
    expect_refused("", NOW, "missing or too long");
    char *big = malloc(MTM_TOKEN_MAX + 2);
    memset(big, 'a', MTM_TOKEN_MAX + 1);
    big[MTM_TOKEN_MAX + 1] = '\0';
    expect_refused(big, NOW, "missing or too long");
    free(big);
    expect_refused("abc", NOW, "not a JWT");
    expect_refused("a.b", NOW, "not a JWT");
    expect_refused("a.b.c.d", NOW, "not a JWT");
    expect_refused("a+b.c/d.e=", NOW, "not a JWT"); /* base64, not base64url */
    expect_refused("a.b.c ", NOW, "not a JWT");
    expect_refused("..", NOW, "signature or encoding");
    expect_refused("e30.e30.", NOW, "signature or encoding"); /* {} . {} . nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_round_trip),
        cmocka_unit_test(test_tenant_round_trip),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_tampered_signature),
        cmocka_unit_test(test_other_algorithms),
        cmocka_unit_test(test_missing_or_bad_claims),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_expiry_and_not_before_leeway),
        cmocka_unit_test(test_not_a_jwt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
