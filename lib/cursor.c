/* cursor: see cursor.h. */
#include "cursor.h"

#include <stdio.h>
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

int mtm_cursor_encode(const char *kind, int64_t key, char *out, size_t outlen)
{
    char plain[48];
    int n = snprintf(plain, sizeof(plain), "%s:%lld", kind, (long long)key);
    if (n < 0 || (size_t)n >= sizeof(plain) || key < 0)
        return MTM_EINVAL;
    if (!mtm_base64url_encode((const unsigned char *)plain, (size_t)n, out, outlen))
        return MTM_ETOOBIG;
    return 0;
}

int mtm_cursor_decode(const char *kind, const char *text, int64_t *key)
{
    unsigned char plain[48];
    if (strlen(text) >= MTM_CURSOR_MAX)
        return MTM_EPARSE;
    long n = mtm_base64url_decode(text, plain, sizeof(plain) - 1);
    if (n <= 0)
        return MTM_EPARSE;
    plain[n] = '\0';
    size_t klen = strlen(kind);
    if ((size_t)n <= klen + 1 || memcmp(plain, kind, klen) != 0 || plain[klen] != ':')
        return MTM_EPARSE;
    int64_t v = 0;
    const unsigned char *p = plain + klen + 1, *end = plain + n;
    if (*p == '0' && p + 1 < end)
        return MTM_EPARSE; /* one encoding per key: no leading zeros */
    /* Every decoded byte is a digit: an embedded NUL must not end the key
     * early (found by fuzz_cursor). */
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || v > (INT64_MAX - (*p - '0')) / 10)
            return MTM_EPARSE;
        v = v * 10 + (*p - '0');
    }
    *key = v;
    return 0;
}
