/* pg: see pg.h. */
#include "pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"
#include "xalloc.h"

static const struct {
    const char *name;
    const char *sql;
    int nparams;
} statements[MTM_STMT_COUNT] = {
#define MTM_STMT_ROW(id, sql, nparams) [MTM_STMT_##id] = {#id, sql, nparams},
    MTM_STATEMENTS(MTM_STMT_ROW)
#undef MTM_STMT_ROW
};

static int exec_once(struct mtm_pg *pg, enum mtm_stmt stmt, const char *const *params,
                     PGresult **res, char *err, size_t errlen);
static void drop_if_closed(struct mtm_pg *pg);
static void forget_session(struct mtm_pg *pg);

void mtm_pg_init(struct mtm_pg *pg, const char *url, int timeout_s)
{
    memset(pg, 0, sizeof(*pg));
    pg->url = xstrdup(url);
    pg->timeout_s = timeout_s > 0 ? timeout_s : 2;
    pg->session_stmt = -1;
}

void mtm_pg_set_deadline(struct mtm_pg *pg, int ms)
{
    pg->deadline_ms = ms > 0 ? ms : 0;
}

void mtm_pg_cleanup(struct mtm_pg *pg)
{
    mtm_pg_disconnect(pg);
    free(pg->url);
    pg->url = NULL;
    free(pg->options);
    pg->options = NULL;
    forget_session(pg);
}

void mtm_pg_set_options(struct mtm_pg *pg, const char *options)
{
    free(pg->options);
    pg->options = options ? xstrdup(options) : NULL;
}

void mtm_pg_disconnect(struct mtm_pg *pg)
{
    if (pg->conn)
        PQfinish(pg->conn);
    pg->conn = NULL;
    pg->prepared = 0;
}

bool mtm_pg_connected(const struct mtm_pg *pg)
{
    return pg->conn && PQstatus(pg->conn) == CONNECTION_OK;
}

/* Copies libpq's message without its trailing newline. */
static void set_err(char *err, size_t errlen, const char *what, const char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(err, errlen, "%s: %.*s", what, (int)n, msg);
}

/* libpq prints NOTICE and WARNING messages raw on stderr (the "relation
 * schema_migrations already exists" of every migration run, for one), which
 * would break the JSON-lines log: they go through the log instead. */
static void notice_to_log(void *arg, const PGresult *res)
{
    static const struct mtm_log_ctx ctx = {.component = "postgres"};
    struct mtm_pg *pg = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    /* libpq hands an error that arrives while the connection is idle to
     * the notice receiver: a FATAL one is the server's goodbye (57P01 of a
     * shutdown or a terminated backend), and the close follows. */
    if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
        pg->goodbye = true;
    if (!msg)
        return;
    if (severity && strcmp(severity, "WARNING") == 0)
        LOG_WARN(&ctx, "%s", msg);
    else
        LOG_DEBUG(&ctx, "%s: %s", severity ? severity : "NOTICE", msg);
}

int mtm_pg_connect(struct mtm_pg *pg, char *err, size_t errlen)
{
    if (mtm_pg_connected(pg))
        return 0;
    mtm_pg_disconnect(pg);

    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", pg->timeout_s);
    /* expand_dbname lets the URL carry everything. libpq lets a later key
     * override an earlier one, the URL's own settings included, so the
     * defaults come first and the URL last: they apply unless it sets them. */
    const char *keys[] = {"connect_timeout",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "application_name",
                          "dbname",
                          NULL,
                          NULL};
    const char *vals[] = {timeout, "1", "5", "2", "2", "5000", "mtm", pg->url, NULL, NULL};
    if (pg->options) {
        /* After the URL: mtm's own session settings are not the URL's to change. */
        keys[8] = "options";
        vals[8] = pg->options;
    }
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        set_err(err, errlen, "postgres connect",
                pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        mtm_pg_disconnect(pg);
        return MTM_EUNAVAIL;
    }
    pg->goodbye = false;
    PQsetNoticeReceiver(pg->conn, notice_to_log, pg);
    if (pg->session_stmt >= 0) {
        const char *params[] = {pg->session[0], pg->session[1]};
        int rc = exec_once(pg, (enum mtm_stmt)pg->session_stmt, params, NULL, err, errlen);
        if (rc) {
            mtm_pg_disconnect(pg);
            return rc;
        }
        pg->session_pending = false;
    }
    return 0;
}

/* Forgets the session state; the caller drops the connection that may
 * hold it. */
static void forget_session(struct mtm_pg *pg)
{
    free(pg->session[0]);
    free(pg->session[1]);
    pg->session[0] = pg->session[1] = NULL;
    pg->session_stmt = -1;
    pg->session_pending = false;
}

