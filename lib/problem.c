/* problem: see problem.h. */
#include "problem.h"

#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mtm_http_status_for(int err)
{
    switch ((enum mtm_err)err) {
    case MTM_OK: return 200;
    case MTM_EINVAL: return 422;
    case MTM_EPARSE: return 400;
    case MTM_ETOOBIG: return 413;
    case MTM_ENOTFOUND: return 404;
    case MTM_ECONFLICT: return 409;
    case MTM_EUNAVAIL:
    case MTM_ETIMEOUT:
    case MTM_EAMQP: return 503;
    case MTM_EAUTH: return 401;
    case MTM_EFORBIDDEN: return 403;
    case MTM_ERATELIMIT: return 429;
    case MTM_EDB: /* a statement the database refused: ours to fix (outages are EUNAVAIL) */
    case MTM_EIO:
    case MTM_EINTERNAL: return 500;
    }
    return 500;
}

const char *mtm_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

struct json_object *mtm_problem_new(int status, const char *detail_fmt, ...)
{
    char detail[1024];
    va_list ap;

    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);

    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string("about:blank"));
    json_object_object_add(p, "title", json_object_new_string(mtm_http_reason(status)));
    json_object_object_add(p, "status", json_object_new_int(status));
    json_object_object_add(p, "detail", json_object_new_string(detail));
    return p;
}

void mtm_fault_reset(struct mtm_fault *f)
{
    if (f->errors)
        json_object_put(f->errors);
    if (f->members)
        json_object_put(f->members);
    memset(f, 0, sizeof(*f));
}

int mtm_fault_vset(struct mtm_fault *f, int err, const char *detail_fmt, va_list ap)
{
    vsnprintf(f->detail, sizeof(f->detail), detail_fmt, ap);
    f->err = err;
    return err;
}

int mtm_fault_set(struct mtm_fault *f, int err, const char *detail_fmt, ...)
{
    va_list ap;
    va_start(ap, detail_fmt);
    mtm_fault_vset(f, err, detail_fmt, ap);
    va_end(ap);
    return err;
}

int mtm_fault_field(struct mtm_fault *f, const char *field, const char *message_fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, message_fmt);
    vsnprintf(msg, sizeof(msg), message_fmt, ap);
    va_end(ap);
    if (!f->errors)
        f->errors = json_object_new_array();
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "field", json_object_new_string(field));
    json_object_object_add(e, "message", json_object_new_string(msg));
    json_object_array_add(f->errors, e);
    if (!f->err)
        f->err = MTM_EINVAL;
    return MTM_EINVAL;
}

void mtm_fault_member(struct mtm_fault *f, const char *key, struct json_object *value)
{
    if (!f->members)
        f->members = json_object_new_object();
    json_object_object_add(f->members, key, value);
}

int mtm_fault_status(const struct mtm_fault *f)
{
    return f->status ? f->status : mtm_http_status_for(f->err ? f->err : MTM_EINTERNAL);
}

int mtm_fault_retry_after(const struct mtm_fault *f)
{
    int status = mtm_fault_status(f);
    if ((status != 429 && status != 503) || f->retry_after < 0)
        return 0;
    return f->retry_after > 0 ? f->retry_after : 2;
}

size_t mtm_fault_headers(const struct mtm_fault *f, struct mtm_header *out, char *retry)
{
    size_t n = 0;
    int status = mtm_fault_status(f);
    int seconds = mtm_fault_retry_after(f);
    if (seconds) {
        snprintf(retry, MTM_FAULT_RETRY_LEN, "%d", seconds);
        out[n++] = (struct mtm_header){"Retry-After", retry};
    }
    if (status == 401)
        out[n++] = (struct mtm_header){"WWW-Authenticate",
                                       f->challenge[0] ? f->challenge : "Bearer realm=\"mtm\""};
    else if (status == 405)
        out[n++] = (struct mtm_header){"Allow", f->allow};
    return n;
}

struct json_object *mtm_fault_problem(const struct mtm_fault *f)
{
    const char *detail = f->detail[0] ? f->detail
                         : f->errors  ? "the request has invalid fields"
                                      : mtm_strerror(f->err);
    struct json_object *p = mtm_problem_new(mtm_fault_status(f), "%s", detail);
    if (f->members) {
        json_object_object_foreach(f->members, key, value)
        {
            if (!json_object_object_get_ex(p, key, NULL))
                json_object_object_add(p, key, json_object_get(value));
        }
    }
    if (f->errors)
        json_object_object_add(p, "errors", json_object_get(f->errors));
    return p;
}
