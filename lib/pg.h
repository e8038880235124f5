/*
 * pg: one PostgreSQL connection with lazily prepared named statements.
 *
 * A struct mtm_pg is owned by one thread (libpq connections are not
 * thread-safe), and does not move while connected (libpq's notice receiver
 * points at it). It connects on demand: mtm_pg_exec connects if needed,
 * prepares the statement on first use on this connection, runs it, and
 * classifies failures:
 *   MTM_EUNAVAIL  the server is unreachable, the connection broke, or the
 *                 server cannot take writes for now (out of disk or
 *                 memory, an I/O error, read-only while a standby is
 *                 promoted: mtm_pg_state_is_outage); the connection is
 *                 dropped (kept when short of disk or memory: the session
 *                 is fine) and the next call reconnects
 *   MTM_ECONFLICT a unique or exclusion violation (SQLSTATE 23505/23P01)
 *   MTM_EINVAL    another integrity or data error (class 22 or 23)
 *   MTM_EDB       anything else
 * Connections use a connect timeout and TCP keepalives/user timeout so that
 * a dead server is noticed in seconds, never a hang. A server that is alive
 * to TCP but does not answer (stopped, swapping, wedged) is bounded by the
 * owner's deadline (mtm_pg_set_deadline): a statement without an answer by
 * then fails with MTM_ETIMEOUT and the connection is dropped.
 */
#ifndef MTM_PG_H
#define MTM_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "statements.h"

struct mtm_pg {
    char *url;            /* owned */
    PGconn *conn;         /* owned; NULL while disconnected */
    uint64_t prepared;    /* bit i set: statement i prepared on conn */
    int timeout_s;        /* connect timeout */
    int deadline_ms;      /* longest wait for a statement's answer; 0: none */
    bool goodbye;         /* the server sent a FATAL while idle: it is closing */
    char sqlstate[6];     /* SQLSTATE of the last failure, "" if none */
    char *options;        /* owned; libpq "options" such as "-c mtm.scope=all", or NULL */
    int session_stmt;     /* statement re-run first on every new connection, -1: none */
    char *session[2];     /* owned; its two parameters */
    bool session_pending; /* set since, not run yet on this connection */
};

/* Deadlines (mtm_pg_set_deadline) of the services' connections: requests
 * and the control loops answer in seconds whatever the server does;
 * consumerd's workers, whose statements store whole batches, wait longer. */
#define MTM_PG_ANSWER_MS 5000
#define MTM_PG_BATCH_ANSWER_MS 30000

/* Session scope of consumerd's connections: every tenant's rows (see
 * sql/0008_row_security.sql). The API sets its scope per request instead. */
#define MTM_PG_OPTIONS_ALL_TENANTS "-c mtm.scope=all"
/*
 * For connections that read messages by tenant with prepared statements
 * (the responder's). PostgreSQL builds a statement's generic plan on its
 * sixth execution to compare costs; on messages, partitioned by tenant,
 * that plan cannot prune, so it opens and locks every partition: about a
 * second with 3,000 tenants, and with 10,000 more locks than the lock
 * table holds at its defaults ("out of shared memory"), on that execution
 * and every later one. Custom plans read the tenant's one partition and
 * cost tens of microseconds to make.
 */
#define MTM_PG_OPTIONS_CUSTOM_PLANS "-c plan_cache_mode=force_custom_plan"

_Static_assert(MTM_STMT_COUNT <= 64, "prepared-statement bitmap holds 64 statements");

void mtm_pg_init(struct mtm_pg *pg, const char *url, int timeout_s);
void mtm_pg_cleanup(struct mtm_pg *pg);
/* How long a statement may wait for its answer before MTM_ETIMEOUT (the
 * connection is then dropped: the statement's fate is unknown); 0, the
 * default, waits for as long as the server takes. */
void mtm_pg_set_deadline(struct mtm_pg *pg, int ms);
/* Server options for every (re)connection, e.g. "-c mtm.scope=all". */
void mtm_pg_set_options(struct mtm_pg *pg, const char *options);

