-- Storing a batch for one tenant, in commit order.
--
-- Readers page through a tenant's messages by seq. For a cursor never to
-- skip a row, a row with a smaller seq must never become visible after one
-- with a larger seq. Taking a per-tenant transaction lock before drawing
-- from the sequence serialises a tenant's inserts, so within a tenant seq
-- order is commit order. (Different tenants never wait for each other,
-- except on a hash collision of their ids, which only costs a wait.)
--
-- batch: a JSON array of {"id","payload","headers","published_at_ms",
-- "attempts","trace_id"}. Returns the number of rows inserted (rows whose
-- (tenant_id, id) already exists are skipped: redeliveries).

CREATE FUNCTION mtm_store_messages(tenant uuid, batch jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    inserted bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7170029, hashtext(tenant::text));
    INSERT INTO messages (tenant_id, id, payload, headers, published_at, attempts, trace_id)
    SELECT tenant, e->>'id', e->'payload', COALESCE(e->'headers', '{}'::jsonb),
           to_timestamp((e->>'published_at_ms')::bigint / 1000.0),
           (e->>'attempts')::int, e->>'trace_id'
    FROM jsonb_array_elements(batch) e
    ON CONFLICT (tenant_id, id) DO NOTHING;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted;
END
$$;
