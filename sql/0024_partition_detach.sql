-- Deleting a tenant without locking messages against the other tenants.
--
-- DROP TABLE of an attached partition takes ACCESS EXCLUSIVE on messages.
-- It waits for every read and store of every tenant that is running, and
-- every read and store that starts meanwhile queues behind it: one slow
-- reader made a tenant's deletion stop the whole installation's stores.
-- consumerd now first detaches the partition with
-- ALTER TABLE .. DETACH PARTITION .. CONCURRENTLY, which takes SHARE UPDATE
-- EXCLUSIVE (stores and reads go on) and then waits for the transactions
-- that may still see the partition. That statement cannot run in a
-- function or a transaction block, so mtm_detach_partition_sql only writes
-- it for consumerd to send, under a lock_timeout. A detach whose wait was
-- cut short leaves the partition "detach pending"; the next attempt
-- finishes it with FINALIZE. Once detached, the table is dropped alone.

-- The statement that detaches the tenant's partition from messages, or NULL
-- when no partition of that name is attached (none was made, or it is
-- detached already).
CREATE FUNCTION mtm_detach_partition_sql(tenant uuid) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
    SELECT format('ALTER TABLE messages DETACH PARTITION %I.%I %s', n.nspname, c.relname,
                  CASE WHEN i.inhdetachpending THEN 'FINALIZE' ELSE 'CONCURRENTLY' END)
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE i.inhparent = 'messages'::regclass AND c.relname = mtm_partition_name(tenant)
$$;

-- Drops the tenant's partition once it is detached; refuses (55006,
-- object_in_use) while it is still attached, where dropping it would lock
-- messages.
CREATE OR REPLACE FUNCTION mtm_drop_partition(tenant uuid) RETURNS void
LANGUAGE plpgsql STRICT AS $$
BEGIN
    IF mtm_detach_partition_sql(tenant) IS NOT NULL THEN
        RAISE EXCEPTION 'partition % is still attached to messages', mtm_partition_name(tenant)
            USING ERRCODE = 'object_in_use';
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS %I', mtm_partition_name(tenant));
END
$$;
