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

#define MTM_STATEMENTS(X)                                                                          \
    X(PING, "SELECT 1", 0)                                                                         \
    X(HEARTBEAT_BEAT,                                                                              \
      "INSERT INTO consumerd_heartbeat (id, beat_at, pid, hostname, amqp_connected)"               \
      " VALUES (1, now(), $1, $2, $3)"                                                             \
      " ON CONFLICT (id) DO UPDATE SET beat_at = now(), pid = $1, hostname = $2,"                  \
      " amqp_connected = $3",                                                                      \
      3)                                                                                           \
    X(HEARTBEAT_AGE,                                                                               \
      "SELECT extract(epoch FROM now() - beat_at)::float8, amqp_connected"                         \
      " FROM consumerd_heartbeat WHERE id = 1",                                                    \
      0)                                                                                           \
    X(TENANT_INSERT,                                                                               \
      "INSERT INTO tenants (name, concurrency) VALUES ($1, $2::integer) RETURNING id", 2)          \
    X(TENANT_CREATE_PARTITION, "SELECT mtm_create_partition($1::uuid)", 1)                         \
    X(TENANT_GET, "SELECT * FROM tenants_live WHERE id = $1::uuid", 1)                             \
    X(TENANT_STATE, "SELECT status FROM tenants WHERE id = $1::uuid", 1)                           \
    X(TENANT_LIST, "SELECT * FROM tenants_live WHERE seq > $1::bigint ORDER BY seq LIMIT $2::int", \
      2)                                                                                           \
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
    X(TENANTS_DESIRED, "SELECT id, status, concurrency FROM tenants ORDER BY seq", 0)              \
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
    X(DEAD_LETTER_INSERT,                                                                          \
      "INSERT INTO dead_letters (tenant_id, id, reason, attempts, first_failed_at,"                \
      " last_failed_at, body, properties)"                                                         \
      " VALUES ($1::uuid, $2, $3, $4::int, to_timestamp($5::bigint / 1000.0), now(),"              \
      " $6::bytea, $7::jsonb)"                                                                     \
      " ON CONFLICT (tenant_id, id) DO UPDATE SET reason = excluded.reason,"                       \
      " attempts = excluded.attempts, last_failed_at = now(), body = excluded.body,"               \
      " properties = excluded.properties",                                                         \
      7)                                                                                           \
    X(MESSAGES_PAGE_ASC,                                                                           \
      "SELECT seq, json_build_object('id', id, 'tenant_id', tenant_id, 'payload', payload,"        \
      " 'headers', headers, 'published_at', " MTM_SQL_TS(                                          \
          "published_at") ","                                                                      \
                          " 'stored_at', " MTM_SQL_TS(                                             \
                              "stored_at") ", 'attempts', attempts, 'trace_id', trace_id)::text"   \
                                           " FROM messages WHERE tenant_id = $1::uuid AND seq > "  \
                                           "$2::bigint ORDER BY seq LIMIT $3::int",                \
      3)                                                                                           \
    X(MESSAGES_PAGE_DESC,                                                                          \
      "SELECT seq, json_build_object('id', id, 'tenant_id', tenant_id, 'payload', payload,"        \
      " 'headers', headers, 'published_at', " MTM_SQL_TS(                                          \
          "published_at") ","                                                                      \
                          " 'stored_at', " MTM_SQL_TS(                                             \
                              "stored_at") ", 'attempts', attempts, 'trace_id', trace_id)::text"   \
                                           " FROM messages WHERE tenant_id = $1::uuid AND seq < "  \
                                           "$2::bigint ORDER BY seq DESC LIMIT $3::int",           \
      3)                                                                                           \
    X(DLQ_PAGE,                                                                                    \
      "SELECT seq, json_build_object('id', id, 'reason', reason, 'attempts', attempts,"            \
      " 'first_failed_at', " MTM_SQL_TS(                                                           \
          "first_failed_at") ","                                                                   \
                             " 'last_failed_at', " MTM_SQL_TS(                                     \
                                 "last_failed_at") ", 'size', length(body),"                       \
                                                   " 'payload_preview', encode(substring(body "    \
                                                   "FROM 1 FOR 1024), 'escape'),"                  \
                                                   " 'payload_truncated', length(body) > "         \
                                                   "1024)::text"                                   \
                                                   " FROM dead_letters WHERE tenant_id = "         \
                                                   "$1::uuid AND seq > $2::bigint ORDER BY seq "   \
                                                   "LIMIT $3::int",                                \
      3)                                                                                           \
    X(DLQ_MAX_SEQ, "SELECT COALESCE(max(seq), 0) FROM dead_letters WHERE tenant_id = $1::uuid", 1) \
    X(DLQ_TAKE_RANGE,                                                                              \
      "SELECT seq, id, encode(body, 'hex'), properties::text, last_failed_at::text"                \
      " FROM dead_letters WHERE tenant_id = $1::uuid AND seq > $2::bigint AND seq <= $3::bigint"   \
      " ORDER BY seq LIMIT $4::int",                                                               \
      4)                                                                                           \
    X(DLQ_TAKE_IDS,                                                                                \
      "SELECT seq, id, encode(body, 'hex'), properties::text, last_failed_at::text"                \
      " FROM dead_letters WHERE tenant_id = $1::uuid"                                              \
      " AND id IN (SELECT jsonb_array_elements_text($2::jsonb)) ORDER BY seq",                     \
      2)                                                                                           \
    X(DLQ_DELETE_EXACT,                                                                            \
      "DELETE FROM dead_letters d USING jsonb_array_elements($2::jsonb) e"                         \
      " WHERE d.tenant_id = $1::uuid AND d.id = e->>'id'"                                          \
      " AND d.last_failed_at = (e->>'at')::timestamptz",                                           \
      2)                                                                                           \
    X(DLQ_PURGE, "DELETE FROM dead_letters WHERE tenant_id = $1::uuid", 1)

enum mtm_stmt {
#define MTM_STMT_ENUM(id, sql, nparams) MTM_STMT_##id,
    MTM_STATEMENTS(MTM_STMT_ENUM)
#undef MTM_STMT_ENUM
        MTM_STMT_COUNT
};

#endif
