/* problem: see problem.h. */
#include "problem.h"

#include <stdarg.h>
#include <stdio.h>

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
    case MTM_EDB:
    case MTM_EAMQP: return 503;
    case MTM_EAUTH: return 401;
    case MTM_EFORBIDDEN: return 403;
    case MTM_ERATELIMIT: return 429;
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

void mtm_problem_add_field(struct json_object *problem, const char *field, const char *message)
{
    struct json_object *errors;
    if (!json_object_object_get_ex(problem, "errors", &errors)) {
        errors = json_object_new_array();
        json_object_object_add(problem, "errors", errors);
    }
    struct json_object *e = json_object_new_object();
    json_object_object_add(e, "field", json_object_new_string(field));
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_array_add(errors, e);
}
