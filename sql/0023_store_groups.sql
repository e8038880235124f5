-- Several tenants' batches stored in one transaction (consumerd/groupstore.h).
-- groups is [{"tenant": uuid, "messages": [...]}, ...], each "messages" as
-- mtm_store_messages takes it (0006, 0015), each tenant at most once. The
-- result has a row per tenant that gained rows: how many.
--
-- The per-tenant advisory locks of mtm_store_messages are taken first, in
-- the order of their keys, so that two groups (or a group and a single
-- batch) never wait for each other in a cycle: a tenant's rows still
-- commit one transaction at a time, which keeps `seq` in commit order for
-- the cursors.
CREATE FUNCTION mtm_store_groups(groups jsonb) RETURNS TABLE (tenant uuid, inserted bigint)
LANGUAGE plpgsql AS $$
DECLARE
    k integer;
BEGIN
    FOR k IN SELECT DISTINCT hashtext(((g->>'tenant')::uuid)::text) FROM jsonb_array_elements(groups) g ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7170029, k);
    END LOOP;
    RETURN QUERY
    WITH stored AS (
        INSERT INTO messages (tenant_id, id, payload, headers, published_at, attempts, trace_id, size)
        SELECT (g->>'tenant')::uuid, e->>'id', e->'payload', COALESCE(e->'headers', '{}'::jsonb),
               to_timestamp((e->>'published_at_ms')::bigint / 1000.0),
               (e->>'attempts')::int, e->>'trace_id', (e->>'size')::int
        FROM jsonb_array_elements(groups) g, jsonb_array_elements(g->'messages') e
        ON CONFLICT (tenant_id, id) DO NOTHING
        RETURNING messages.tenant_id)
    SELECT s.tenant_id, count(*) FROM stored s GROUP BY s.tenant_id;
END
$$;
