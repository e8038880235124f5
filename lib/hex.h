/*
 * hex: the one decoder of hexadecimal digits.
 *
 * Three inputs carry hex text: percent-escapes in query strings (lib/http),
 * \uXXXX escapes in JSON (lib/json) and PostgreSQL's encode(bytea, 'hex')
 * for dead-lettered bodies (cgi-bin/dlq). All read digits of either case.
 */
#ifndef MTM_HEX_H
#define MTM_HEX_H

#include <stddef.h>

#include "err.h"

/* The value 0..15 of the hex digit c, or -1 when c is not one. */
int mtm_hex_digit(int c);
/* The value of the n hex digits at s (1 <= n <= 8), or -1 when one is not a
 * digit. Reads exactly n bytes. */
long mtm_hex_value(const char *s, size_t n);
/* Decodes the n characters at hex into n / 2 bytes at out. Returns 0, or
 * MTM_EPARSE when n is odd or a character is not a hex digit (out is then
 * partly written). */
int mtm_hex_decode(const char *hex, size_t n, unsigned char *out) MTM_MUST_CHECK;

#endif
