/*
 * problem: RFC 9457 problem details, and the one mapping from mtm's error
 * codes to HTTP statuses.
 *
 * A problem is a json_object owned by whoever created it:
 *   {"type":"about:blank","title":"Unprocessable Content","status":422,
 *    "detail":"...","errors":[{"field":"concurrency","message":"..."}]}
 * `type` stays about:blank, so `title` is the status's reason phrase; the
 * detail and the per-field `errors` carry the specifics.
 */
#ifndef MTM_PROBLEM_H
#define MTM_PROBLEM_H

#include <json-c/json.h>

#include "err.h"

/* HTTP status for an mtm_err code (500 for codes that are our fault). */
int mtm_http_status_for(int err);
/* Reason phrase for a status ("Not Found"); never NULL. */
const char *mtm_http_reason(int status);

/* A new problem object; the caller owns it (json_object_put). */
struct json_object *mtm_problem_new(int status, const char *detail_fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends {"field","message"} to the problem's "errors" array. */
void mtm_problem_add_field(struct json_object *problem, const char *field, const char *message);

#endif
