/*
 * statements: every SQL statement mtm runs at run time, by name.
 *
 * Each connection prepares a statement the first time it is used (pg.c), so
 * a connection made before the schema exists still works once it does.
 * Statements take only parameters; nothing here is built from strings.
 * Migrations (sql/NNNN_*.sql) are the only other SQL.
 *
 * X(ID, "sql text", number of parameters)
 */
#ifndef MTM_STATEMENTS_H
#define MTM_STATEMENTS_H

/* RFC 3339 text in UTC with microseconds, for timestamps the API shows. */
#define MTM_SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

// clang-format off
#define MTM_DLQ_ROW                                                                                \
    "SELECT seq, json_build_object('id', id, 'reason_code', reason_code, 'reason', reason,"        \
    " 'attempts', attempts,"                                                                       \
    " 'first_failed_at', " MTM_SQL_TS("first_failed_at") ","                                       \
    " 'last_failed_at', " MTM_SQL_TS("last_failed_at") ", 'size', length(body),"                   \
    " 'body_truncated', COALESCE(properties->>'body_truncated' = 'true', false),"                  \
    " 'payload_preview', mtm_preview(body), 'payload_truncated', length(body) > 1024)::text"      \
    " FROM dead_letters WHERE tenant_id = $1::uuid"

/*
 * A page of messages: $1 tenant, $2 the cursor's seq, $3 rows to read
 * (the page's limit + 1), $4 the page's byte budget. The innermost select
 * reads the rows by the (tenant_id, seq) index without detoasting them; the
 * window sums their sizes in page order, and only the rows that start
 * within the budget are rendered. n is how many rows were read, so the
 * caller knows whether the budget cut the page short.
 */
#define MTM_MESSAGES_PAGE(CMP, ORDER)                                                              \
    "SELECT seq, json_build_object('id', id, 'tenant_id', tenant_id, 'payload', payload,"          \
    " 'headers', headers, 'published_at', " MTM_SQL_TS("published_at") ","                         \
    " 'stored_at', " MTM_SQL_TS("stored_at") ", 'attempts', attempts,"                             \
    " 'trace_id', trace_id)::text, n"                                                              \
    " FROM (SELECT l.*, count(*) OVER () AS n,"                                                    \
    " sum(sz) OVER (ORDER BY seq " ORDER " ROWS UNBOUNDED PRECEDING) AS run"                       \
    " FROM (SELECT seq, id, tenant_id, payload, headers, published_at, stored_at, attempts,"       \
    " trace_id, COALESCE(size, pg_column_size(payload) + pg_column_size(headers)) AS sz"          \
    " FROM messages WHERE tenant_id = $1::uuid AND seq " CMP " $2::bigint"                         \
    " ORDER BY seq " ORDER " LIMIT $3::int) l) w"                                                  \
    " WHERE run - sz < $4::bigint ORDER BY seq " ORDER

/* An audit page: $1 the cursor's seq, $2 rows to read, $3 a tenant or NULL. */
#define MTM_AUDIT_PAGE(CMP, ORDER)                                                                 \
    "SELECT seq, json_build_object('seq', seq, 'at', " MTM_SQL_TS("at") ", 'actor', actor,"        \
    " 'action', action, 'target', target, 'request_id', request_id, 'address', address,"           \
    " 'detail', detail)::text FROM audit_log WHERE seq " CMP " $1::bigint"                         \
    " AND ($3::text IS NULL OR target = $3::text) ORDER BY seq " ORDER " LIMIT $2::int"
// clang-format on

