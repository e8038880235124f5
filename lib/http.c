/* http: see http.h. */
#include "http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "json.h"
#include "log.h"
#include "problem.h"
#include "trace.h"
#include "uuid.h"
#include "xalloc.h"

static const char *param_or(const struct mtm_request *r, const char *name, const char *dflt)
{
    const char *v = r->io->param(r->io->ud, name);
    return v ? v : dflt;
}

bool mtm_request_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= MTM_REQUEST_ID_MAX || !(isalnum(c) || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0;
}

void mtm_request_init(struct mtm_request *r, const struct mtm_http_io *io)
{
    memset(r, 0, sizeof(*r));
    r->io = io;
    r->method = param_or(r, "REQUEST_METHOD", "GET");
    /* Routing uses the raw REQUEST_URI (not the decoded PATH_INFO), so an
     * encoded slash can never split a path segment. */
    const char *uri = param_or(r, "REQUEST_URI", "/");
    const char *q = strchr(uri, '?');
    r->path = q ? xstrndup(uri, (size_t)(q - uri)) : xstrdup(uri);
    r->query = q ? q + 1 : "";
    r->remote_addr = param_or(r, "REMOTE_ADDR", "");
    r->content_length = -1;
    const char *cl = r->io->param(r->io->ud, "CONTENT_LENGTH");
    if (cl && isdigit((unsigned char)cl[0])) {
        char *end;
        long v = strtol(cl, &end, 10);
        if (!*end && v >= 0)
            r->content_length = v;
    }
    mtm_buf_init(&r->body, 0);
    const char *rid = r->io->param(r->io->ud, "HTTP_X_REQUEST_ID");
    if (rid && mtm_request_id_valid(rid)) {
        snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
    } else {
        char id[MTM_UUID_STRLEN + 1];
        if (mtm_uuid7_new(id) == 0)
            snprintf(r->request_id, sizeof(r->request_id), "%s", id);
        else
            snprintf(r->request_id, sizeof(r->request_id), "unknown");
    }
    const char *tp = r->io->param(r->io->ud, "HTTP_TRACEPARENT");
    if (mtm_traceparent_parse(tp, r->trace_id))
        memcpy(r->traceparent, tp, MTM_TRACEPARENT_LEN + 1);
}

void mtm_request_cleanup(struct mtm_request *r)
{
    free(r->path);
    r->path = NULL;
    free(r->query_owned);
    r->query_owned = NULL;
    mtm_buf_cleanup(&r->body);
    json_object_put(r->json);
    r->json = NULL;
}

const char *mtm_request_header(const struct mtm_request *r, const char *name)
{
    char key[128] = "HTTP_";
    size_t o = 5;
    for (const char *p = name; *p; p++) {
        if (o + 1 >= sizeof(key))
            return NULL;
        key[o++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    }
    key[o] = '\0';
    /* CGI passes these two without the HTTP_ prefix. */
    if (strcmp(key, "HTTP_CONTENT_TYPE") == 0 || strcmp(key, "HTTP_CONTENT_LENGTH") == 0)
        return r->io->param(r->io->ud, key + 5); // cppcheck-suppress returnDanglingLifetime
    /* param() returns the CGI environment's storage, not its argument. */
    // cppcheck-suppress returnDanglingLifetime
    return r->io->param(r->io->ud, key);
}

int mtm_request_read_body(struct mtm_request *r, size_t limit)
{
    if (r->content_length > 0 && (size_t)r->content_length > limit)
        return MTM_ETOOBIG;
    mtm_buf_init(&r->body, limit);
    char chunk[16384];
    for (;;) {
        int n = r->io->read(r->io->ud, chunk, (int)sizeof(chunk));
        if (n < 0)
            return MTM_EIO;
        if (n == 0)
            break;
        int rc = mtm_buf_append(&r->body, chunk, (size_t)n);
        if (rc)
            return rc;
    }
    return 0;
}

int mtm_request_parse_json(struct mtm_request *r, char *err, size_t errlen)
{
    if (r->body.len == 0) {
        snprintf(err, errlen, "the request body is empty; a JSON document is required");
        return MTM_EPARSE;
    }
    json_object_put(r->json);
    r->json = NULL;
    return mtm_json_parse(mtm_buf_cstr(&r->body), r->body.len, MTM_JSON_MAX_DEPTH, &r->json, err,
                          errlen);
}

/* Decodes src[0..n) into out; '+' is a space. */
static int url_decode(const char *src, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return MTM_EPARSE;
            long v = mtm_hex_value(src + i + 1, 2);
            if (v < 0)
                return MTM_EPARSE;
            c = (int)v;
            if (c == 0)
                return MTM_EPARSE;
            i += 2;
        }
        if (o + 1 >= outlen)
            return MTM_ETOOBIG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int mtm_query_get(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t klen = eq ? (size_t)(eq - p) : plen;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + plen;
            return url_decode(v, (size_t)(p + plen - v), out, outlen);
        }
        p = amp ? amp + 1 : NULL;
    }
    return MTM_ENOTFOUND;
}

