-- A readable preview of a dead letter's body: up to the first 1024 bytes as
-- text when they are UTF-8 (a multi-byte character cut by the limit is
-- dropped), otherwise PostgreSQL's escape encoding, which shows bytes that
-- are not text as octal escapes.
CREATE FUNCTION mtm_preview(body bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    n integer := least(length(body), 1024);
BEGIN
    FOR cut IN 0..3 LOOP
        EXIT WHEN n - cut < 0;
        BEGIN
            RETURN convert_from(substring(body FROM 1 FOR n - cut), 'UTF8');
        EXCEPTION WHEN OTHERS THEN
            IF length(body) <= 1024 THEN
                EXIT; /* not a cut character: the body is not UTF-8 */
            END IF;
        END;
    END LOOP;
    RETURN encode(substring(body FROM 1 FOR 1024), 'escape');
END
$$;
