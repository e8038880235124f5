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
      0)

enum mtm_stmt {
#define MTM_STMT_ENUM(id, sql, nparams) MTM_STMT_##id,
    MTM_STATEMENTS(MTM_STMT_ENUM)
#undef MTM_STMT_ENUM
        MTM_STMT_COUNT
};

#endif
