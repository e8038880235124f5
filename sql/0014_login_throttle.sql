-- Login throttling per client address, with growing delays, instead of a
-- lockout per (username, address); bounded bookkeeping of failed logins.
--
-- 0007 counted failures per (username, address) and refused every login of
-- that pair for 5 minutes after 5 failures. Two flaws: behind a proxy every
-- client shares one address, so anyone could keep the admin locked out; and
-- the check (a SELECT) and the count (an upsert after the password hash)
-- were separate statements, so concurrent guesses all passed the check.
--
-- Now a login attempt first takes a turn from its address's record, in one
-- call of mtm_login_attempt() that holds the record's row lock: it counts
-- the attempt and answers whether it may go on, before any password work.
-- The first `free` attempts of a record go on at once; from then on each
-- attempt let through sets the next one `base_s * 2^(n - free)` seconds
-- later (capped at `cap_s`); attempts before that time are refused (429
-- with Retry-After) and change nothing, so refusals cost no write and do
-- not extend the wait. A successful login deletes its address's record. A
-- record expires `forget_s` seconds after its last attempt let through (or
-- when its wait ends, if later); consumerd's sweep (mtm_login_sweep) then
-- deletes it and writes one login.failures audit entry that sums it up.
--
-- The record keeps the first few user names tried (for that summary),
-- never passwords.

DROP TABLE login_failures;

CREATE TABLE login_throttle (
    address       text PRIMARY KEY,
    attempts      integer NOT NULL,             -- attempts let through since first_at
    first_at      timestamptz NOT NULL,
    last_at       timestamptz NOT NULL,         -- the last attempt let through
    blocked_until timestamptz NOT NULL,         -- no attempt goes on before this
    expires_at    timestamptz NOT NULL,         -- forgotten from then on
    users         text[] NOT NULL DEFAULT '{}'  -- the first 8 distinct user names tried
);
CREATE INDEX login_throttle_expires_idx ON login_throttle (expires_at);

-- The sweep's retention of failed-login audit entries reads by time.
CREATE INDEX audit_log_login_failure_at_idx ON audit_log (at)
    WHERE action IN ('login.failure', 'login.failures');

-- Takes a turn for a login attempt from `addr`. allowed: the attempt may
-- check the password; attempts: the attempts let through in this record,
-- this one included (1 = the first of a new record); retry_after: seconds
-- until the next attempt would be let through (0 while free attempts are
-- left).
CREATE FUNCTION mtm_login_attempt(addr text, username text, free integer,
                                  base_s double precision, cap_s double precision,
                                  forget_s double precision,
                                  OUT allowed boolean, OUT attempts integer,
                                  OUT retry_after integer)
LANGUAGE plpgsql AS $$
DECLARE
    r login_throttle;
    now_ts timestamptz;
    wait double precision;
BEGIN
    INSERT INTO login_throttle (address, attempts, first_at, last_at, blocked_until, expires_at)
    VALUES (addr, 0, clock_timestamp(), clock_timestamp(), '-infinity', 'infinity')
    ON CONFLICT (address) DO NOTHING;
    SELECT * INTO r FROM login_throttle t WHERE t.address = addr FOR UPDATE;
    now_ts := clock_timestamp(); -- read under the lock: ordered with the holder before us
    IF r.expires_at <= now_ts THEN
        -- Expired but not swept yet: start over (the sweep's summary of the
        -- old record is lost; its first failure has its own audit entry).
        r.attempts := 0;
        r.first_at := now_ts;
        r.blocked_until := '-infinity';
        r.users := '{}';
    END IF;
    IF r.blocked_until > now_ts THEN
        allowed := false;
        attempts := r.attempts;
        retry_after := GREATEST(1, ceil(extract(epoch FROM r.blocked_until - now_ts)))::integer;
        RETURN;
    END IF;
    r.attempts := r.attempts + 1;
    wait := CASE WHEN r.attempts < free THEN 0
                 ELSE LEAST(cap_s, base_s * power(2.0, LEAST(r.attempts - free, 30))) END;
    UPDATE login_throttle t
       SET attempts = r.attempts,
           first_at = r.first_at,
           last_at = now_ts,
           blocked_until = now_ts + make_interval(secs => wait),
           expires_at = now_ts + make_interval(secs => GREATEST(wait, forget_s)),
           users = CASE WHEN username = ANY (r.users) OR cardinality(r.users) >= 8 THEN r.users
                        ELSE r.users || username END
     WHERE t.address = addr;
    allowed := true;
    attempts := r.attempts;
    retry_after := ceil(wait)::integer;
END
$$;

-- Deletes expired throttle records, writing one login.failures audit entry
-- for each that saw more than one failure, and failed-login audit entries
-- older than keep_days. Returns the records deleted. Safe to run from
-- several consumerd processes at once (each record is deleted once).
CREATE FUNCTION mtm_login_sweep(keep_days integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    WITH gone AS (
        DELETE FROM login_throttle WHERE expires_at <= clock_timestamp()
        RETURNING address, attempts, first_at, last_at, users
    ), summed AS (
        INSERT INTO audit_log (actor, action, address, detail)
        SELECT 'anonymous', 'login.failures', address,
               jsonb_build_object(
                   'failures', attempts,
                   'first_at', to_char(first_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   'last_at', to_char(last_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                   'users', to_jsonb(users))
          FROM gone WHERE attempts > 1
    )
    SELECT count(*) INTO n FROM gone;
    DELETE FROM audit_log
     WHERE action IN ('login.failure', 'login.failures')
       AND at < now() - make_interval(days => keep_days);
    RETURN n;
END
$$;
