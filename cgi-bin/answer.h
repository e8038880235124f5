/*
 * answer: how a failed request becomes its answer (answer.c).
 */
#ifndef MTM_API_ANSWER_H
#define MTM_API_ANSWER_H

#include "api.h"

/* Records why the request failed in t->fault and returns err. */
int api_fail(struct api_thread *t, int err, const char *detail_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Records a failed database call (rc and err from lib/pg): an outage
 * (MTM_EUNAVAIL, MTM_ETIMEOUT) is logged as a warning and answered 503
 * "the database is unavailable" with Retry-After; anything else is a
 * statement the database refused, MTM_EDB, answered 500 with the text
 * logged, not shown. Returns the fault's code.
 */
int api_fail_db(struct api_thread *t, int rc, const char *err);
/* Answers t->fault: its status, problem+json body and headers (Retry-After
 * on 429 and 503, WWW-Authenticate on 401, Allow on 405). A 500's detail
 * is logged with the request id and replaced by "internal error". */
void api_answer_fault(struct api_thread *t, struct mtm_request *r);

#endif
