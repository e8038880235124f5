/*
 * json: strict parsing of request bodies with json-c.
 *
 * Bodies are parsed in strict mode, with UTF-8 validation and a nesting cap,
 * and must hold exactly one JSON value (trailing bytes other than whitespace
 * are an error). The detail of a failure goes to the caller's buffer.
 */
#ifndef MTM_JSON_H
#define MTM_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define MTM_JSON_MAX_DEPTH 32

/*
 * Parses text[0..len) into *out (owned by the caller). Returns MTM_EPARSE
 * with a reason in err for malformed input, invalid UTF-8 or nesting deeper
 * than max_depth.
 */
int mtm_json_parse(const char *text, size_t len, int max_depth, struct json_object **out, char *err,
                   size_t errlen) MTM_MUST_CHECK;

/*
 * True when a string anywhere in obj holds a NUL character (\u0000):
 * valid JSON that PostgreSQL's jsonb refuses to store, so callers answer
 * 422 for the field that carries it. Recursion is bounded by the parse
 * depth cap.
 */
bool mtm_json_contains_nul(struct json_object *obj);

/* True when s[0..n) is valid UTF-8 without NUL bytes: text PostgreSQL can
 * hold in a string. */
bool mtm_utf8_valid(const char *s, size_t n);

/* Compact text of obj; borrowed, valid until obj changes or is freed. */
const char *mtm_json_text(struct json_object *obj, size_t *len);

/* Appends the JSON text to out without the whitespace between tokens
 * (PostgreSQL's json_build_object writes "a" : 1, "b" : 2); strings are
 * copied as they are. The text must be valid JSON. */
int mtm_json_compact_append(struct mtm_buf *out, const char *text, size_t len) MTM_MUST_CHECK;

#endif
