-- Per-tenant publish rate limits: a token bucket per tenant, kept in the
-- database so that every responder process (and host) draws from the same
-- bucket. rate is messages per second, burst the bucket's size; NULL means
-- the installation's defaults (MTM_PUBLISH_RATE, MTM_PUBLISH_BURST), and a
-- rate of 0 means unlimited.

ALTER TABLE tenants
    ADD COLUMN publish_rate integer CHECK (publish_rate >= 0),
    ADD COLUMN publish_burst integer CHECK (publish_burst >= 1);

CREATE TABLE tenant_buckets (
    tenant_id  uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Takes cost tokens from the tenant's bucket (refilled at rate/s up to
-- burst). Returns 0 when granted, otherwise the seconds to wait before the
-- cost could be granted (the bucket is left untouched).
CREATE FUNCTION mtm_take_tokens(tenant uuid, rate double precision, burst double precision,
                                cost double precision) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    now_ts timestamptz := clock_timestamp();
    have double precision;
BEGIN
    INSERT INTO tenant_buckets (tenant_id, tokens, updated_at)
    VALUES (tenant, burst, now_ts)
    ON CONFLICT (tenant_id) DO NOTHING;
    SELECT LEAST(burst, tokens + GREATEST(0, extract(epoch FROM now_ts - updated_at)) * rate)
      INTO have
      FROM tenant_buckets WHERE tenant_id = tenant FOR UPDATE;
    IF have >= cost THEN
        UPDATE tenant_buckets SET tokens = have - cost, updated_at = now_ts
         WHERE tenant_id = tenant;
        RETURN 0;
    END IF;
    RETURN (cost - have) / rate;
END
$$;

CREATE OR REPLACE VIEW tenants_live AS
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
       t.seq,
       t.publish_rate,
       t.publish_burst
FROM tenants t
LEFT JOIN tenant_status s ON s.tenant_id = t.id;
