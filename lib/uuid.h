/*
 * uuid: UUIDv7 (RFC 9562) generation and strict parsing of UUID text.
 *
 * Message ids are UUIDv7 so that they sort by creation time; tenant ids are
 * UUIDs too. Every id that arrives from outside passes mtm_uuid_valid before
 * it reaches SQL, a queue name or a partition name.
 */
#ifndef MTM_UUID_H
#define MTM_UUID_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define MTM_UUID_STRLEN 36 /* without the NUL */

/* Writes a new UUIDv7 in canonical lowercase form into out (37 bytes). */
int mtm_uuid7_new(char out[MTM_UUID_STRLEN + 1]) MTM_MUST_CHECK;
/* Builds a UUIDv7 text from its parts (for tests and for mtm_uuid7_new). */
void mtm_uuid7_format(uint64_t unix_ms, const uint8_t random10[10], char out[MTM_UUID_STRLEN + 1]);
/* True for canonical 8-4-4-4-12 hex text of any version (either case). */
bool mtm_uuid_valid(const char *s);
/* Lowers s in place when it is a valid UUID (RFC 9562 text compares case-
 * insensitively; mtm's queue and partition names use lower case). Returns
 * whether s is a UUID. */
bool mtm_uuid_canonical(char *s);
/* The canonical (lower-case) copy of id into key, or false when id is not
 * a UUID: one key for an id however the client spelled it. */
bool mtm_uuid_key(const char *id, char key[MTM_UUID_STRLEN + 1]);

#endif
