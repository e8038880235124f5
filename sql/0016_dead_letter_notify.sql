-- Dead letters announce themselves, for the event stream (mtm-events):
-- every insert or update of a dead letter NOTIFYs mtm_dead_letters with
-- its tenant, id, reason code and attempts as JSON (well under NOTIFY's
-- 8000-byte payload limit: ids are at most 256 bytes).

CREATE FUNCTION mtm_dead_letter_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mtm_dead_letters', json_build_object(
        'tenant_id', NEW.tenant_id, 'id', NEW.id, 'reason_code', NEW.reason_code,
        'reason', NEW.reason, 'attempts', NEW.attempts)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER dead_letters_notify AFTER INSERT OR UPDATE ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION mtm_dead_letter_notify();
