/*
 * jsonspan: raw spans of values inside JSON text.
 *
 * Payloads are stored byte-for-byte as the producer sent them: parsing them
 * into json-c objects and printing them again would clamp integers beyond
 * 64 bits. So the API validates a body with mtm_json_parse (strictly), then
 * uses these functions on the same text to find where each payload starts
 * and ends. They assume text that mtm_json_parse accepted; on anything else
 * they fail with MTM_EPARSE rather than read out of bounds.
 */
#ifndef MTM_JSONSPAN_H
#define MTM_JSONSPAN_H

#include <stddef.h>

#include "err.h"

struct mtm_span {
    size_t start, end; /* text[start..end) */
};

/* The value of member `name` of the object spanning `obj` (last one wins,
 * as in json-c). MTM_ENOTFOUND when absent. */
int mtm_json_member(const char *text, struct mtm_span obj, const char *name,
                    struct mtm_span *out) MTM_MUST_CHECK;

/* The elements of the array spanning `arr`, at most max of them. */
int mtm_json_elements(const char *text, struct mtm_span arr, struct mtm_span *out, size_t max,
                      size_t *count) MTM_MUST_CHECK;

/* The whole document without surrounding whitespace. */
struct mtm_span mtm_json_trim(const char *text, size_t len);

#endif
