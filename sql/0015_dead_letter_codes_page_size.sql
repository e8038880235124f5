-- Dead letters get a stable reason code; messages remember their size.
--
-- reason_code: what a tenant (and the console) can act on, one of
-- invalid_message_id, body_too_large, body_not_json, body_has_nul,
-- invalid_headers, storage_refused (consumerd/delivery.h). reason is a
-- short sentence of mtm's own; the database's error text, which named SQL
-- and internals, now goes only to consumerd's log. Rows written before
-- this migration get the code their reason's wording implies, and reasons
-- that quoted PostgreSQL are replaced.

ALTER TABLE dead_letters ADD COLUMN reason_code text NOT NULL DEFAULT 'unknown';

UPDATE dead_letters SET reason_code = CASE
        WHEN reason LIKE 'missing or invalid message_id%' THEN 'invalid_message_id'
        WHEN reason LIKE 'body of % bytes is over%' THEN 'body_too_large'
        WHEN reason LIKE 'body is not valid JSON%' THEN 'body_not_json'
        WHEN reason LIKE 'body holds%' THEN 'body_has_nul'
        WHEN reason LIKE 'x-mtm-headers%' THEN 'invalid_headers'
        WHEN reason LIKE 'the database refused it%' THEN 'storage_refused'
        ELSE 'unknown' END;
UPDATE dead_letters SET reason = 'the database refused the message'
    WHERE reason_code = 'storage_refused';

-- size: bytes of the payload and headers as the producer sent them, so a
-- page can stop at its byte budget without rendering rows it will not
-- send. NULL for rows stored before this migration (pages then estimate
-- from the stored size).
ALTER TABLE messages ADD COLUMN size integer;

CREATE OR REPLACE FUNCTION mtm_store_messages(tenant uuid, batch jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    inserted bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7170029, hashtext(tenant::text));
    INSERT INTO messages (tenant_id, id, payload, headers, published_at, attempts, trace_id, size)
    SELECT tenant, e->>'id', e->'payload', COALESCE(e->'headers', '{}'::jsonb),
           to_timestamp((e->>'published_at_ms')::bigint / 1000.0),
           (e->>'attempts')::int, e->>'trace_id', (e->>'size')::int
    FROM jsonb_array_elements(batch) e
    ON CONFLICT (tenant_id, id) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted;
END
$$;
