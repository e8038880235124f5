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
#include <stdarg.h>

#include "err.h"

/* HTTP status for an mtm_err code (500 for codes that are our fault). */
int mtm_http_status_for(int err);
/* Reason phrase for a status ("Not Found"); never NULL. */
const char *mtm_http_reason(int status);

/*
 * A fault: an error on its way to becoming an answer. Code that fails
 * fills one (its error code, a detail for the client, the fields that are
 * wrong, the headers the answer needs) and returns the code; one place
 * (mtm_fault_problem and the responder's answer) turns it into the
 * status, the problem+json body and the headers.
 */
struct mtm_fault {
    int err;                     /* an mtm_err code; MTM_OK when nothing failed */
    int status;                  /* a status no code names (405); 0: mtm_http_status_for(err) */
    int retry_after;             /* seconds for Retry-After; 0: the status's default; < 0: none */
    char challenge[256];         /* WWW-Authenticate of a 401; "": the plain one */
    char allow[64];              /* Allow of a 405 */
    char detail[512];            /* for the client */
    struct json_object *errors;  /* per-field errors [{field, message}] (owned), or NULL */
    struct json_object *members; /* extension members of the body (owned), or NULL */
};

/* Forgets the fault (frees its errors); it reads as "nothing failed". */
void mtm_fault_reset(struct mtm_fault *f);
/* Records err with a detail (replacing an earlier detail, keeping field
 * errors); returns err so that `return mtm_fault_set(...)` reads well. */
int mtm_fault_set(struct mtm_fault *f, int err, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
int mtm_fault_vset(struct mtm_fault *f, int err, const char *detail_fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Appends a field error; the fault becomes MTM_EINVAL unless it is
 * already something else. Returns MTM_EINVAL. */
int mtm_fault_field(struct mtm_fault *f, const char *field, const char *message_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds an extension member to the body (RFC 9457 section 3.2), taking
 * value; the standard members cannot be replaced. */
void mtm_fault_member(struct mtm_fault *f, const char *key, struct json_object *value);
/* The HTTP status the fault is answered with. */
int mtm_fault_status(const struct mtm_fault *f);
/* The Retry-After seconds the fault's answer carries, 0 for none: 429
 * and 503 carry one (2 s unless the fault says otherwise) unless the
 * fault says retrying cannot help (retry_after < 0). */
int mtm_fault_retry_after(const struct mtm_fault *f);
struct mtm_header; /* http.h */
/* Headers a fault's answer can need at once. */
#define MTM_FAULT_HEADERS 2
/* Text of a Retry-After value. */
#define MTM_FAULT_RETRY_LEN 16
/*
 * The headers the fault's answer needs: Retry-After on 429 and 503,
 * WWW-Authenticate on 401, Allow on 405. Writes at most MTM_FAULT_HEADERS
 * into out, borrowing from f and from retry (MTM_FAULT_RETRY_LEN bytes,
 * Retry-After's text); returns how many.
 */
size_t mtm_fault_headers(const struct mtm_fault *f, struct mtm_header *out, char *retry);
/* The problem+json body of the fault (the caller owns it). Its detail is
 * the fault's, or "the request has invalid fields" for field errors
 * without one. */
struct json_object *mtm_fault_problem(const struct mtm_fault *f);

/* A new problem object; the caller owns it (json_object_put). */
struct json_object *mtm_problem_new(int status, const char *detail_fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
