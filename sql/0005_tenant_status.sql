-- Live status of each tenant's pool, written by consumerd every second
-- (one multi-row upsert), read by GET /api/tenants/{id}. The responder
-- never guesses these figures; a missing row means consumerd has not
-- reported the tenant yet.

CREATE TABLE tenant_status (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    workers_running integer NOT NULL,
    workers_busy    integer NOT NULL,
    queue_depth     bigint,
    consumed        bigint NOT NULL,
    stored          bigint NOT NULL,
    failed          bigint NOT NULL,
    dead_lettered   bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A tenant as the API shows it: desired state joined with live status.
-- Timestamps are RFC 3339 in UTC with microseconds. Column order is part
-- of the contract with cgi-bin/tenants.c (tenant_json).
CREATE VIEW tenants_live AS
SELECT t.id,
       t.name,
       t.status,
       t.concurrency,
       to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
       to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at,
       s.workers_running,
       s.workers_busy,
       s.queue_depth,
       (SELECT count(*) FROM dead_letters d WHERE d.tenant_id = t.id) AS dlq_depth,
       s.consumed,
       s.stored,
       s.failed,
       s.dead_lettered,
       to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS status_at,
       t.seq
FROM tenants t
LEFT JOIN tenant_status s ON s.tenant_id = t.id;
