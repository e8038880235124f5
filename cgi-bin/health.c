/*
 * health: liveness and readiness.
 *
 * /api/health answers 200 while the responder runs and touches nothing else.
 * /api/ready checks the three things the API needs, each with a short
 * timeout so that the answer comes in a few seconds at worst:
 *   postgres   a round trip on this thread's connection
 *   rabbitmq   a round trip on this thread's broker connection; a connection
 *              found broken is retried once at once, so a broker that came
 *              back is seen at the first request after it did
 *   consumerd  its heartbeat row is younger than MTM_HEARTBEAT_MAX_AGE
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "answer.h"

int api_health(struct api_thread *t, struct mtm_request *r)
{
    (void)t;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
    return 0;
}

static const char *check_postgres(struct api_thread *t, char *err, size_t errlen)
{
    if (mtm_pg_exec(&t->pg, MTM_STMT_PING, NULL, NULL, err, errlen))
        return "down";
    return NULL;
}

static const char *check_rabbitmq(struct api_thread *t, char *err, size_t errlen)
{
    return mtm_amqp_ping(&t->amqp, err, errlen) ? "down" : NULL;
}

static const char *check_consumerd(struct api_thread *t, bool pg_up, char *err, size_t errlen)
{
    PGresult *res;
    if (!pg_up) {
        snprintf(err, errlen, "unknown while postgres is down");
        return "unknown";
    }
    if (mtm_pg_exec(&t->pg, MTM_STMT_HEARTBEAT_AGE, NULL, &res, err, errlen))
        return "down";
    const char *state = NULL;
    if (PQntuples(res) == 0) {
        snprintf(err, errlen, "consumerd has never written a heartbeat");
        state = "down";
    } else {
        double age = strtod(PQgetvalue(res, 0, 0), NULL);
        if (age > t->ctx->cfg->heartbeat_max_age) {
            snprintf(err, errlen, "consumerd heartbeat is %.1f s old", age);
            state = "down";
        }
    }
    PQclear(res);
    return state;
}

int api_ready(struct api_thread *t, struct mtm_request *r)
{
    char pg_err[256] = "", mq_err[256] = "", cd_err[256] = "";
    const char *pg = check_postgres(t, pg_err, sizeof(pg_err));
    const char *mq = check_rabbitmq(t, mq_err, sizeof(mq_err));
    const char *cd = check_consumerd(t, pg == NULL, cd_err, sizeof(cd_err));

    struct json_object *checks = json_object_new_object();
    json_object_object_add(checks, "postgres", json_object_new_string(pg ? pg : "ok"));
    json_object_object_add(checks, "rabbitmq", json_object_new_string(mq ? mq : "ok"));
    json_object_object_add(checks, "consumerd", json_object_new_string(cd ? cd : "ok"));

    if (!pg && !mq && !cd) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("ready"));
        json_object_object_add(o, "checks", checks);
        mtm_respond_json(r, 200, o, NULL, 0);
        json_object_put(o);
        return 0;
    }
    /* consumerd's state is unknown, not down, while postgres is down. */
    bool cd_down = cd && strcmp(cd, "unknown") != 0;
    char down[64];
    snprintf(down, sizeof(down), "%s%s%s%s%s", pg ? "postgres" : "",
             pg && (mq || cd_down) ? ", " : "", mq ? "rabbitmq" : "", mq && cd_down ? ", " : "",
             cd_down ? "consumerd" : "");
    mtm_fault_member(&t->fault, "checks", checks);
    struct json_object *reasons = json_object_new_object();
    if (pg)
        json_object_object_add(reasons, "postgres", json_object_new_string(pg_err));
    if (mq)
        json_object_object_add(reasons, "rabbitmq", json_object_new_string(mq_err));
    if (cd)
        json_object_object_add(reasons, "consumerd", json_object_new_string(cd_err));
    mtm_fault_member(&t->fault, "reasons", reasons);
    LOG_WARN(&t->log, "not ready: %s", down);
    t->fault.retry_after = 5;
    return api_fail(t, MTM_EUNAVAIL, "not ready: %s down", down);
}