void mtm_pg_set_session(struct mtm_pg *pg, enum mtm_stmt stmt, const char *p1, const char *p2)
{
    /* The same state is in force (or about to be): nothing to change. */
    if (pg->session_stmt == (int)stmt && pg->session[0] && strcmp(pg->session[0], p1) == 0 &&
        strcmp(pg->session[1], p2) == 0)
        return;
    free(pg->session[0]);
    free(pg->session[1]);
    pg->session[0] = xstrdup(p1);
    pg->session[1] = xstrdup(p2);
    pg->session_stmt = (int)stmt;
    pg->session_pending = true;
}

/* Connects if needed (a new connection applies the session state first),
 * then applies session state set since, before the caller's statement. */
static int ready(struct mtm_pg *pg, char *err, size_t errlen)
{
    drop_if_closed(pg);
    int rc = mtm_pg_connect(pg, err, errlen);
    if (rc || !pg->session_pending)
        return rc;
    const char *params[] = {pg->session[0], pg->session[1]};
    rc = exec_once(pg, (enum mtm_stmt)pg->session_stmt, params, NULL, err, errlen);
    if (rc) {
        /* The connection may still hold the previous state while we would
         * believe the new one in force: drop both, so that nothing runs
         * under a stale scope. */
        mtm_pg_disconnect(pg);
        forget_session(pg);
        return rc;
    }
    pg->session_pending = false;
    return 0;
}

bool mtm_pg_state_is_outage(const char *state)
{
    if (!state || strlen(state) != 5)
        return true;                        /* no SQLSTATE: libpq's own failure, the connection */
    return strncmp(state, "08", 2) == 0     /* connection exception */
           || strncmp(state, "53", 2) == 0  /* insufficient resources: disk full, memory */
           || strncmp(state, "58", 2) == 0  /* system error: I/O */
           || strncmp(state, "57P", 3) == 0 /* shutdown, crash, cannot connect now */
           || strcmp(state, "25006") == 0;  /* read-only: a standby, a failover under way */
}

int mtm_pg_classify(struct mtm_pg *pg, PGresult *res, char *err, size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!msg || !*msg)
        msg = pg->conn ? PQerrorMessage(pg->conn) : "no connection";
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
    set_err(err, errlen, "postgres", msg);

    /* No SQLSTATE is libpq's own failure: an outage too (said here as
     * well as in mtm_pg_state_is_outage, for the reader and the analyzer). */
    if (!state || !pg->conn || PQstatus(pg->conn) != CONNECTION_OK ||
        mtm_pg_state_is_outage(state)) {
        /* A server short of disk or memory (classes 53, 58) keeps a good
         * session: reconnecting would only add work (authentication) to
         * a struggling server. Any other outage drops the connection: a
         * new one finds a restarted server, or after a failover the new
         * primary. */
        bool keep = pg->conn && PQstatus(pg->conn) == CONNECTION_OK && state &&
                    (strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0);
        if (!keep)
            mtm_pg_disconnect(pg);
        return MTM_EUNAVAIL;
    }
    if (strcmp(state, "23505") == 0 || strcmp(state, "23P01") == 0)
        return MTM_ECONFLICT;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return MTM_EINVAL;
    return MTM_EDB;
}

/*
 * The answer to what was just sent (PQsend*): its last result, the first
 * error result if there was one, as PQexec would give. NULL when sending
 * failed, or when no answer came within the deadline: the connection is
 * then dropped and *timed_out set.
 */
static PGresult *await(struct mtm_pg *pg, bool sent, bool *timed_out)
{
    *timed_out = false;
    if (!sent)
        return NULL;
    int64_t deadline = pg->deadline_ms ? mtm_mono_ms() + pg->deadline_ms : 0;
    PGresult *keep = NULL, *r;
    for (;;) {
        while (PQisBusy(pg->conn)) {
            int wait = -1;
            if (deadline) {
                int64_t left = deadline - mtm_mono_ms();
                if (left <= 0) {
                    PQclear(keep);
                    *timed_out = true;
                    return NULL;
                }
                wait = (int)left;
            }
            struct pollfd fd = {.fd = PQsocket(pg->conn), .events = POLLIN};
            if (poll(&fd, 1, wait) < 0 && errno != EINTR)
                break;
            if (!PQconsumeInput(pg->conn))
                break; /* the connection broke: PQgetResult says so */
        }
        if (!(r = PQgetResult(pg->conn)))
            break;
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r); /* the first error is the one to report */
        } else {
            PQclear(keep);
            keep = r;
        }
        if (PQstatus(pg->conn) != CONNECTION_OK)
            break;
    }
    return keep;
}

/*
 * A connection the server closed while it sat idle (a restart, an idle
 * timeout, a terminated backend) is noticed before a statement is sent on
 * it, so that the statement goes out on a fresh one instead of failing:
 * the server's goodbye is already waiting on the socket.
 */
