#!/bin/sh
# Run once by the postgres image on an empty data volume (docker compose), as
# the superuser. Same shape as the local stack and the test harness: mtm is an
# ordinary login role owning database mtm, not a superuser, so PostgreSQL's
# row-level security applies to it (superusers bypass RLS). mtm_monitor reads
# the statistics views for postgres-exporter (pg_monitor), nothing else.
# Passwords come from the compose secrets (secrets/, make compose-env).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v mtm_pw="$(cat /run/secrets/mtm_pg_password)" \
    -v monitor_pw="$(cat /run/secrets/pg_exporter_password)" <<'SQL'
CREATE ROLE mtm LOGIN PASSWORD :'mtm_pw';
CREATE DATABASE mtm OWNER mtm;
CREATE ROLE mtm_monitor LOGIN PASSWORD :'monitor_pw' IN ROLE pg_monitor;
SQL
