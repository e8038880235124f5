/*
 * http: one HTTP request and its response over an abstract FastCGI stream.
 *
 * The responder hands each accepted FastCGI request to mtm_request_init
 * through a struct mtm_http_io (the real one wraps FCGX_Request; the unit
 * tests use a fake), so that everything above the socket can be tested
 * without lighttpd. A request owns its body buffer and parsed JSON; the
 * strings it returns are borrowed from the CGI parameters and stay valid
 * until mtm_request_cleanup.
 *
 * Caps: the body is read only when its declared length is within the limit
 * given to mtm_request_read_body; request ids and trace ids are validated
 * before use; query values are URL-decoded into the caller's bounded buffer.
 */
#ifndef MTM_HTTP_H
#define MTM_HTTP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

struct mtm_http_io {
    /* A CGI parameter ("REQUEST_METHOD", "HTTP_AUTHORIZATION"...) or NULL. */
    const char *(*param)(void *ud, const char *name);
    /* Reads up to n body bytes; returns the count, 0 at the end, <0 on error. */
    int (*read)(void *ud, char *buf, int n);
    /* Writes n bytes of the response; returns n or <0. */
    int (*write)(void *ud, const char *buf, int n);
    void *ud;
};

#define MTM_HTTP_MAX_PARAMS 4
#define MTM_REQUEST_ID_MAX 64
#define MTM_HTTP_MAX_ALWAYS 4

struct mtm_header {
    const char *name;
    const char *value;
};

struct mtm_request {
    const struct mtm_http_io *io;
    const char *method;      /* "GET", ... */
    char *path;              /* raw path without the query string; owned */
    const char *query;       /* "" when absent; borrowed, or query_owned */
    char *query_owned;       /* owned; the rewritten query, NULL if none */
    const char *remote_addr; /* "" when unknown */
    long content_length;     /* -1 when absent */
    char request_id[MTM_REQUEST_ID_MAX + 1];
    char trace_id[33];        /* from traceparent, "" when absent */
    char traceparent[56];     /* the validated header, "" when absent */
    struct mtm_buf body;      /* owned */
    struct json_object *json; /* owned; parsed body or NULL */
    /* Route parameters, filled by the router: slices copied here. */
    size_t nparams;
    char params[MTM_HTTP_MAX_PARAMS][128];
    int status; /* status of the response sent, 0 before */
    /* Headers every response to this request carries (CORS, say); the
     * strings are borrowed and must outlive the response. */
    struct mtm_header always[MTM_HTTP_MAX_ALWAYS];
    size_t nalways;
};

/* Whether s may serve as a request id (X-Request-Id): 1..MTM_REQUEST_ID_MAX of
 * letters, digits, "-", "_" and ".". */
bool mtm_request_id_valid(const char *s);

void mtm_request_init(struct mtm_request *r, const struct mtm_http_io *io);
void mtm_request_cleanup(struct mtm_request *r);

/* Header by HTTP name ("Idempotency-Key"); borrowed or NULL. */
const char *mtm_request_header(const struct mtm_request *r, const char *name);

/*
 * Reads the body, refusing (MTM_ETOOBIG) when the declared or actual length
 * exceeds limit. MTM_EIO when the stream breaks.
 */
int mtm_request_read_body(struct mtm_request *r, size_t limit) MTM_MUST_CHECK;

/* Parses the body as JSON into r->json; MTM_EPARSE with the reason in err. */
int mtm_request_parse_json(struct mtm_request *r, char *err, size_t errlen) MTM_MUST_CHECK;

/*
 * Finds name in an application/x-www-form-urlencoded query and decodes its
 * value into out. MTM_ENOTFOUND when absent, MTM_ETOOBIG when the value does
 * not fit, MTM_EPARSE for a bad %-escape or an embedded NUL.
 */
int mtm_query_get(const char *query, const char *name, char *out, size_t outlen) MTM_MUST_CHECK;

/*
 * Rewrites the query so that the value of every parameter listed in names
 * (NULL-terminated) that decodes to a UUID is that UUID in canonical lower
 * case; other parameters and other values are left byte for byte. Ids then
 * compare with strcmp and name one queue however a client spelled them.
 */
void mtm_request_canonical_query(struct mtm_request *r, const char *const *names);

/* Adds a header to every response of r (ignored beyond MTM_HTTP_MAX_ALWAYS). */
void mtm_request_always(struct mtm_request *r, const char *name, const char *value);

/*
 * Sends a response: status line, Content-Type, X-Request-Id, the request's
 * `always` headers, the extra headers, then body (may be NULL for none). Each request answers once;
 * later calls are ignored and return MTM_EINTERNAL.
 */
int mtm_respond(struct mtm_request *r, int status, const char *content_type,
                const struct mtm_header *extra, size_t nextra, const char *body, size_t len);
/* JSON body from obj (borrowed). */
int mtm_respond_json(struct mtm_request *r, int status, struct json_object *obj,
                     const struct mtm_header *extra, size_t nextra);
/* problem+json with problem's own status (borrowed). */
int mtm_respond_problem(struct mtm_request *r, struct json_object *problem,
                        const struct mtm_header *extra, size_t nextra);

#endif