static void drop_if_closed(struct mtm_pg *pg)
{
    /* A server shutting down sends its last words (57P01, FATAL) and then
     * closes, maybe a moment later: the words are enough. PQisBusy parses
     * what PQconsumeInput read (the notice receiver sets goodbye); a LISTEN
     * connection may simply have notifications waiting, which stay queued. */
    if (!pg->conn)
        return;
    struct pollfd fd = {.fd = PQsocket(pg->conn), .events = POLLIN};
    if (poll(&fd, 1, 0) <= 0)
        return;
    bool alive = PQconsumeInput(pg->conn) == 1;
    if (alive)
        (void)PQisBusy(pg->conn); /* parses what was read: a FATAL sets goodbye */
    if (!alive || pg->goodbye || PQstatus(pg->conn) != CONNECTION_OK)
        mtm_pg_disconnect(pg);
}

/* The failure of a statement that got no answer in time. */
static int timed_out_error(struct mtm_pg *pg, char *err, size_t errlen)
{
    snprintf(err, errlen, "postgres: no answer within %d ms", pg->deadline_ms);
    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", "");
    mtm_pg_disconnect(pg);
    return MTM_ETIMEOUT;
}

static bool result_ok(PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int mtm_pg_exec(struct mtm_pg *pg, enum mtm_stmt stmt, const char *const *params, PGresult **res,
                char *err, size_t errlen)
{
    if (res)
        *res = NULL;
    int rc = ready(pg, err, errlen);
    if (rc)
        return rc;
    rc = exec_once(pg, stmt, params, res, err, errlen);
    /* A migration that changed a table or view under a statement prepared
     * earlier on this connection makes the server refuse it ("cached plan
     * must not change result type", SQLSTATE 0A000): start afresh once. */
    if (rc == MTM_EDB && strcmp(pg->sqlstate, "0A000") == 0) {
        mtm_pg_disconnect(pg);
        rc = ready(pg, err, errlen);
        if (!rc)
            rc = exec_once(pg, stmt, params, res, err, errlen);
    }
    return rc;
}

/* Runs stmt on the connection the caller made (mtm_pg_connect, ready);
 * *res, if asked for, is set only on success. */
static int exec_once(struct mtm_pg *pg, enum mtm_stmt stmt, const char *const *params,
                     PGresult **res, char *err, size_t errlen)
{
    pg->sqlstate[0] = '\0';
    bool late;
    if (!(pg->prepared & (UINT64_C(1) << stmt))) {
        PGresult *p = await(pg,
                            PQsendPrepare(pg->conn, statements[stmt].name, statements[stmt].sql,
                                          statements[stmt].nparams, NULL) == 1,
                            &late);
        if (late)
            return timed_out_error(pg, err, errlen);
        if (!p || !result_ok(p)) {
            int rc = mtm_pg_classify(pg, p, err, errlen);
            PQclear(p);
            return rc;
        }
        PQclear(p);
        pg->prepared |= UINT64_C(1) << stmt;
    }
    PGresult *r = await(pg,
                        PQsendQueryPrepared(pg->conn, statements[stmt].name,
                                            statements[stmt].nparams, params, NULL, NULL, 0) == 1,
                        &late);
    if (late)
        return timed_out_error(pg, err, errlen);
    if (!r || !result_ok(r)) {
        int rc = mtm_pg_classify(pg, r, err, errlen);
        PQclear(r);
        return rc;
    }
    if (res)
        *res = r;
    else
        PQclear(r);
    return 0;
}

int mtm_pg_exec_fixed(struct mtm_pg *pg, const char *sql, char *err, size_t errlen)
{
    int rc = ready(pg, err, errlen);
    if (rc)
        return rc;
    bool late;
    PGresult *r = await(pg, PQsendQuery(pg->conn, sql) == 1, &late);
    if (late)
        return timed_out_error(pg, err, errlen);
    if (!r || !result_ok(r)) {
        rc = mtm_pg_classify(pg, r, err, errlen);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    return 0;
}

int mtm_pg_listen(struct mtm_pg *pg, const char *channel, char *err, size_t errlen)
{
    char sql[96];
    /* Channel names are constants of ours: letters, digits and '_' only. */
    for (const char *c = channel; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return MTM_EINVAL;
    if (snprintf(sql, sizeof(sql), "LISTEN %s", channel) >= (int)sizeof(sql))
        return MTM_EINVAL;
    return mtm_pg_exec_fixed(pg, sql, err, errlen);
}

int mtm_pg_socket(const struct mtm_pg *pg)
{
    return pg->conn ? PQsocket(pg->conn) : -1;
}

int mtm_pg_consume(struct mtm_pg *pg, char *err, size_t errlen)
{
    if (!pg->conn)
        return MTM_EUNAVAIL;
    if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) != CONNECTION_OK) {
        snprintf(err, errlen, "postgres: %s", PQerrorMessage(pg->conn));
        mtm_pg_disconnect(pg);
        return MTM_EUNAVAIL;
    }
    return 0;
}

PGnotify *mtm_pg_notification(struct mtm_pg *pg)
{
    return pg->conn ? PQnotifies(pg->conn) : NULL;
}
