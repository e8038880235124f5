/*
 * alerts: what Alertmanager says is firing, kept for the console.
 *
 *   POST /api/alerts/webhook   Alertmanager's webhook (version 4 payload),
 *                              with the bearer MTM_ALERTS_TOKEN (or an admin
 *                              token): each alert is stored by fingerprint
 *   GET  /api/alerts           ?status=firing (default) or resolved (admin)
 *
 * A stored change NOTIFYs mtm_alerts (sql/0017), which mtm-events passes to
 * admins' streams as an `alert` event; an unchanged repeat (Alertmanager
 * resends every group_interval) writes nothing. Alertmanager retries a
 * webhook that fails, so a database outage answers 503 and loses nothing.
 */
#include "alerts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "answer.h"
#include "fields.h"
#include "problem.h"
#include "xalloc.h"

#define ALERTS_MAX 1000 /* alerts in one webhook call */
#define LABELS_MAX 64

/* A JSON object of at most LABELS_MAX string values. */
static bool string_map(struct json_object *o)
{
    if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) > LABELS_MAX)
        return false;
    json_object_object_foreach(o, k, v)
    {
        if (!*k || strlen(k) > 256 || !json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) > 8192)
            return false;
    }
    return true;
}

static const char *str_member(struct json_object *o, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

/* Names member `member` of alert i (the alert itself when "") in the fault. */
static int bad_member(struct mtm_fault *p, size_t i, const char *member, const char *why)
{
    char field[64];
    snprintf(field, sizeof(field), "alerts[%zu]%s%s", i, *member ? "." : "", member);
    return mtm_fault_field(p, field, "%s", why);
}

/* Checks alert i; 0, or names the first bad member in the fault. */
static int check_alert(struct json_object *a, size_t i, struct mtm_fault *p)
{
    if (!json_object_is_type(a, json_type_object))
        return bad_member(p, i, "", "must be an object");
    const char *status = str_member(a, "status"), *fp = str_member(a, "fingerprint");
    struct json_object *labels = NULL, *ann = NULL;
    if (!status || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
        return bad_member(p, i, "status", "must be firing or resolved");
    if (!fp || !*fp || strlen(fp) > 64 || strspn(fp, "0123456789abcdef") != strlen(fp))
        return bad_member(p, i, "fingerprint", "must be 1 to 64 lower-case hex digits");
    if (!json_object_object_get_ex(a, "labels", &labels) || !string_map(labels))
        return bad_member(p, i, "labels", "must be an object of at most 64 strings");
    if (json_object_object_get_ex(a, "annotations", &ann) && !string_map(ann))
        return bad_member(p, i, "annotations", "must be an object of at most 64 strings");
    if (!str_member(a, "startsAt"))
        return bad_member(p, i, "startsAt", "must be an RFC 3339 time");
    return 0;
}

int api_alerts_webhook(struct api_thread *t, struct mtm_request *r)
{
    struct json_object *alerts = NULL;
    int bad = mtm_field_object(r->json, &t->fault);
    if (!bad && (!json_object_object_get_ex(r->json, "alerts", &alerts) ||
                 !json_object_is_type(alerts, json_type_array) ||
                 json_object_array_length(alerts) > ALERTS_MAX))
        bad = mtm_fault_field(&t->fault, "alerts", "must be an array of at most %d alerts",
                              ALERTS_MAX);
    size_t n = bad ? 0 : json_object_array_length(alerts);
    for (size_t i = 0; !bad && i < n; i++)
        bad = check_alert(json_object_array_get_idx(alerts, i), i, &t->fault);
    if (bad)
        return bad;

    for (size_t i = 0; i < n; i++) {
        struct json_object *a = json_object_array_get_idx(alerts, i), *labels, *ann = NULL;
        json_object_object_get_ex(a, "labels", &labels);
        json_object_object_get_ex(a, "annotations", &ann);
        const char *status = str_member(a, "status");
        /* A firing alert has no end yet (Alertmanager sends a zero time or a
         * guess); a resolved one ends when it says. */
        const char *ends = strcmp(status, "resolved") == 0 ? str_member(a, "endsAt") : NULL;
        const char *params[] = {str_member(a, "fingerprint"),
                                status,
                                json_object_to_json_string_ext(labels, JSON_C_TO_STRING_PLAIN),
                                ann ? json_object_to_json_string_ext(ann, JSON_C_TO_STRING_PLAIN)
                                    : "{}",
                                str_member(a, "startsAt"),
                                ends};
        char err[512];
        int rc = mtm_pg_exec(&t->pg, MTM_STMT_ALERT_UPSERT, params, NULL, err, sizeof(err));
        if (rc == MTM_EINVAL)
            return bad_member(&t->fault, i, "", "startsAt and endsAt must be RFC 3339 times");
        if (rc)
            return api_fail_db(t, rc, err);
    }
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "accepted", json_object_new_int64((int64_t)n));
    mtm_respond_json(r, 200, o, NULL, 0);
    json_object_put(o);
    return 0;
}

int api_alerts_list(struct api_thread *t, struct mtm_request *r)
{
    char status[16] = "firing", err[512];
    int rc = mtm_query_get(r->query, "status", status, sizeof(status));
    if ((rc && rc != MTM_ENOTFOUND) ||
        (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
        return mtm_fault_field(&t->fault, "status", "must be firing or resolved");
    const char *params[] = {status};
    PGresult *res;
    rc = mtm_pg_exec(&t->pg, MTM_STMT_ALERTS_LIST, params, &res, err, sizeof(err));
    if (rc)
        return api_fail_db(t, rc, err);
    char *body = xasprintf("{\"data\":%s}", PQgetvalue(res, 0, 0));
    PQclear(res);
    mtm_respond(r, 200, "application/json", NULL, 0, body, strlen(body));
    free(body);
    return 0;
}
