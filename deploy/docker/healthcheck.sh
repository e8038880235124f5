#!/bin/bash
# Docker HEALTHCHECK of the mtm image: GET /api/health through lighttpd must
# answer 200 (lighttpd and mtm-api up). Uses bash's /dev/tcp: no curl needed.
port="${MTM_HTTP_PORT:-8080}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /api/health HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
    "HTTP/1."?" 200"*) exit 0 ;;
esac
exit 1
