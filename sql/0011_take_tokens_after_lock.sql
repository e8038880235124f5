-- mtm_take_tokens read the clock before taking the bucket's row lock, so a
-- caller that waited behind a later one could write an earlier updated_at
-- and the next caller was refilled for the same time twice (a small
-- over-grant under contention). The clock is now read after the lock, and
-- updated_at never moves backwards.
CREATE OR REPLACE FUNCTION mtm_take_tokens(tenant uuid, rate double precision,
                                           burst double precision, cost double precision)
RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    now_ts timestamptz;
    last timestamptz;
    tokens_then double precision;
    have double precision;
BEGIN
    INSERT INTO tenant_buckets (tenant_id, tokens, updated_at)
    VALUES (tenant, burst, clock_timestamp())
    ON CONFLICT (tenant_id) DO NOTHING;
    SELECT tokens, updated_at INTO tokens_then, last
      FROM tenant_buckets WHERE tenant_id = tenant FOR UPDATE;
    now_ts := greatest(clock_timestamp(), last);
    have := least(burst, tokens_then + extract(epoch FROM now_ts - last) * rate);
    IF have >= cost THEN
        UPDATE tenant_buckets SET tokens = have - cost, updated_at = now_ts
         WHERE tenant_id = tenant;
        RETURN 0;
    END IF;
    RETURN (cost - have) / rate;
END
$$;
