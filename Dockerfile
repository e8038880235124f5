# syntax=docker/dockerfile:1
# mtm application image: lighttpd + mtm-api (FastCGI) + consumerd under
# supervisord (deploy/docker/supervisord.conf). PostgreSQL, RabbitMQ and the
# monitoring services are separate containers: see docker-compose.yml.
#
#   make image        (deploy/image.sh: docker, or podman with a local base image)
#   docker build -t mtm .
#   docker run -e MTM_PG_URL=... -e MTM_AMQP_URL=... -e MTM_JWT_SECRET=... -p 8080:8080 mtm
# See docs/deployment.md.

ARG DEBIAN_IMAGE=debian:bookworm-slim

# ---- build ------------------------------------------------------------------
FROM ${DEBIAN_IMAGE} AS build
# The build packages come from the project's one list (the "build" group).
COPY deploy/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh build && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The git revision for --version (the build context has no .git).
ARG REVISION=unknown
RUN make MODE=release REVISION="$REVISION" -j"$(nproc)" all \
 && ls -l build/release/bin/mtm-api build/release/bin/mtm-events build/release/bin/consumerd \
      build/release/bin/mtm-migrate

# ---- the console's third-party code (npm, exact versions from the lockfile) ---
FROM ${DEBIAN_IMAGE} AS ui
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json Makefile ./
COPY public/js/types/ public/js/types/
# The CA certificates of the machine that builds (deploy/image.sh passes them
# as the build secret "cacerts"): npm then also trusts a TLS-intercepting
# proxy that machine trusts. Without the secret, npm uses its own CAs. Only
# this stage sees them; the runtime image does not.
RUN --mount=type=secret,id=cacerts \
    if [ -s /run/secrets/cacerts ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/cacerts; fi \
 && make ui-deps && ls -l public/vendor

# ---- runtime ----------------------------------------------------------------
FROM ${DEBIAN_IMAGE}
# Shared libraries of the binaries (the runtime halves of the build group's
# -dev packages, plus libcrypt for -lcrypt), the web server (mod_deflate is
# in lighttpd.conf) and supervisord: the smallest set make image-test passes
# with. No ca-certificates: mtm makes no TLS connection that checks the
# system's CAs (no amqps; libpq verifies a server only against the
# sslrootcert file its URL names; docs/deployment.md).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libfcgi0ldbl librabbitmq4 libpq5 libjson-c5 libjwt0 libssl3 libcrypt1 \
      lighttpd lighttpd-mod-deflate lighttpd-modules-lua supervisor \
 && apt-get clean && rm -rf /var/lib/apt/lists/*

# An unprivileged user runs everything (supervisord is PID 1 as this user).
RUN groupadd --gid 10001 mtm \
 && useradd --uid 10001 --gid mtm --home-dir /var/lib/mtm \
      --no-create-home --shell /usr/sbin/nologin mtm

ENV MTM_HOME=/opt/mtm \
    MTM_VAR_DIR=/var/lib/mtm \
    MTM_SQL_DIR=/opt/mtm/sql \
    MTM_FCGI_SOCKET=/var/lib/mtm/run/mtm-api.sock \
    MTM_EVENTS_SOCKET=/var/lib/mtm/run/mtm-events.sock \
    MTM_METRICS_DIR=/var/lib/mtm/metrics \
    MTM_HTTP_PORT=8080 \
    MTM_HTTP_BIND=0.0.0.0 \
    PATH=/opt/mtm/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

COPY --from=build /src/build/release/bin/mtm-api /src/build/release/bin/mtm-events \
     /src/build/release/bin/consumerd /src/build/release/bin/mtm-migrate /opt/mtm/bin/
COPY sql/ /opt/mtm/sql/
COPY public/ /opt/mtm/public/
COPY docs/ /opt/mtm/docs/
COPY --from=ui /src/public/vendor/ /opt/mtm/public/vendor/
COPY lighttpd.conf /opt/mtm/lighttpd.conf
COPY deploy/trusted-proxies.sh /opt/mtm/deploy/trusted-proxies.sh
COPY deploy/lighttpd/problem.lua /opt/mtm/deploy/lighttpd/problem.lua
COPY deploy/docker/supervisord.conf deploy/docker/entrypoint.sh \
     deploy/docker/healthcheck.sh deploy/docker/fatal-exit.sh /opt/mtm/docker/

# $MTM_VAR_DIR: log/, run/ (FastCGI and supervisor sockets), metrics/ (mtm-consumerd-<host>.prom,
# shared with node_exporter in docker compose: world-readable).
RUN mkdir -p /var/lib/mtm/log /var/lib/mtm/run /var/lib/mtm/metrics \
 && chown -R mtm:mtm /var/lib/mtm \
 && chmod 0755 /var/lib/mtm/metrics \
 && chmod 0755 /opt/mtm/docker/*.sh /opt/mtm/deploy/trusted-proxies.sh

USER mtm
WORKDIR /var/lib/mtm
EXPOSE 8080
STOPSIGNAL SIGTERM
# Readiness: GET /api/ready is 200 only when PostgreSQL, RabbitMQ and
# consumerd's heartbeat are all fine (healthcheck.sh).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/mtm/docker/healthcheck.sh"]
ENTRYPOINT ["/opt/mtm/docker/entrypoint.sh"]
CMD ["supervisord", "-n", "-c", "/opt/mtm/docker/supervisord.conf"]

# Set by make image (deploy/image.sh): the Makefile's VERSION, the git
# revision, the build time, the repository. Last, so that a new revision
# reuses every layer above from the cache.
ARG VERSION=0.0.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="mtm" \
      org.opencontainers.image.description="multi-tenant messaging: lighttpd + mtm-api + mtm-events + consumerd under supervisord" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"
