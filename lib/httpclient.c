/* httpclient: see httpclient.h. */
#include "httpclient.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "timeutil.h"

int mtm_http_url_parse(const char *url, struct mtm_http_url *u)
{
    memset(u, 0, sizeof(*u));
    if (strncmp(url, "http://", 7) != 0)
        return MTM_EINVAL;
    const char *h = url + 7, *end = h + strcspn(h, "/?#");
    if (*end == '?' || *end == '#')
        return MTM_EINVAL;
    const char *colon = memchr(h, ':', (size_t)(end - h));
    const char *hend = colon ? colon : end;
    if (hend == h || (size_t)(hend - h) >= sizeof(u->host))
        return MTM_EINVAL;
    for (const char *c = h; c < hend; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-'))
            return MTM_EINVAL;
    memcpy(u->host, h, (size_t)(hend - h));
    if (colon) {
        size_t plen = (size_t)(end - colon - 1);
        if (plen == 0 || plen > 5)
            return MTM_EINVAL;
        long port = 0;
        for (const char *c = colon + 1; c < end; c++) {
            if (*c < '0' || *c > '9')
                return MTM_EINVAL;
            port = port * 10 + (*c - '0');
        }
        if (port < 1 || port > 65535)
            return MTM_EINVAL;
        memcpy(u->port, colon + 1, plen);
    } else {
        memcpy(u->port, "80", 3);
    }
    size_t blen = strlen(end);
    while (blen && end[blen - 1] == '/')
        blen--;
    if (blen >= sizeof(u->base))
        return MTM_EINVAL;
    for (size_t i = 0; i < blen; i++)
        if ((unsigned char)end[i] <= ' ' || end[i] == '?' || end[i] == '#')
            return MTM_EINVAL;
    memcpy(u->base, end, blen);
    return 0;
}

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s", what);
    return rc;
}

/* Waits for fd to be ready for `events` until the deadline. */
static bool wait_for(int fd, short events, int64_t deadline)
{
    int64_t left = deadline - mtm_mono_ms();
    if (left <= 0)
        return false;
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, (int)left) == 1;
}

static int connect_to(const struct mtm_http_url *u, int64_t deadline, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
    int gai = getaddrinfo(u->host, u->port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "%s: %s", u->host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (rc < 0 && errno == EINPROGRESS && wait_for(fd, POLLOUT, deadline) &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
            rc = 0;
        if (rc < 0) {
            snprintf(err, errlen, "cannot connect to %s:%s: %s", u->host, u->port,
                     strerror(soerr ? soerr : errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int mtm_http_get(const struct mtm_http_url *u, const char *path, int timeout_ms, int *status,
                 struct mtm_buf *body, char *err, size_t errlen)
{
    int64_t deadline = mtm_mono_ms() + timeout_ms;
    int fd = connect_to(u, deadline, err, errlen);
    if (fd < 0)
        return MTM_EUNAVAIL;
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "GET %s%s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n"
                     "User-Agent: mtm\r\n\r\n",
                     u->base, path, u->host);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        close(fd);
        return fail(err, errlen, "request too long", MTM_EINVAL);
    }
    for (int sent = 0; sent < n;) {
        ssize_t w = send(fd, req + sent, (size_t)(n - sent), MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR) && wait_for(fd, POLLOUT, deadline))
            continue;
        if (w <= 0) {
            close(fd);
            return fail(err, errlen, "the connection closed while sending", MTM_EUNAVAIL);
        }
        sent += (int)w;
    }
    /* Read the whole answer: headers (at most 16 KiB), then the body. */
    struct mtm_buf all;
    mtm_buf_init(&all, body->limit + 16384);
    int rc = 0;
    for (;;) {
        char chunk[16384];
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r > 0) {
            rc = mtm_buf_append(&all, chunk, (size_t)r);
            if (rc)
                break;
            continue;
        }
        if (r == 0)
            break;
        if ((errno == EAGAIN || errno == EINTR) && wait_for(fd, POLLIN, deadline))
            continue;
        rc = fail(err, errlen, "no complete answer in time", MTM_EUNAVAIL);
        break;
    }
    close(fd);
    const char *text = mtm_buf_cstr(&all), *sep = rc ? NULL : strstr(text, "\r\n\r\n");
    int code = 0;
    if (!rc && (!sep || sscanf(text, "HTTP/1.%*d %3d", &code) != 1 || code < 100 || code > 599))
        rc = fail(err, errlen, "not an HTTP answer", MTM_EUNAVAIL);
    if (!rc) {
        *status = code;
        mtm_buf_reset(body);
        rc = mtm_buf_append(body, sep + 4, all.len - (size_t)(sep + 4 - text));
        if (rc)
            snprintf(err, errlen, "the answer is over %zu bytes", body->limit);
    } else if (rc == MTM_ETOOBIG) {
        snprintf(err, errlen, "the answer is over %zu bytes", body->limit);
    }
    mtm_buf_cleanup(&all);
    return rc;
}
