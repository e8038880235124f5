/*
 * fields: validation of request fields, collecting per-field errors.
 *
 * Each check takes the fault being built (see problem.h) and, when the
 * field is wrong, appends {"field", "message"} to its errors and returns
 * MTM_EINVAL; the caller answers 422 once all fields are checked, so
 * that a client sees every mistake at once. JSON types are strict: an
 * integer field takes a JSON integer only (not "5", 5.0, true or null).
 */
#ifndef MTM_FIELDS_H
#define MTM_FIELDS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "problem.h"

/* The body must be a JSON object; checks its type only. */
int mtm_field_object(struct json_object *body, struct mtm_fault *fault) MTM_MUST_CHECK;

/* Refuses members not listed in allowed (NULL-terminated). */
int mtm_fields_only(struct json_object *body, const char *const *allowed,
                    struct mtm_fault *fault) MTM_MUST_CHECK;

/* An integer member in [min, max]; dflt when absent and not required. */
int mtm_field_int(struct json_object *body, const char *name, bool required, long min, long max,
                  long dflt, long *out, struct mtm_fault *fault) MTM_MUST_CHECK;

/*
 * A string member of minlen..maxlen characters (UTF-8 code points), every byte of
 * which is in allowed_chars when that is not NULL (alphanumerics are always
 * allowed when allowed_chars is given). *out is borrowed from body.
 */
int mtm_field_string(struct json_object *body, const char *name, bool required, size_t minlen,
                     size_t maxlen, const char *allowed_chars, const char **out,
                     struct mtm_fault *fault) MTM_MUST_CHECK;

/*
 * A body described by a table: one rule per member it may have. A request
 * handler fills the table (bounds may come from the configuration) and
 * calls mtm_fields_read once, instead of repeating the object check, the
 * unknown-member check and one call per member.
 */
enum mtm_field_kind {
    MTM_FIELD_INT,    /* a JSON integer in [min, max]; dflt when absent; out: long * */
    MTM_FIELD_STRING, /* min..max characters of chars; NULL when absent; out: const char ** */
};

struct mtm_field_rule {
    const char *name;
    enum mtm_field_kind kind;
    bool required;
    long min, max;     /* the value (INT) or its length in characters (STRING) */
    long dflt;         /* INT: the value when absent */
    const char *chars; /* STRING: allowed besides letters and digits; NULL: anything */
    void *out;
};

/*
 * The body must be a JSON object whose members all have a rule; each rule
 * is then checked, collecting every mistake in the fault. 0 with every out
 * filled, or MTM_EINVAL.
 */
int mtm_fields_read(struct json_object *body, const struct mtm_field_rule *rules, size_t n,
                    struct mtm_fault *fault) MTM_MUST_CHECK;

/* A query parameter that must be a decimal integer in [min, max]. */
int mtm_query_int(const char *query, const char *name, long min, long max, long dflt, long *out,
                  struct mtm_fault *fault) MTM_MUST_CHECK;

#endif