#define MTM_STATEMENTS(X)                                                                          \
    X(PING, "SELECT 1", 0)                                                                         \
    /* A consumerd's heartbeat and share of the tenants: sql/0019_consumer_leases.sql. */          \
    X(CONSUMER_BEAT,                                                                               \
      "SELECT leased FROM mtm_consumer_beat($1::uuid, $2, $3::integer, $4::boolean, $5::integer)", \
      5)                                                                                           \
    X(CONSUMER_LEAVE, "SELECT mtm_consumer_leave($1::uuid)", 1)                                    \
    /* The youngest heartbeat of any consumerd; no row when there is none. */                      \
    X(HEARTBEAT_AGE,                                                                               \
      "SELECT extract(epoch FROM now() - max(beat_at))::float8, bool_or(amqp_connected)"           \
      " FROM consumers HAVING count(*) > 0",                                                       \
      0)                                                                                           \
    X(CONSUMERS_LIST,                                                                              \
      "SELECT COALESCE(json_agg(json_build_object('id', c.id, 'hostname', c.hostname,"             \
      " 'pid', c.pid, 'heartbeat_age_s', round(extract(epoch FROM now() - c.beat_at)::numeric, "   \
      "1),"                                                                                        \
      " 'tenants', (SELECT count(*) FROM tenant_leases l WHERE l.consumer_id = c.id))"             \
      " ORDER BY c.started_at), '[]') FROM consumers c",                                           \
      0)                                                                                           \
    X(TENANT_INSERT,                                                                               \
      "INSERT INTO tenants (name, concurrency, queue_type) VALUES ($1, $2::integer, $3) "          \
      "RETURNING id",                                                                              \
      3)                                                                                           \
    X(TENANT_CREATE_PARTITION, "SELECT mtm_create_partition($1::uuid)", 1)                         \
    /* A tenant as the API shows it: sql/0018_tenant_json.sql. */                                  \
    X(TENANT_GET, "SELECT mtm_tenant_json(l) FROM tenants_live l WHERE id = $1::uuid", 1)          \
    X(TENANT_ALL, "SELECT id, mtm_tenant_json(l) FROM tenants_live l ORDER BY seq", 0)             \
    X(TENANT_STATE, "SELECT status, publish_rate, publish_burst FROM tenants WHERE id = $1::uuid", \
      1)                                                                                           \
    X(TENANT_SET_RATE,                                                                             \
      "UPDATE tenants SET publish_rate = $2::integer, publish_burst = $3::integer"                 \
      " WHERE id = $1::uuid AND status <> 'deleting' RETURNING id",                                \
      3)                                                                                           \
    /* A chunk of the shared publish limit: sql/0020, cgi-bin/allowance.h. */                      \
    X(TAKE_TOKEN_CHUNK,                                                                            \
      "SELECT granted, wait FROM mtm_take_token_chunk($1::uuid, $2::float8, $3::float8,"           \
      " $4::float8, $5::float8)",                                                                  \
      5)                                                                                           \
    /* Rows (seq, tenant) for api_respond_page. $3: a part of the name (any case) or NULL;         \
     * $4: a status or NULL. */                                                                    \
    X(TENANT_LIST,                                                                                 \
      "SELECT seq, mtm_tenant_json(l) FROM tenants_live l WHERE seq > $1::bigint"                  \
      " AND ($3::text IS NULL OR strpos(lower(name), lower($3::text)) > 0)"                        \
      " AND ($4::text IS NULL OR status = $4::text) ORDER BY seq LIMIT $2::int",                   \
      4)                                                                                           \
    X(TENANT_SET_CONCURRENCY,                                                                      \
      "UPDATE tenants SET concurrency = $2::integer"                                               \
      " WHERE id = $1::uuid AND status <> 'deleting' RETURNING id",                                \
      2)                                                                                           \
    X(TENANT_SET_STATUS,                                                                           \
      "UPDATE tenants SET status = $2"                                                             \
      " WHERE id = $1::uuid AND status <> 'deleting' RETURNING id",                                \
      2)                                                                                           \
    X(TENANT_MARK_DELETING,                                                                        \
      "UPDATE tenants SET status = 'deleting' WHERE id = $1::uuid RETURNING id", 1)                \
    /* The tenants this consumerd ($1) holds the lease of. */                                      \
    X(TENANTS_DESIRED,                                                                             \
      "SELECT t.id, t.status, t.concurrency, t.name FROM tenants t"                                \
      " JOIN tenant_leases l ON l.tenant_id = t.id WHERE l.consumer_id = $1::uuid ORDER BY t.seq", \
      1)                                                                                           \
    /* Of the tenants $1, those whose partition is attached (made for up to $2 ms). */             \
    X(TENANTS_ENSURE_PARTITIONS, "SELECT mtm_ensure_partitions($1::uuid[], $2::integer)", 2)       \
    /* The DETACH .. CONCURRENTLY (or FINALIZE) to send for the tenant's partition, or NULL. */    \
    X(TENANT_DETACH_PARTITION_SQL, "SELECT mtm_detach_partition_sql($1::uuid)", 1)                 \
    X(TENANT_DROP_PARTITION, "SELECT mtm_drop_partition($1::uuid)", 1)                             \
    X(TENANT_DELETE, "DELETE FROM tenants WHERE id = $1::uuid AND status = 'deleting'", 1)         \
    X(TENANT_STATUS_UPSERT,                                                                        \
      "INSERT INTO tenant_status AS s (tenant_id, workers_running, workers_busy, queue_depth,"     \
      " consumed, stored, failed, dead_lettered, updated_at)"                                      \
      " SELECT (e->>'id')::uuid, (e->>'running')::int, (e->>'busy')::int,"                         \
      " (e->>'depth')::bigint, (e->>'consumed')::bigint, (e->>'stored')::bigint,"                  \
      " (e->>'failed')::bigint, (e->>'dead_lettered')::bigint, now()"                              \
      " FROM jsonb_array_elements($1::jsonb) e"                                                    \
      " WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = (e->>'id')::uuid)"                      \
      " ON CONFLICT (tenant_id) DO UPDATE SET workers_running = excluded.workers_running,"         \
      " workers_busy = excluded.workers_busy,"                                                     \
      " queue_depth = COALESCE(excluded.queue_depth, s.queue_depth),"                              \
      " consumed = excluded.consumed, stored = excluded.stored, failed = excluded.failed,"         \
      " dead_lettered = excluded.dead_lettered, updated_at = now()",                               \
      1)                                                                                           \
    X(MESSAGES_INSERT, "SELECT mtm_store_messages($1::uuid, $2::jsonb)", 2)                        \
    /* Several tenants' batches: consumerd/groupstore.h. */                                        \
    X(MESSAGES_INSERT_GROUPS, "SELECT tenant, inserted FROM mtm_store_groups($1::jsonb)", 1)       \
    X(DEAD_LETTER_INSERT,                                                                          \
      "INSERT INTO dead_letters (tenant_id, id, reason, attempts, first_failed_at,"                \
      " last_failed_at, body, properties, reason_code)"                                            \
      " VALUES ($1::uuid, $2, $3, $4::int, to_timestamp($5::bigint / 1000.0), now(),"              \
      " $6::bytea, $7::jsonb, $8)"                                                                 \
      " ON CONFLICT (tenant_id, id) DO UPDATE SET reason = excluded.reason,"                       \
      " reason_code = excluded.reason_code, attempts = excluded.attempts,"                         \
      " last_failed_at = now(), body = excluded.body, properties = excluded.properties",           \
      8)                                                                                           \
    X(MESSAGES_PAGE_ASC, MTM_MESSAGES_PAGE(">", ""), 4)                                            \
    X(MESSAGES_PAGE_DESC, MTM_MESSAGES_PAGE("<", "DESC"), 4)                                       \
    X(DLQ_PAGE_ASC, MTM_DLQ_ROW " AND seq > $2::bigint ORDER BY seq LIMIT $3::int", 3)             \
    X(DLQ_PAGE_DESC, MTM_DLQ_ROW " AND seq < $2::bigint ORDER BY seq DESC LIMIT $3::int", 3)       \
    X(DLQ_MAX_SEQ, "SELECT COALESCE(max(seq), 0) FROM dead_letters WHERE tenant_id = $1::uuid", 1) \
    /* Dead letters to replay, in seq order after $2 up to $3, at most $4                          \
     * rows and about $5 bytes of body (always at least one row), only the                         \
     * ids of the JSON array $6 unless it is NULL; n is how many rows were                         \
     * read before the byte budget cut them. */                                                    \
    X(DLQ_TAKE,                                                                                    \
      "SELECT seq, id, encode(body, 'hex'), properties::text, last_failed_at::text, n"             \
      " FROM (SELECT d.*, count(*) OVER () AS n,"                                                  \
      " sum(length(body)) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS run"                     \
      " FROM (SELECT seq, id, body, properties, last_failed_at FROM dead_letters"                  \
      " WHERE tenant_id = $1::uuid AND seq > $2::bigint AND seq <= $3::bigint"                     \
      " AND ($6::jsonb IS NULL OR id IN (SELECT jsonb_array_elements_text($6::jsonb)))"            \
      " ORDER BY seq LIMIT $4::int) d) w"                                                          \
      " WHERE run - length(body) < $5::bigint ORDER BY seq",                                       \
      6)                                                                                           \
    X(DLQ_DELETE_EXACT,                                                                            \
      "DELETE FROM dead_letters d USING jsonb_array_elements($2::jsonb) e"                         \
      " WHERE d.tenant_id = $1::uuid AND d.id = e->>'id'"                                          \
      " AND d.last_failed_at = (e->>'at')::timestamptz",                                           \
      2)                                                                                           \
    X(DLQ_PURGE, "DELETE FROM dead_letters WHERE tenant_id = $1::uuid", 1)                         \
    X(DLQ_DEPTHS, "SELECT tenant_id, count(*) FROM dead_letters GROUP BY tenant_id", 0)            \
    X(SET_SCOPE,                                                                                   \
      "SELECT set_config('mtm.scope', $1, false), set_config('mtm.tenant_id', $2, false)", 2)      \
    X(ROLE_BYPASSES_RLS,                                                                           \
      "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user", 0)             \
    X(USER_GET, "SELECT password_hash FROM users WHERE username = $1", 1)                          \
    X(USER_UPSERT,                                                                                 \
      "INSERT INTO users (username, password_hash) VALUES ($1, $2)"                                \
      " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,"              \
      " updated_at = now()",                                                                       \
      2)                                                                                           \
    X(LOGIN_ATTEMPT,                                                                               \
      "SELECT allowed, attempts, retry_after FROM mtm_login_attempt($1, $2, $3::int,"              \
      " $4::float8, $5::float8, $6::float8)",                                                      \
      6)                                                                                           \
    X(LOGIN_CLEAR, "DELETE FROM login_throttle WHERE address = $1 RETURNING attempts", 1)          \
    X(LOGIN_SWEEP, "SELECT mtm_login_sweep($1::int)", 1)                                           \
    X(ALERTS_SWEEP, "SELECT mtm_alerts_sweep()", 0)                                                \
    /* One alert from Alertmanager's webhook: $1 fingerprint, $2 status,                           \
     * $3 labels, $4 annotations, $5 startsAt, $6 endsAt (NULL when unset). */                     \
    X(ALERT_UPSERT,                                                                                \
      "INSERT INTO alerts AS a (fingerprint, status, labels, annotations, starts_at, ends_at)"     \
      " VALUES ($1, $2, $3::jsonb, $4::jsonb, $5::timestamptz, $6::timestamptz)"                   \
      " ON CONFLICT (fingerprint) DO UPDATE SET status = excluded.status,"                         \
      " labels = excluded.labels, annotations = excluded.annotations,"                             \
      " starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = now()"            \
      " WHERE (a.status, a.labels, a.annotations, a.starts_at, a.ends_at)"                         \
      " IS DISTINCT FROM (excluded.status, excluded.labels, excluded.annotations,"                 \
      " excluded.starts_at, excluded.ends_at)",                                                    \
      6)                                                                                           \
    X(ALERTS_LIST,                                                                                 \
      "SELECT COALESCE(json_agg(mtm_alert_json(a) ORDER BY a.starts_at DESC), '[]')::text"         \
      " FROM alerts a WHERE a.status = $1",                                                        \
      1)                                                                                           \
    X(TOKEN_INSERT,                                                                                \
      "INSERT INTO tenant_tokens (jti, tenant_id, expires_at, created_by)"                         \
      " VALUES ($1::uuid, $2::uuid, to_timestamp($3::bigint), $4)",                                \
      4)                                                                                           \
    X(TOKEN_PAGE,                                                                                  \
      "SELECT seq, json_build_object('jti', jti, 'created_at', " MTM_SQL_TS(                       \
          "created_at") ","                                                                        \
                        " 'expires_at', " MTM_SQL_TS("expires_at") ", 'revoked_at', " MTM_SQL_TS(  \
                            "revoked_at") ","                                                      \
                                          " 'created_by', created_by)::text FROM tenant_tokens"    \
                                          " WHERE tenant_id = $1::uuid AND seq > $2::bigint "      \
                                          "ORDER BY seq LIMIT $3::int",                            \
      3)                                                                                           \
    X(TOKEN_REVOKE,                                                                                \
      "UPDATE tenant_tokens SET revoked_at = COALESCE(revoked_at, now())"                          \
      " WHERE tenant_id = $1::uuid AND jti = $2::uuid RETURNING jti",                              \
      2)                                                                                           \
    X(TOKEN_VALID,                                                                                 \
      "SELECT 1 FROM tenant_tokens k JOIN tenants t ON t.id = k.tenant_id"                         \
      " WHERE k.jti = $1::uuid AND k.tenant_id = $2::uuid AND k.revoked_at IS NULL"                \
      " AND t.status <> 'deleting'",                                                               \
      2)                                                                                           \
    X(TOKENS_REVOKE_TENANT,                                                                        \
      "UPDATE tenant_tokens SET revoked_at = now() WHERE tenant_id = $1::uuid"                     \
      " AND revoked_at IS NULL",                                                                   \
      1)                                                                                           \
    X(AUDIT_INSERT,                                                                                \
      "INSERT INTO audit_log (actor, action, target, request_id, address, detail)"                 \
      " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",                                                   \
      6)                                                                                           \
    /* $3: only entries about this tenant, unless NULL. */                                         \
    X(AUDIT_PAGE_ASC, MTM_AUDIT_PAGE(">", ""), 3)                                                  \
    X(AUDIT_PAGE_DESC, MTM_AUDIT_PAGE("<", "DESC"), 3)                                             \
    X(OVERVIEW,                                                                                    \
      "SELECT count(*), count(*) FILTER (WHERE t.status = 'active'),"                              \
      " count(*) FILTER (WHERE t.status = 'paused'),"                                              \
      " count(*) FILTER (WHERE t.status = 'deleting'),"                                            \
      " COALESCE(sum(s.queue_depth), 0), (SELECT count(*) FROM dead_letters),"                     \
      " COALESCE(sum(t.concurrency) FILTER (WHERE t.status = 'active'), 0),"                       \
      " COALESCE(sum(s.workers_running), 0), COALESCE(sum(s.workers_busy), 0)"                     \
      " FROM tenants t LEFT JOIN tenant_status s ON s.tenant_id = t.id",                           \
      0)

enum mtm_stmt {
#define MTM_STMT_ENUM(id, sql, nparams) MTM_STMT_##id,
    MTM_STATEMENTS(MTM_STMT_ENUM)
#undef MTM_STMT_ENUM
        MTM_STMT_COUNT
};

#endif
