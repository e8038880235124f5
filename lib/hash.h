/*
 * hash: FNV-1a, the one string hash of mtm (hash tables keyed by tenant id,
 * a fingerprint of a set of ids). Not for anything an attacker could aim
 * at: the keys it sees are UUIDs that were checked first.
 */
#ifndef MTM_HASH_H
#define MTM_HASH_H

#include <stdint.h>

#define MTM_HASH_INIT 14695981039346656037ULL /* the FNV-1a 64 offset basis */

/* Continues hash h over the bytes of the NUL-terminated s. */
uint64_t mtm_hash_str(uint64_t h, const char *s);

#endif
