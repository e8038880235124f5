-- Alerts as Alertmanager reports them to mtm's webhook
-- (POST /api/alerts/webhook), so that the console and GET /api/alerts show
-- what is firing, and the event stream announces changes (NOTIFY
-- mtm_alerts, which mtm-events passes on as `alert` events).
--
-- One row per alert (Alertmanager's fingerprint: the hash of its labels).
-- A resolved alert stays for a day, then mtm_alerts_sweep() removes it
-- (called by consumerd's periodic loop with the login sweep).

CREATE TABLE alerts (
    fingerprint text PRIMARY KEY CHECK (char_length(fingerprint) BETWEEN 1 AND 64),
    status      text NOT NULL CHECK (status IN ('firing', 'resolved')),
    labels      jsonb NOT NULL,
    annotations jsonb NOT NULL DEFAULT '{}'::jsonb,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_status_idx ON alerts (status, starts_at);

-- The alert as the API shows it (GET /api/alerts, `alert` events).
CREATE FUNCTION mtm_alert_json(a alerts) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'fingerprint', a.fingerprint,
        'status', a.status,
        'name', COALESCE(a.labels->>'alertname', ''),
        'severity', COALESCE(a.labels->>'severity', ''),
        'summary', COALESCE(a.annotations->>'summary', ''),
        'description', left(COALESCE(a.annotations->>'description', ''), 2000),
        'runbook_url', a.annotations->>'runbook_url',
        'tenant', a.labels->>'tenant',
        'starts_at', to_char(a.starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'ends_at', to_char(a.ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'labels', a.labels)
$$;

CREATE FUNCTION mtm_alert_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payload text := mtm_alert_json(NEW)::text;
BEGIN
    -- NOTIFY carries at most 8000 bytes: a larger alert goes without its
    -- labels and description (GET /api/alerts has them).
    IF octet_length(payload) > 7900 THEN
        payload := (mtm_alert_json(NEW)::jsonb - 'labels' - 'description')::text;
    END IF;
    PERFORM pg_notify('mtm_alerts', payload);
    RETURN NULL;
END
$$;

CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE ON alerts
    FOR EACH ROW EXECUTE FUNCTION mtm_alert_notify();

CREATE FUNCTION mtm_alerts_sweep() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM alerts WHERE status = 'resolved' AND updated_at < now() - interval '1 day';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
