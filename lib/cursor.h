/*
 * cursor: opaque keyset-pagination cursors.
 *
 * A cursor names a position in one ordered listing: a kind (which listing
 * and direction, e.g. "t" for tenants, "ma"/"md" for messages ascending or
 * descending) and the last key returned. It travels as base64url without
 * padding of "<kind>:<key>". Decoding is strict: any other text, another
 * kind, a negative or overlong key is MTM_EPARSE, which the API answers with
 * 400. Clients must treat cursors as opaque; the format may change.
 */
#ifndef MTM_CURSOR_H
#define MTM_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MTM_CURSOR_MAX 64 /* bytes of an encoded cursor, with the NUL */

int mtm_cursor_encode(const char *kind, int64_t key, char *out, size_t outlen) MTM_MUST_CHECK;
int mtm_cursor_decode(const char *kind, const char *text, int64_t *key) MTM_MUST_CHECK;

/* base64url without padding; exposed for tests and other modules. */
size_t mtm_base64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen);
/* Returns the decoded length, or -1 for invalid input or a short buffer. */
long mtm_base64url_decode(const char *in, unsigned char *out, size_t outlen);

#endif
