/*
 * tokenmemo: the responder's memory of the bearer tokens whose signature
 * and claims it has verified, so that a client sending the same token with
 * every request (a producer publishing) does not pay the HMAC, the base64
 * and the JSON of the claims each time. A profile of single publishes put
 * them (libcrypto, libjansson, libjwt, libb64) at about an eighth of the
 * responder's CPU.
 *
 * Only tokens that passed mtm_token_verify are kept, by their exact bytes
 * (a token differing in any byte, its signature included, is verified in
 * full), under the one MTM_JWT_SECRET a process has for its lifetime. A
 * token found here has its exp and nbf checked again at every use
 * (mtm_token_check_times), so it expires exactly as before. What the
 * database knows (revocation, the tenant) is not kept here: the caller
 * checks it as for a token verified in full (tenantcache.h keeps that).
 *
 * TOKEN_MEMO_SLOTS slots, chosen by the token's hash; a token verified
 * later takes the slot of the one before. Tokens are compared in constant
 * time. Thread-safe: one mutex, held to compare and copy.
 */
#ifndef MTM_TOKENMEMO_H
#define MTM_TOKENMEMO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "token.h"

#define TOKEN_MEMO_SLOTS 1024

struct token_memo_slot {
    char *token; /* owned; NULL while free */
    struct mtm_claims claims;
};

struct token_memo {
    pthread_mutex_t lock;
    struct token_memo_slot slots[TOKEN_MEMO_SLOTS];
    atomic_llong hits, misses;
};

void token_memo_init(struct token_memo *m);
void token_memo_cleanup(struct token_memo *m);

/* As mtm_token_verify (token.h), answered from the memo when token was
 * verified before; a token that verifies is kept. */
int token_memo_verify(struct token_memo *m, const char *token, const char *secret, int64_t now,
                      struct mtm_claims *c, char *err, size_t errlen) MTM_MUST_CHECK;

/* Appends mtm_api_token_memo_lookups_total in Prometheus text format. */
int token_memo_render(struct token_memo *m, struct mtm_buf *out) MTM_MUST_CHECK;

#endif
