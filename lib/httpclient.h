/*
 * httpclient: a small HTTP/1.0 client for one kind of call: GET a JSON
 * document from a server on the operator's network (Prometheus), with a
 * deadline and a cap on the answer. Plain http:// only (no TLS): put
 * Prometheus beside mtm, or behind a proxy that terminates TLS.
 *
 * HTTP/1.0 keeps the reading simple: the server closes the connection at
 * the end of the body and sends no chunked encoding.
 */
#ifndef MTM_HTTPCLIENT_H
#define MTM_HTTPCLIENT_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

struct mtm_http_url {
    char host[256];
    char port[8];
    char base[512]; /* path prefix without a trailing slash, "" for none */
};

/* Parses http://host[:port][/base]; MTM_EINVAL when it is not such a URL. */
int mtm_http_url_parse(const char *url, struct mtm_http_url *u) MTM_MUST_CHECK;

/*
 * GET base + path (path starts with '/' and may carry a query string,
 * already encoded). On 0, *status is the answer's status and body holds
 * its body (body's own cap applies: MTM_ETOOBIG beyond it). MTM_EUNAVAIL
 * when the server cannot be reached or does not answer within timeout_ms,
 * with the reason in err.
 */
int mtm_http_get(const struct mtm_http_url *u, const char *path, int timeout_ms, int *status,
                 struct mtm_buf *body, char *err, size_t errlen) MTM_MUST_CHECK;

#endif
