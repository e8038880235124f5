-- Row-level security on tenant data: a second wall behind the API's own
-- checks. Every statement on messages and dead_letters sees only the rows
-- its session's scope allows:
--   mtm.scope = 'all'                    every tenant (admin requests, consumerd)
--   mtm.scope = 'tenant', mtm.tenant_id  that tenant only (tenant tokens)
--   anything else (unset)                no rows at all
-- FORCE makes the policies apply to the table owner too, so the role the
-- services connect as (which owns the schema) cannot bypass them; it must
-- not be a superuser or have BYPASSRLS (mtm-api refuses to start if it is).
-- Partitions get the same policy, so a query naming a partition directly
-- is held to it as well.

CREATE FUNCTION mtm_scope_allows(tenant uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('mtm.scope', true), '') = 'all'
        OR (COALESCE(current_setting('mtm.scope', true), '') = 'tenant'
            AND tenant::text = current_setting('mtm.tenant_id', true))
$$;

ALTER TABLE messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE messages FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON messages
    USING (mtm_scope_allows(tenant_id)) WITH CHECK (mtm_scope_allows(tenant_id));

ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_scope ON dead_letters
    USING (mtm_scope_allows(tenant_id)) WITH CHECK (mtm_scope_allows(tenant_id));

CREATE OR REPLACE FUNCTION mtm_create_partition(tenant uuid) RETURNS void
LANGUAGE plpgsql STRICT AS $$
DECLARE
    part text := mtm_partition_name(tenant);
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF messages FOR VALUES IN (%L)',
                   part, tenant);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', part);
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE tablename = part AND policyname = 'tenant_scope') THEN
        EXECUTE format('CREATE POLICY tenant_scope ON %I USING (mtm_scope_allows(tenant_id))'
                       ' WITH CHECK (mtm_scope_allows(tenant_id))', part);
    END IF;
END
$$;

-- Partitions made before this migration.
DO $$
DECLARE
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM mtm_create_partition(t);
    END LOOP;
END
$$;
