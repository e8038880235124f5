/*
 * hex: see hex.h.
 */
#include "hex.h"

int mtm_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long mtm_hex_value(const char *s, size_t n)
{
    if (n == 0 || n > 8)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = mtm_hex_digit((unsigned char)s[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

int mtm_hex_decode(const char *hex, size_t n, unsigned char *out)
{
    if (n % 2)
        return MTM_EPARSE;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = mtm_hex_digit((unsigned char)hex[2 * i]);
        int lo = mtm_hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return MTM_EPARSE;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}
