-- A tenant's partition is made without locking `messages` against every
-- other tenant, and by consumerd rather than in the create request.
--
-- CREATE TABLE .. PARTITION OF takes an ACCESS EXCLUSIVE lock on
-- `messages` until the transaction ends: every store and every read of
-- every tenant waited for it. With 10,000 partitions making one takes about
-- 30 ms (the parent's partition descriptor is rebuilt and the new bound
-- checked against every other), and the create request held the lock
-- across its broker round trips until COMMIT, so concurrent creates queued
-- behind each other (docs/performance.md, "Tenant scale").
--
-- Now the table is made on its own (CREATE TABLE .. LIKE, with its indexes
-- and row-level security), then attached: ATTACH PARTITION takes only a
-- SHARE UPDATE EXCLUSIVE lock on `messages`, which does not conflict with
-- inserts or reads. consumerd makes the partition when it takes a tenant,
-- before the tenant's pool starts (consumerd/reconcile.c); the create
-- request no longer waits for it. Until then nothing can be stored for the
-- tenant, and a read of its messages finds none.

CREATE OR REPLACE FUNCTION mtm_create_partition(tenant uuid) RETURNS void
LANGUAGE plpgsql STRICT AS $$
DECLARE
    part text := mtm_partition_name(tenant);
    rel  regclass := to_regclass(part);
BEGIN
    IF rel IS NOT NULL AND EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = rel) THEN
        RETURN;
    END IF;
    IF rel IS NULL THEN
        EXECUTE format('CREATE TABLE %I (LIKE messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                       ' INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        PERFORM mtm_apply_scope_policy(part);
    END IF;
    EXECUTE format('ALTER TABLE messages ATTACH PARTITION %I FOR VALUES IN (%L)', part, tenant);
END
$$;

-- The tenants among `tenants` whose partition is attached once it returns.
-- It makes missing ones for at most budget_ms: making one takes a few ms,
-- about 30 with 10,000 partitions, and consumerd's main thread waits for
-- the answer (its heartbeat too), so a thousand new tenants are made over
-- several passes; checking one that exists costs microseconds, so a
-- restart with 10,000 tenants is one statement. A tenant whose partition
-- cannot be made now is left out with a warning in PostgreSQL's log (its
-- row was deleted meanwhile, say, or a lock timed out), so that one tenant
-- does not hold back the others; consumerd asks again at its next pass.
CREATE FUNCTION mtm_ensure_partitions(tenants uuid[], budget_ms integer) RETURNS SETOF uuid
LANGUAGE plpgsql STRICT AS $$
DECLARE
    t     uuid;
    rel   regclass;
    until timestamptz := clock_timestamp() + make_interval(secs => budget_ms / 1000.0);
BEGIN
    FOREACH t IN ARRAY tenants LOOP
        rel := to_regclass(mtm_partition_name(t));
        IF rel IS NULL OR NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = rel) THEN
            CONTINUE WHEN clock_timestamp() > until;
            BEGIN
                PERFORM mtm_create_partition(t);
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'partition of tenant %: %', t, SQLERRM;
                CONTINUE;
            END;
        END IF;
        RETURN NEXT t;
    END LOOP;
END
$$;