/* Connects if not connected. */
int mtm_pg_connect(struct mtm_pg *pg, char *err, size_t errlen) MTM_MUST_CHECK;
void mtm_pg_disconnect(struct mtm_pg *pg);
bool mtm_pg_connected(const struct mtm_pg *pg);

/*
 * Sets session state that must survive reconnects (the API's row-security
 * scope): stmt(p1, p2) runs before the next statement of this connection
 * (mtm_pg_exec, mtm_pg_exec_fixed), and again first thing on every new
 * connection. Nothing runs until a statement needs it, so a request that
 * reads nothing pays no round trip for it, and setting the state already
 * in force runs nothing at all. When running it fails, that statement
 * fails with its error, the connection is dropped and the state forgotten:
 * nothing ever runs under a state other than the last one set.
 */
void mtm_pg_set_session(struct mtm_pg *pg, enum mtm_stmt stmt, const char *p1, const char *p2);

/*
 * Runs a named statement. On success *res (if res is not NULL) holds the
 * result, owned by the caller (PQclear); otherwise the result is cleared.
 */
int mtm_pg_exec(struct mtm_pg *pg, enum mtm_stmt stmt, const char *const *params, PGresult **res,
                char *err, size_t errlen) MTM_MUST_CHECK;

/* Runs fixed SQL text (no parameters) from mtm's own code, e.g. LISTEN,
 * BEGIN, COMMIT, or a statement one of mtm's SQL functions wrote with its
 * identifiers quoted (format's %I), for what cannot run inside a function
 * (sql/0024). Never pass text built from input. */
int mtm_pg_exec_fixed(struct mtm_pg *pg, const char *sql, char *err, size_t errlen) MTM_MUST_CHECK;

/*
 * Notifications. mtm_pg_listen LISTENs on a channel named in mtm's code
 * (connecting if needed). Then poll mtm_pg_socket for input, call
 * mtm_pg_consume when it is readable (MTM_EUNAVAIL: the connection broke
 * and was dropped; listen again after reconnecting), and take what arrived
 * with mtm_pg_notification until it returns NULL (free each with
 * PQfreemem). Notifications also arrive during other statements on the
 * same connection: take them after each.
 */
int mtm_pg_listen(struct mtm_pg *pg, const char *channel, char *err, size_t errlen) MTM_MUST_CHECK;
int mtm_pg_socket(const struct mtm_pg *pg); /* -1 while disconnected */
int mtm_pg_consume(struct mtm_pg *pg, char *err, size_t errlen) MTM_MUST_CHECK;
PGnotify *mtm_pg_notification(struct mtm_pg *pg);

/* Classifies a failed result (or a NULL one) as described above. */
int mtm_pg_classify(struct mtm_pg *pg, PGresult *res, char *err, size_t errlen);

/*
 * Whether a SQLSTATE (NULL: none) is an outage of the database rather than
 * a fault of the statement: classes 08 (connection), 53 (insufficient
 * resources: 53100 disk_full, 53200 out_of_memory, 53300
 * too_many_connections), 58 (system error: 58030 io_error), 57P
 * (shutdown, crash, cannot connect now) and 25006
 * (read_only_sql_transaction: a standby, or a primary being demoted). The
 * same statement succeeds once the server is well again, so callers wait
 * and retry (consumerd's workers) or answer 503 (the API); such errors must
 * never count against a message.
 */
bool mtm_pg_state_is_outage(const char *state);

/* Whether a failure of mtm_pg_exec is worth waiting out and running again:
 * an outage (MTM_EUNAVAIL) or no answer within the deadline (MTM_ETIMEOUT;
 * the statement's fate is unknown, so only for statements safe to repeat). */
static inline bool mtm_pg_retryable(int rc)
{
    return rc == MTM_EUNAVAIL || rc == MTM_ETIMEOUT;
}

#endif
