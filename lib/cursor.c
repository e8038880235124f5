/* cursor: see cursor.h. */
#include "cursor.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t mtm_base64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++) {
            if (o + 1 >= outlen)
                return 0;
            out[o++] = alphabet[(v >> (18 - 6 * k)) & 0x3f];
        }
    }
    if (o >= outlen)
        return 0;
    out[o] = '\0';
    return o;
}

static int value_of(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

long mtm_base64url_decode(const char *in, unsigned char *out, size_t outlen)
{
    size_t n = strlen(in), o = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        uint32_t v = 0;
        size_t chars = n - i >= 4 ? 4 : n - i;
        for (size_t k = 0; k < 4; k++) {
            int d = k < chars ? value_of(in[i + k]) : 0;
            if (d < 0)
                return -1;
            v = (v << 6) | (uint32_t)d;
        }
        size_t bytes = chars - 1;
        /* Unused low bits of a final partial group must be zero, so every
         * byte string has exactly one encoding. */
        if (chars == 2 && (v & 0xffff))
            return -1;
        if (chars == 3 && (v & 0xff))
            return -1;
        for (size_t k = 0; k < bytes; k++) {
            if (o >= outlen)
                return -1;
            out[o++] = (unsigned char)(v >> (16 - 8 * k));
        }
    }
    return (long)o;
}

/* out = HMAC-SHA256(key, in); false if libcrypto fails. */
static bool hmac256(const unsigned char key[32], const void *in, size_t n, unsigned char out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, 32, in, n, out, &len) != NULL && len == 32;
}

int mtm_cursor_key_init(struct mtm_cursor_key *k, const void *secret, size_t len)
{
    static const char mac_label[] = "mtm cursor v1 mac", enc_label[] = "mtm cursor v1 enc";
    unsigned int n1 = 0, n2 = 0;
    bool ok = len <= INT32_MAX &&
              HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)mac_label,
                   sizeof(mac_label) - 1, k->mac, &n1) != NULL &&
              HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)enc_label,
                   sizeof(enc_label) - 1, k->enc, &n2) != NULL &&
              n1 == 32 && n2 == 32;
    if (!ok) {
        mtm_cursor_key_cleanup(k);
        return MTM_EINTERNAL;
    }
    return 0;
}

void mtm_cursor_key_cleanup(struct mtm_cursor_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

#define SEALED_LEN (8 + MTM_CURSOR_TAG_LEN)

/* The truncated tag of (kind, scope, be64 key). */
static int seal_tag(const struct mtm_cursor_key *k, const char *kind, const char *scope,
                    const unsigned char be[8], unsigned char tag[MTM_CURSOR_TAG_LEN])
{
    unsigned char msg[2 * MTM_CURSOR_SCOPE_MAX + 2 + 8], full[32];
    size_t kl = strlen(kind), sl = strlen(scope);
    if (kl > MTM_CURSOR_SCOPE_MAX || sl > MTM_CURSOR_SCOPE_MAX)
        return MTM_EINVAL;
    /* NUL separators: kind and scope are C strings, so the message parses
     * one way only. */
    memcpy(msg, kind, kl + 1);
    memcpy(msg + kl + 1, scope, sl + 1);
    memcpy(msg + kl + sl + 2, be, 8);
    if (!hmac256(k->mac, msg, kl + sl + 10, full))
        return MTM_EINTERNAL;
    memcpy(tag, full, MTM_CURSOR_TAG_LEN);
    return 0;
}

/* The mask that seals a key under its tag (the tag is the synthetic IV). */
static int seal_mask(const struct mtm_cursor_key *k, const unsigned char tag[MTM_CURSOR_TAG_LEN],
                     unsigned char mask[8])
{
    unsigned char full[32];
    if (!hmac256(k->enc, tag, MTM_CURSOR_TAG_LEN, full))
        return MTM_EINTERNAL;
    memcpy(mask, full, 8);
    return 0;
}

int mtm_cursor_encode(const struct mtm_cursor_key *k, const char *kind, const char *scope,
                      int64_t key, char *out, size_t outlen)
{
    unsigned char be[8], sealed[SEALED_LEN], mask[8];
    if (key < 0)
        return MTM_EINVAL;
    for (int i = 0; i < 8; i++)
        be[i] = (unsigned char)((uint64_t)key >> (56 - 8 * i));
    int rc = seal_tag(k, kind, scope, be, sealed + 8);
    if (!rc)
        rc = seal_mask(k, sealed + 8, mask);
    if (rc)
        return rc;
    for (int i = 0; i < 8; i++)
        sealed[i] = be[i] ^ mask[i];
    if (!mtm_base64url_encode(sealed, sizeof(sealed), out, outlen))
        return MTM_ETOOBIG;
    return 0;
}

int mtm_cursor_decode(const struct mtm_cursor_key *k, const char *kind, const char *scope,
                      const char *text, int64_t *key)
{
    unsigned char sealed[SEALED_LEN + 1], be[8], mask[8], tag[MTM_CURSOR_TAG_LEN];
    /* Exactly 24 bytes; the strict decoder gives every byte string one
     * text, so a cursor has one spelling. */
    if (strnlen(text, MTM_CURSOR_MAX) >= MTM_CURSOR_MAX ||
        mtm_base64url_decode(text, sealed, sizeof(sealed)) != SEALED_LEN)
        return MTM_EPARSE;
    if (seal_mask(k, sealed + 8, mask))
        return MTM_EPARSE;
    for (int i = 0; i < 8; i++)
        be[i] = sealed[i] ^ mask[i];
    if (seal_tag(k, kind, scope, be, tag) ||
        CRYPTO_memcmp(tag, sealed + 8, MTM_CURSOR_TAG_LEN) != 0)
        return MTM_EPARSE;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | be[i];
    if (v > INT64_MAX)
        return MTM_EPARSE; /* never issued: encode refuses negative keys */
    *key = (int64_t)v;
    return 0;
}
