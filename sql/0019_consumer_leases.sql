-- Several consumerd share the tenants (docs/architecture.md, "Running
-- across hosts"). Each consumerd process is a row of `consumers`, written
-- every second (its heartbeat); each tenant is consumed by the one
-- consumerd that holds its row in `tenant_leases`. A lease lives as long
-- as its holder's heartbeat: a consumerd silent for longer than the lease
-- time (MTM_HEARTBEAT_MAX_AGE) is removed by the next heartbeat of any
-- other, and its leases with it (ON DELETE CASCADE), so its tenants move.
-- A consumerd that stops gracefully removes itself once its workers have
-- stopped, handing its tenants over at once.
--
-- The heartbeat and the share are one statement, mtm_consumer_beat(),
-- serialised across consumerd by a transaction-scoped advisory lock:
-- a consumerd holding more than its fair share (ceil(tenants / live
-- consumerd)) gives back its newest tenants, one holding fewer takes the
-- oldest free ones, so a consumerd that joins gets its share from the
-- others' excess (each moves at most its excess, once) and a dead one's
-- tenants are spread over the living.

CREATE TABLE consumers (
    id             uuid PRIMARY KEY,
    hostname       text NOT NULL,
    pid            integer NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    beat_at        timestamptz NOT NULL DEFAULT now(),
    amqp_connected boolean NOT NULL DEFAULT false
);

CREATE TABLE tenant_leases (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    consumer_id uuid NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
    since       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_leases_consumer_idx ON tenant_leases (consumer_id);

-- The single-consumerd heartbeat (0003) is replaced by `consumers`.
DROP TABLE consumerd_heartbeat;

-- One consumerd's heartbeat: records it, removes consumerd silent for
-- longer than lease_ms, evens out the share, and returns the tenants this
-- consumerd holds now (sorted, so that a change is easy to see).
CREATE FUNCTION mtm_consumer_beat(me uuid, p_host text, p_pid integer, p_amqp boolean, lease_ms integer)
RETURNS TABLE (leased uuid)
LANGUAGE plpgsql AS $$
DECLARE
    live   bigint;
    total  bigint;
    fair   bigint;
    mine   bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mtm_consumer_leases'));
    INSERT INTO consumers AS c (id, hostname, pid, beat_at, amqp_connected)
    VALUES (me, p_host, p_pid, now(), p_amqp)
    ON CONFLICT (id) DO UPDATE SET beat_at = now(), amqp_connected = excluded.amqp_connected,
                                   hostname = excluded.hostname, pid = excluded.pid;
    DELETE FROM consumers c WHERE c.id <> me AND c.beat_at < now() - make_interval(secs => lease_ms / 1000.0);

    SELECT count(*) INTO live FROM consumers;
    SELECT count(*) INTO total FROM tenants;
    SELECT count(*) INTO mine FROM tenant_leases l WHERE l.consumer_id = me;
    fair := (total + live - 1) / live;
    IF mine > fair THEN
        DELETE FROM tenant_leases l
        WHERE l.tenant_id IN (SELECT x.tenant_id FROM tenant_leases x JOIN tenants t ON t.id = x.tenant_id
                              WHERE x.consumer_id = me ORDER BY t.seq DESC LIMIT mine - fair);
    ELSIF mine < fair THEN
        INSERT INTO tenant_leases (tenant_id, consumer_id)
        SELECT t.id, me FROM tenants t
        WHERE NOT EXISTS (SELECT 1 FROM tenant_leases x WHERE x.tenant_id = t.id)
        ORDER BY t.seq LIMIT fair - mine;
    END IF;
    RETURN QUERY SELECT l.tenant_id FROM tenant_leases l WHERE l.consumer_id = me ORDER BY l.tenant_id;
END
$$;

-- A consumerd that stops gracefully, once its workers are gone.
CREATE FUNCTION mtm_consumer_leave(me uuid) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM consumers WHERE id = me;
$$;

-- The tenant as the API shows it (0018), with the consumerd that holds it:
-- {"id", "hostname", "pid"}, or null while no consumerd does.
CREATE OR REPLACE FUNCTION mtm_tenant_json(l tenants_live) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', l.id,
        'name', l.name,
        'status', l.status,
        'concurrency', COALESCE(l.concurrency, 0),
        'created_at', l.created_at,
        'updated_at', l.updated_at,
        'workers', json_build_object('running', COALESCE(l.workers_running, 0),
                                     'busy', COALESCE(l.workers_busy, 0)),
        'queue_depth', l.queue_depth,
        'dlq_depth', COALESCE(l.dlq_depth, 0),
        'counters', json_build_object('consumed', COALESCE(l.consumed, 0),
                                      'stored', COALESCE(l.stored, 0),
                                      'failed', COALESCE(l.failed, 0),
                                      'dead_lettered', COALESCE(l.dead_lettered, 0)),
        'publish_limit', json_build_object('rate', l.publish_rate, 'burst', l.publish_burst),
        'status_updated_at', l.status_at,
        'consumer', (SELECT json_build_object('id', c.id, 'hostname', c.hostname, 'pid', c.pid)
                     FROM tenant_leases x JOIN consumers c ON c.id = x.consumer_id
                     WHERE x.tenant_id = l.id))
$$;
