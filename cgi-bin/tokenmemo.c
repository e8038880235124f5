/* tokenmemo: see tokenmemo.h. */
#include "tokenmemo.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "password.h"
#include "xalloc.h"

void token_memo_init(struct token_memo *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    atomic_init(&m->hits, 0);
    atomic_init(&m->misses, 0);
}

void token_memo_cleanup(struct token_memo *m)
{
    for (size_t i = 0; i < TOKEN_MEMO_SLOTS; i++)
        free(m->slots[i].token);
    pthread_mutex_destroy(&m->lock);
}

int token_memo_verify(struct token_memo *m, const char *token, const char *secret, int64_t now,
                      struct mtm_claims *c, char *err, size_t errlen)
{
    if (!token || strlen(token) > MTM_TOKEN_MAX) /* refused in full, and not hashed */
        return mtm_token_verify(token, secret, now, c, err, errlen);
    struct token_memo_slot *slot = &m->slots[mtm_hash_str(MTM_HASH_INIT, token) % TOKEN_MEMO_SLOTS];
    pthread_mutex_lock(&m->lock);
    /* In constant time: a slot's token is a live credential, and the slot
     * a presented token lands in is no secret (an unkeyed hash). */
    bool known = slot->token && mtm_password_equal(slot->token, token);
    if (known)
        *c = slot->claims;
    pthread_mutex_unlock(&m->lock);
    atomic_fetch_add(known ? &m->hits : &m->misses, 1);
    if (known) {
        int rc = mtm_token_check_times(c, now, err, errlen);
        if (rc)
            memset(c, 0, sizeof(*c));
        return rc;
    }
    int rc = mtm_token_verify(token, secret, now, c, err, errlen);
    if (rc)
        return rc;
    char *copy = xstrdup(token); /* outside the lock */
    pthread_mutex_lock(&m->lock);
    char *old = slot->token;
    slot->token = copy;
    slot->claims = *c;
    pthread_mutex_unlock(&m->lock);
    free(old);
    return 0;
}

int token_memo_render(struct token_memo *m, struct mtm_buf *out)
{
    return mtm_buf_printf(
        out,
        "# HELP mtm_api_token_memo_lookups_total Bearer tokens whose signature was verified "
        "before (hit) or is verified now (miss).\n"
        "# TYPE mtm_api_token_memo_lookups_total counter\n"
        "mtm_api_token_memo_lookups_total{result=\"hit\"} %lld\n"
        "mtm_api_token_memo_lookups_total{result=\"miss\"} %lld\n",
        (long long)atomic_load(&m->hits), (long long)atomic_load(&m->misses));
}
