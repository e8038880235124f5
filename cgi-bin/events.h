/*
 * events: GET /api/events, the server-sent event stream (mtm-events).
 *
 * A process of its own, apart from mtm-api, so that streams never hold one
 * of the responder's request threads: one thread runs a poll() loop over
 * the listening socket, every client and the event source's database
 * connection. lighttpd proxies /api/events here (mod_proxy, over a unix
 * socket) and hands the client's backpressure through
 * (server.stream-response-body = 2 for this path), so a client that does
 * not read shows here as output piling up: past EVENTS_CLIENT_BUFFER bytes
 * (1 MiB: a second's status of about 1,500 busy tenants at once) it is cut
 * off, and memory stays bounded (cap x max clients).
 *
 * A request is authenticated like any API request (bearer JWT; a tenant
 * token must be known, unrevoked and of a live tenant: checked at connect
 * and again every EVENTS_RECHECK_MS), then answered with
 * `text/event-stream`: the events it missed since its Last-Event-ID (or a
 * `reset` event when they are no longer kept), then every new event it
 * may see (eventlog.h), and a `heartbeat` every EVENTS_HEARTBEAT_MS. A
 * stream ends when its token expires; the client reconnects and is
 * answered 401 if it has no valid token any more.
 *
 * Everything here is owned by the loop's thread; nothing is shared.
 */
#ifndef MTM_EVENTS_H
#define MTM_EVENTS_H

#include <stdatomic.h>

#include "config.h"
#include "err.h"

#define EVENTS_CLIENT_BUFFER (1024 * 1024)
#define EVENTS_KEEP 8192 /* events kept for Last-Event-ID */
#define EVENTS_HEARTBEAT_MS 15000
#define EVENTS_RECHECK_MS 15000
#define EVENTS_REQUEST_MAX 16384
#define EVENTS_REQUEST_TIMEOUT_MS 10000

/*
 * Serves on listen_fd (a listening unix socket, owned by the caller) until
 * *stopping. Returns 0, or an error when it could not start.
 */
int events_serve(const struct mtm_config *cfg, int listen_fd, const atomic_bool *stopping);

#endif
