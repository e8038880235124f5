/*
 * cursor: opaque, tamper-evident keyset-pagination cursors.
 *
 * A cursor names a position in one listing: a kind (which listing and
 * direction, e.g. "t" for tenants, "ma"/"md" for messages ascending or
 * descending), a scope (the tenant whose rows are listed, or "all") and the
 * last key returned. Only the key travels, sealed so that the client can
 * neither read nor change it; kind and scope are bound by the MAC, not sent:
 *
 *   tag    = HMAC-SHA256(K_mac, kind NUL scope NUL be64(key))[0..16)
 *   sealed = be64(key) XOR HMAC-SHA256(K_enc, tag)[0..8)
 *   cursor = base64url(sealed || tag)              (32 characters)
 *
 * with K_mac = HMAC-SHA256(secret, "mtm cursor v1 mac") and K_enc likewise
 * with "mtm cursor v1 enc" (secret: MTM_JWT_SECRET). This is SIV-style
 * deterministic authenticated encryption: one encoding per position; a
 * changed byte, another listing's cursor (other kind or scope) or one made
 * under another secret fails the constant-time tag check, which is
 * MTM_EPARSE (the API answers 400). Sealing hides the key because keys come
 * from sequences shared by all tenants (docs/security.md). Rotating the
 * secret invalidates every cursor; clients start again from the first page.
 */
#ifndef MTM_CURSOR_H
#define MTM_CURSOR_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MTM_CURSOR_MAX 64 /* bytes of an encoded cursor, with the NUL */
#define MTM_CURSOR_TAG_LEN 16
#define MTM_CURSOR_SCOPE_MAX 64 /* bytes of kind or scope, each */

/* Keys derived from the server's secret: an embedded value, read-only once
 * initialised, so threads may share it. */
struct mtm_cursor_key {
    unsigned char mac[32];
    unsigned char enc[32];
};

/* Derives both keys from secret (len bytes; not kept). MTM_EINTERNAL if
 * libcrypto fails. */
int mtm_cursor_key_init(struct mtm_cursor_key *k, const void *secret, size_t len) MTM_MUST_CHECK;
/* Wipes the keys. */
void mtm_cursor_key_cleanup(struct mtm_cursor_key *k);

/* Writes the cursor of key (>= 0) in the listing (kind, scope) into out.
 * MTM_EINVAL for a negative key or an over-long kind/scope; MTM_ETOOBIG
 * when out is too short (MTM_CURSOR_MAX always suffices). */
int mtm_cursor_encode(const struct mtm_cursor_key *k, const char *kind, const char *scope,
                      int64_t key, char *out, size_t outlen) MTM_MUST_CHECK;
/* The key of a cursor this listing issued under this secret; anything else
 * is MTM_EPARSE. */
int mtm_cursor_decode(const struct mtm_cursor_key *k, const char *kind, const char *scope,
                      const char *text, int64_t *key) MTM_MUST_CHECK;

/* base64url without padding; exposed for tests and other modules. */
size_t mtm_base64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen);
/* Returns the decoded length, or -1 for invalid input or a short buffer. */
long mtm_base64url_decode(const char *in, unsigned char *out, size_t outlen);

#endif
