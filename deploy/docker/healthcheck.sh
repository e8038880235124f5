#!/bin/bash
# HEALTHCHECK of the mtm image (readiness): GET /api/ready through lighttpd
# must answer 200, which it does only when mtm-api reaches PostgreSQL and
# RabbitMQ and consumerd's heartbeat is fresh (lighttpd, mtm-api and
# consumerd all up). Uses bash's /dev/tcp: no curl needed.
port="${MTM_HTTP_PORT:-8080}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /api/ready HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
    "HTTP/1."?" 200"*) exit 0 ;;
esac
echo "not ready: $status" >&2
exit 1
