/*
 * answer: the one place where a failed request becomes its HTTP answer.
 *
 * Handlers and helpers record why a request failed in t->fault (api_fail,
 * api_fail_db, the field checks of lib/fields) and return the code; the
 * status comes from lib/problem.c's mapping, the body is the fault's
 * problem+json, and the headers a status needs are added here: Retry-After
 * on 429 and 503, WWW-Authenticate on 401, Allow on 405. Faults that are
 * ours to fix (500) are logged with the request id and answered without
 * their detail.
 */
#include "answer.h"

#include <stdarg.h>
#include <stdio.h>

#include "api.h"

int api_fail(struct api_thread *t, int err, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    mtm_fault_vset(&t->fault, err, detail_fmt, ap);
    va_end(ap);
    return err;
}

int api_fail_db(struct api_thread *t, int rc, const char *err)
{
    if (rc == MTM_EUNAVAIL || rc == MTM_ETIMEOUT) {
        LOG_WARN(&t->log, "%s", err);
        return api_fail(t, rc, "the database is unavailable");
    }
    return api_fail(t, MTM_EDB, "%s", err);
}

void api_answer_fault(struct api_thread *t, struct mtm_request *r)
{
    struct mtm_fault *f = &t->fault;
    if (!f->err && !f->status)
        api_fail(t, MTM_EINTERNAL, "a failure was reported without a reason");
    int status = mtm_fault_status(f);
    if (status >= 500 && status != 503) {
        LOG_ERROR(&t->log, "%s: %s", mtm_strerror(f->err), f->detail);
        snprintf(f->detail, sizeof(f->detail), "internal error (request %s)", r->request_id);
    }

    struct mtm_header h[MTM_FAULT_HEADERS];
    char retry[MTM_FAULT_RETRY_LEN];
    size_t nh = mtm_fault_headers(f, h, retry);
    struct json_object *p = mtm_fault_problem(f);
    mtm_respond_problem(r, p, h, nh);
    json_object_put(p);
}
