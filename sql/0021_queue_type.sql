-- The queue type of each tenant's two queues (lib/topology.h): classic or
-- quorum, chosen when the tenant is created (POST /api/tenants's
-- queue_type, else MTM_QUEUE_TYPE) and never changed by mtm afterwards.
-- RabbitMQ refuses to redeclare a queue with another x-queue-type, so the
-- type belongs to the tenant, not to the installation's current setting.
-- Every tenant made before this migration has classic queues.
ALTER TABLE tenants
    ADD COLUMN queue_type text NOT NULL DEFAULT 'classic'
        CONSTRAINT tenants_queue_type_check CHECK (queue_type IN ('classic', 'quorum'));

-- 0009's view, with the queue type as its last column (CREATE OR REPLACE
-- VIEW may only append).
CREATE OR REPLACE VIEW tenants_live AS
SELECT t.id,
       t.name,
       t.status,
       t.concurrency,
       to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
       to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at,
       s.workers_running,
       s.workers_busy,
       s.queue_depth,
       (SELECT count(*) FROM dead_letters d WHERE d.tenant_id = t.id) AS dlq_depth,
       s.consumed,
       s.stored,
       s.failed,
       s.dead_lettered,
       to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS status_at,
       t.seq,
       t.publish_rate,
       t.publish_burst,
       t.queue_type
FROM tenants t
LEFT JOIN tenant_status s ON s.tenant_id = t.id;

-- 0019's tenant, with queue_type.
CREATE OR REPLACE FUNCTION mtm_tenant_json(l tenants_live) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', l.id,
        'name', l.name,
        'status', l.status,
        'concurrency', COALESCE(l.concurrency, 0),
        'queue_type', l.queue_type,
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
