-- Revoking a tenant token NOTIFYs channel mtm_tokens with the token's
-- tenant id.
--
-- The responder keeps, beside each tenant's facts, the tenant tokens it
-- recently found valid (cgi-bin/tenantcache.h), so that a request with a
-- tenant token no longer pays a database round trip for its revocation
-- check. Its tenant watcher LISTENs on mtm_tokens as on mtm_tenants and
-- forgets the tenant named, so a revocation made through any responder
-- process (or by hand in SQL) reaches every process's cache. Inserting a
-- token needs no notification: a new jti is in no cache. Tokens that go
-- with their tenant (ON DELETE CASCADE) notify too; the tenant's own row
-- change already has.
CREATE FUNCTION mtm_tokens_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mtm_tokens', OLD.tenant_id::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenant_tokens_notify
    AFTER UPDATE OR DELETE ON tenant_tokens
    FOR EACH ROW EXECUTE FUNCTION mtm_tokens_notify();
