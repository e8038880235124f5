-- Messages, LIST-partitioned by tenant: one partition per tenant, so that
-- deleting a tenant is a DROP of its partition, and a tenant's reads touch
-- only its own table.
--
-- id is the UUIDv7 made at publish or the producer's Idempotency-Key; the
-- primary key (tenant_id, id) makes storing idempotent. seq orders stored
-- messages for keyset pagination (a sequence: identity columns are not
-- supported on partitioned tables in PostgreSQL 15).

CREATE SEQUENCE messages_seq AS bigint;

CREATE TABLE messages (
    tenant_id    uuid NOT NULL,
    id           text NOT NULL CHECK (char_length(id) BETWEEN 1 AND 256),
    seq          bigint NOT NULL DEFAULT nextval('messages_seq'),
    payload      jsonb NOT NULL,
    headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
    published_at timestamptz NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 1,
    trace_id     text,
    PRIMARY KEY (tenant_id, id)
) PARTITION BY LIST (tenant_id);

CREATE INDEX messages_seq_idx ON messages (tenant_id, seq);

-- The only way partition names are made: from a uuid, so no caller can
-- smuggle SQL into an identifier.
CREATE FUNCTION mtm_partition_name(tenant uuid) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT 'messages_' || replace(tenant::text, '-', '')
$$;

CREATE FUNCTION mtm_create_partition(tenant uuid) RETURNS void
LANGUAGE plpgsql STRICT AS $$
BEGIN
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF messages FOR VALUES IN (%L)',
                   mtm_partition_name(tenant), tenant);
END
$$;

CREATE FUNCTION mtm_drop_partition(tenant uuid) RETURNS void
LANGUAGE plpgsql STRICT AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', mtm_partition_name(tenant));
END
$$;
