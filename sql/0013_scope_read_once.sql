-- Row-level security that reads the session's scope once per statement.
--
-- The policies of 0008 call mtm_scope_allows(tenant_id) for every row a
-- statement reads or writes. Since 0012 it is not inlined (so that the
-- planner keeps the (tenant_id, seq) index for first pages), and a
-- LANGUAGE sql function that is not inlined is parsed and planned once per
-- statement and run through the executor, with its SET clause saved and
-- restored, once per row: 5 microseconds a row, which made a full read of
-- 200,000 rows 40 times slower than without the policy, and every worker
-- batch and page pay the parse.
--
-- The new policies compare each row with two values that uncorrelated
-- sub-selects compute once per statement (InitPlans):
--     (SELECT mtm_scope_all()) OR tenant_id = (SELECT mtm_scope_tenant())
-- The rules are those of 0008: scope 'all' sees every tenant, scope
-- 'tenant' with a tenant id sees that tenant, anything else sees nothing
-- (mtm_scope_tenant() is NULL unless the id is a well-formed UUID, so a
-- malformed setting can neither match nor raise a cast error). The planner
-- treats "$0 OR tenant_id = $1" as keeping most rows, so first pages stay
-- index scans at every partition size.

CREATE FUNCTION mtm_scope_all() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('mtm.scope', true), '') = 'all'
$$;

CREATE FUNCTION mtm_scope_tenant() RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN current_setting('mtm.scope', true) = 'tenant'
         AND current_setting('mtm.tenant_id', true)
             ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
        THEN current_setting('mtm.tenant_id', true)::uuid
    END
$$;

-- Sets the policy on one table (messages, dead_letters or a partition).
CREATE FUNCTION mtm_apply_scope_policy(tbl text) RETURNS void
LANGUAGE plpgsql STRICT AS $$
DECLARE
    rule constant text :=
        '(SELECT mtm_scope_all()) OR tenant_id = (SELECT mtm_scope_tenant())';
BEGIN
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant_scope ON %I', tbl);
    EXECUTE format('CREATE POLICY tenant_scope ON %I USING (%s) WITH CHECK (%s)',
                   tbl, rule, rule);
END
$$;

CREATE OR REPLACE FUNCTION mtm_create_partition(tenant uuid) RETURNS void
LANGUAGE plpgsql STRICT AS $$
DECLARE
    part text := mtm_partition_name(tenant);
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF messages FOR VALUES IN (%L)',
                   part, tenant);
    PERFORM mtm_apply_scope_policy(part);
END
$$;

SELECT mtm_apply_scope_policy('messages');
SELECT mtm_apply_scope_policy('dead_letters');
SELECT mtm_apply_scope_policy(mtm_partition_name(id)) FROM tenants
WHERE to_regclass(mtm_partition_name(id)) IS NOT NULL;

-- Nothing refers to it any more.
DROP FUNCTION mtm_scope_allows(uuid);
