-- The answers lighttpd gives itself, as problem+json (RFC 9457), like
-- every answer of the API.
--
-- lighttpd refuses some requests before mtm-api sees them: a POST without
-- Content-Length (411), a body over server.max-request-size (413), headers
-- it cannot parse (400, 431), and any /api/ request while mtm-api or
-- mtm-events is not running (503). lighttpd.conf sends those through
-- server.error-handler to the URL /_problem, which mod_magnet answers with
-- this script: lighttpd keeps the original status (REDIRECT_STATUS) and
-- sends our headers and body with it. Answers mtm-api itself gives are never
-- seen here (mod_fastcgi owns them; server.error-intercept is off).
--
-- Runs in lighttpd's one process: no I/O, nothing that can block.

local r = lighty.r
local status = tonumber(r.req_env["REDIRECT_STATUS"] or "")

-- A client asking for /_problem itself: there is nothing there.
if not status or status < 400 or status > 599 then
  return 404
end

-- lighttpd answers 500 itself when the FastCGI server closes the
-- connection in the middle of a request (mtm-api killed or crashed while
-- answering): the client cannot know whether its request took effect (a
-- publish may have been confirmed). That is a 503 with Retry-After, as
-- for any server that is down, not a 500 (tests/chaos/catalogue.mjs,
-- "mtm-api killed (SIGKILL) under load").
local unsure = false
if status == 500 then
  status = 503
  unsure = true
end

local titles = {
  [400] = "Bad Request", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [408] = "Request Timeout",
  [411] = "Length Required", [413] = "Content Too Large",
  [414] = "URI Too Long", [417] = "Expectation Failed",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [502] = "Bad Gateway",
  [503] = "Service Unavailable", [504] = "Gateway Timeout",
  [505] = "HTTP Version Not Supported",
}
local details = {
  [400] = "The web server could not parse the request.",
  [403] = "The web server does not serve this path.",
  [408] = "The request did not arrive in time.",
  [411] = "A request with a body must send Content-Length (or Transfer-Encoding: chunked).",
  [413] = "The request is larger than the web server accepts.",
  [414] = "The request's URI is longer than the web server accepts.",
  [431] = "The request's header fields are larger than the web server accepts.",
  [501] = "The web server does not implement this method.",
  [502] = "The API server gave the web server an answer it could not read.",
  [503] = "The API server is not answering (it is starting, restarting or down); retry after the time in Retry-After.",
  [504] = "The API server did not answer the web server in time.",
  [505] = "The web server speaks HTTP/1.0, HTTP/1.1 and HTTP/2.",
}

local title = titles[status] or (status < 500 and "Client Error" or "Server Error")
local detail = details[status] or "The web server refused the request."
if unsure then
  detail = "The API server stopped while answering; the request may or may not have taken effect; retry after the time in Retry-After."
end
-- Titles and details are fixed strings above: nothing from the request is
-- echoed, so nothing needs JSON escaping.
r.resp_header["Content-Type"] = "application/problem+json"
if status == 503 then
  -- As mtm-api's own 503s (lib/problem.c).
  r.resp_header["Retry-After"] = "2"
end
r.resp_body.set({ '{"type":"about:blank","title":"', title, '","status":', tostring(status),
                  ',"detail":"', detail, '"}\n' })
return status
