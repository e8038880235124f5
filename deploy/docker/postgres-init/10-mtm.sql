-- Run once by the postgres image on an empty data volume (docker compose), as
-- the superuser. Same shape as the local stack and the test harness: mtm is an
-- ordinary login role owning database mtm, not a superuser, so PostgreSQL's
-- row-level security applies to it (superusers bypass RLS).
CREATE ROLE mtm LOGIN PASSWORD 'mtm';
CREATE DATABASE mtm OWNER mtm;
