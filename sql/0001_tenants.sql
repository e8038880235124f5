-- Tenants: the desired state consumerd reconciles towards.
--
-- status: active (workers consume), paused (pool stopped, queue keeps
-- filling), deleting (publishes refused; consumerd tears down and then
-- removes the row). Every change NOTIFYs channel mtm_tenants with the
-- tenant id; the notification is only a hint (consumerd also resyncs).

CREATE TABLE tenants (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    status      text NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'paused', 'deleting')),
    concurrency integer NOT NULL CHECK (concurrency BETWEEN 1 AND 1024),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Names are unique regardless of case, so "Acme" and "acme" cannot coexist.
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));
-- seq orders the tenant list for keyset pagination (its UNIQUE index).

CREATE FUNCTION mtm_tenants_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mtm_tenants', COALESCE(NEW.id, OLD.id)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_notify
    AFTER INSERT OR UPDATE OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION mtm_tenants_notify();

CREATE FUNCTION mtm_tenants_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER tenants_touch
    BEFORE UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION mtm_tenants_touch();