static bool listed(const char *const *names, const char *name, size_t len)
{
    for (; *names; names++)
        if (strlen(*names) == len && memcmp(*names, name, len) == 0)
            return true;
    return false;
}

void mtm_request_canonical_query(struct mtm_request *r, const char *const *names)
{
    struct mtm_buf out;
    bool changed = false;
    /* A rewritten value is 36 bytes and replaces at least 36: the query
     * never grows, so the cap cannot be reached. */
    mtm_buf_init(&out, strlen(r->query));
    int rc = 0;
    for (const char *p = r->query; !rc && p && *p;) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        char id[MTM_UUID_STRLEN + 2];
        if (eq && listed(names, p, (size_t)(eq - p)) &&
            url_decode(eq + 1, (size_t)(p + plen - eq - 1), id, sizeof(id)) == 0 &&
            mtm_uuid_canonical(id)) {
            rc = mtm_buf_append(&out, p, (size_t)(eq - p) + 1);
            if (!rc)
                rc = mtm_buf_puts(&out, id);
            changed = true;
        } else {
            rc = mtm_buf_append(&out, p, plen);
        }
        if (!rc && amp)
            rc = mtm_buf_puts(&out, "&");
        p = amp ? amp + 1 : NULL;
    }
    if (changed && !rc) {
        free(r->query_owned);
        r->query_owned = mtm_buf_steal(&out);
        r->query = r->query_owned;
    }
    mtm_buf_cleanup(&out);
}

static int put(struct mtm_request *r, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    return r->io->write(r->io->ud, s, (int)n) == (int)n ? 0 : MTM_EIO;
}

void mtm_request_always(struct mtm_request *r, const char *name, const char *value)
{
    if (r->nalways < MTM_HTTP_MAX_ALWAYS) {
        r->always[r->nalways].name = name;
        r->always[r->nalways].value = value;
        r->nalways++;
    }
}

int mtm_respond(struct mtm_request *r, int status, const char *content_type,
                const struct mtm_header *extra, size_t nextra, const char *body, size_t len)
{
    char head[2048];
    if (r->status)
        return MTM_EINTERNAL;
    r->status = status;
    int n = snprintf(head, sizeof(head), "Status: %d %s\r\nX-Request-Id: %s\r\n", status,
                     mtm_http_reason(status), r->request_id);
    if (content_type && n > 0 && (size_t)n < sizeof(head))
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (body && n > 0 && (size_t)n < sizeof(head))
        n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", len);
    for (size_t i = 0; i < r->nalways && n > 0 && (size_t)n < sizeof(head); i++)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "%s: %s\r\n", r->always[i].name,
                      r->always[i].value);
    for (size_t i = 0; i < nextra && n > 0 && (size_t)n < sizeof(head); i++)
        n += snprintf(head + n, sizeof(head) - (size_t)n, "%s: %s\r\n", extra[i].name,
                      extra[i].value);
    if (n < 0 || (size_t)n + 2 >= sizeof(head))
        return MTM_EINTERNAL;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    int rc = put(r, head, (size_t)n);
    if (!rc && body)
        rc = put(r, body, len);
    return rc;
}

int mtm_respond_json(struct mtm_request *r, int status, struct json_object *obj,
                     const struct mtm_header *extra, size_t nextra)
{
    size_t len;
    const char *text = mtm_json_text(obj, &len);
    return mtm_respond(r, status, "application/json", extra, nextra, text, len);
}

int mtm_respond_problem(struct mtm_request *r, struct json_object *problem,
                        const struct mtm_header *extra, size_t nextra)
{
    struct json_object *st;
    int status = 500;
    if (json_object_object_get_ex(problem, "status", &st))
        status = json_object_get_int(st);
    size_t len;
    const char *text = mtm_json_text(problem, &len);
    return mtm_respond(r, status, "application/problem+json", extra, nextra, text, len);
}
