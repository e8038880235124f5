-- The tenant as the API shows it (GET /api/tenants/{id}, the pages of
-- GET /api/tenants, `tenant` events), defined once, from a row of
-- tenants_live (0009): statements select mtm_tenant_json(l) by name instead
-- of `SELECT *` read by column position. Counters a tenant has no status
-- row for yet are 0; queue_depth stays null until consumerd has read it.
CREATE FUNCTION mtm_tenant_json(l tenants_live) RETURNS json
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
        'status_updated_at', l.status_at)
$$;
