-- A responder no longer asks the shared bucket for every publish: each
-- process keeps a small local allowance per tenant and refills it from the
-- bucket a chunk at a time (cgi-bin/allowance.h). One call takes at least
-- need tokens (what the request in hand lacks) and at most want (need plus
-- the chunk the process will keep), as many as the bucket holds; or nothing.
--
-- granted: the whole tokens taken (need <= granted <= want), or 0;
-- wait: 0 when granted, otherwise the seconds until need tokens will be in
-- the bucket (the bucket is then left untouched, as mtm_take_tokens does).
-- The clock is read after the row lock and updated_at never moves
-- backwards, as in 0011. mtm_take_tokens stays for responders of an older
-- release during a rolling upgrade.
CREATE FUNCTION mtm_take_token_chunk(tenant uuid, rate double precision,
                                     burst double precision, need double precision,
                                     want double precision,
                                     OUT granted bigint, OUT wait double precision)
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
    IF have >= need THEN
        granted := least(greatest(want, need), floor(have))::bigint;
        wait := 0;
        UPDATE tenant_buckets SET tokens = have - granted, updated_at = now_ts
         WHERE tenant_id = tenant;
    ELSE
        granted := 0;
        wait := (need - have) / rate;
    END IF;
END
$$;
