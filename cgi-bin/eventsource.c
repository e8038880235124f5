/* eventsource: see eventsource.h. */
#include "eventsource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "timeutil.h"
#include "uuid.h"
#include "xalloc.h"

#define RECONNECT_BASE_MS 250
#define RECONNECT_CAP_MS 5000

static const char *const channels[] = {"mtm_tenants", "mtm_dead_letters", "mtm_alerts"};

void eventsource_init(struct eventsource *es, const char *pg_url, eventsource_emit_fn emit,
                      void *ud)
{
    memset(es, 0, sizeof(*es));
    mtm_pg_init(&es->pg, pg_url, 2);
    mtm_pg_set_deadline(&es->pg, MTM_PG_ANSWER_MS);
    mtm_pg_set_options(&es->pg, MTM_PG_OPTIONS_ALL_TENANTS);
    es->log.component = "events-source";
    mtm_backoff_init(&es->backoff, RECONNECT_BASE_MS, RECONNECT_CAP_MS);
    es->seen = json_object_new_object();
    es->emit = emit;
    es->ud = ud;
}

void eventsource_cleanup(struct eventsource *es)
{
    mtm_pg_cleanup(&es->pg);
    json_object_put(es->seen);
    free(es->overview);
    es->seen = NULL;
    es->overview = NULL;
}

int eventsource_fd(const struct eventsource *es)
{
    return es->listening ? mtm_pg_socket(&es->pg) : -1;
}

static void lost(struct eventsource *es, const char *err)
{
    if (es->listening)
        LOG_WARN(&es->log, "lost the database: %s", err);
    es->listening = false;
    mtm_pg_disconnect(&es->pg);
    es->retry_at_ms = mtm_mono_ms() + mtm_backoff_next(&es->backoff);
}

static void add_rates(struct json_object *t, struct json_object *prev, int64_t now);

/* Runs a statement on the source's connection; NULL (the failure handled:
 * an outage drops the connection, anything else is logged) or the result. */
static PGresult *query(struct eventsource *es, enum mtm_stmt stmt, const char *const *params,
                       const char *what)
{
    char err[512];
    PGresult *res;
    int rc = mtm_pg_exec(&es->pg, stmt, params, &res, err, sizeof(err));
    if (rc == MTM_EUNAVAIL)
        lost(es, err);
    else if (rc)
        LOG_ERROR(&es->log, "%s: %s", what, err);
    return rc ? NULL : res;
}

/* ---- one tenant -------------------------------------------------------- */

/* The tenant in column col of row i (mtm_tenant_json), parsed; NULL if it
 * does not parse (it always should). */
static struct json_object *tenant_at(PGresult *res, int i, int col)
{
    struct json_object *t = NULL;
    char err[128];
    if (mtm_json_parse(PQgetvalue(res, i, col), (size_t)PQgetlength(res, i, col), 8, &t, err,
                       sizeof(err)))
        return NULL;
    return t;
}

/* The tenant named by a notification: sent whole, or as deleted. */
static void tenant_changed(struct eventsource *es, const char *id)
{
    if (!mtm_uuid_valid(id))
        return;
    const char *params[] = {id};
    PGresult *res = query(es, MTM_STMT_TENANT_GET, params, "reading a tenant");
    if (!res)
        return;
    if (PQntuples(res) == 0) {
        if (json_object_object_get_ex(es->seen, id, NULL)) {
            json_object_object_del(es->seen, id);
            char data[64];
            snprintf(data, sizeof(data), "{\"id\":\"%s\"}", id);
            es->emit(es->ud, id, "tenant.deleted", data);
        }
    } else {
        /* Sent now, with the rates of the last read; the next read sends
         * it again only if its figures move. */
        struct json_object *t = tenant_at(res, 0, 0), *mem, *rates;
        if (!t) {
            PQclear(res);
            return;
        }
        if (json_object_object_get_ex(es->seen, id, &mem) &&
            json_object_object_get_ex(mem, "rates", &rates))
            json_object_object_add(t, "rates", json_object_get(rates));
        else
            add_rates(t, NULL, 0);
        es->emit(es->ud, id, "tenant", mtm_json_text(t, NULL));
        json_object_put(t);
    }
    PQclear(res);
}

static void dead_letter(struct eventsource *es, const char *payload)
{
    char err[128];
    struct json_object *o = NULL, *tenant;
    if (mtm_json_parse(payload, strlen(payload), 4, &o, err, sizeof(err)) ||
        !json_object_object_get_ex(o, "tenant_id", &tenant) ||
        !mtm_uuid_valid(json_object_get_string(tenant))) {
        json_object_put(o);
        return;
    }
    es->emit(es->ud, json_object_get_string(tenant), "dead_letter", payload);
    json_object_put(o);
}

/* Takes at most EVENTSOURCE_TAKE_MAX notifications: a burst of them goes
 * out in slices, with the clients' writes in between (es->more says more
 * are waiting). */
static void take_notifications(struct eventsource *es)
{
    PGnotify *n = NULL;
    int taken = 0;
    es->more = false;
    while (taken < EVENTSOURCE_TAKE_MAX && (n = mtm_pg_notification(&es->pg))) {
        taken++;
        if (strcmp(n->relname, "mtm_tenants") == 0)
            tenant_changed(es, n->extra);
        else if (strcmp(n->relname, "mtm_dead_letters") == 0)
            dead_letter(es, n->extra);
        else if (strcmp(n->relname, "mtm_alerts") == 0)
            es->emit(es->ud, "", "alert", n->extra);
        PQfreemem(n);
        if (!es->listening)
            return;
    }
    es->more = taken == EVENTSOURCE_TAKE_MAX;
}

void eventsource_continue(struct eventsource *es)
{
    if (es->listening && es->more)
        take_notifications(es);
}

void eventsource_readable(struct eventsource *es)
{
    char err[512];
    if (!es->listening)
        return;
    if (mtm_pg_consume(&es->pg, err, sizeof(err))) {
        lost(es, err);
        return;
    }
    take_notifications(es);
}

/* ---- the once-a-second read ---------------------------------------------- */

struct totals {
    int64_t tenants, active, paused, deleting, depth, dlq, configured, running, busy;
    double stored_per_s, published_per_s;
};

static int64_t get_int(struct json_object *o, const char *a, const char *b)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, a, &v))
        return 0;
    if (b && !json_object_object_get_ex(v, b, &v))
        return 0;
    return json_object_get_int64(v);
}

/*
 * Rates from the change of the counters since the last read: stored per
 * second, and published per second as what was consumed plus what the
 * queue grew (both counted by consumerd; a counter that went back means
 * consumerd restarted, and the rate starts again at the next read).
 */
static void add_rates(struct json_object *t, struct json_object *prev, int64_t now)
{
    double stored = 0, published = 0;
    struct json_object *p;
    if (prev && json_object_object_get_ex(prev, "at", &p)) {
        double dt = (double)(now - json_object_get_int64(p)) / 1000.0;
        int64_t ds = get_int(t, "counters", "stored") - get_int(prev, "stored", NULL);
        int64_t dc = get_int(t, "counters", "consumed") - get_int(prev, "consumed", NULL);
        int64_t dd = get_int(t, "queue_depth", NULL) - get_int(prev, "depth", NULL);
        if (dt > 0.2 && ds >= 0 && dc >= 0) {
            stored = (double)ds / dt;
            published = (double)(dc + dd) / dt;
            if (published < 0)
                published = 0;
        }
    }
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "stored_per_s",
                           json_object_new_double((double)(int64_t)(stored * 10) / 10));
    json_object_object_add(r, "published_per_s",
                           json_object_new_double((double)(int64_t)(published * 10) / 10));
    json_object_object_add(t, "rates", r);
}

static void count(struct totals *sum, struct json_object *t)
{
    struct json_object *v;
    const char *status =
        json_object_object_get_ex(t, "status", &v) ? json_object_get_string(v) : "";
    sum->tenants++;
    if (strcmp(status, "active") == 0) {
        sum->active++;
        sum->configured += get_int(t, "concurrency", NULL);
    } else if (strcmp(status, "paused") == 0) {
        sum->paused++;
    } else {
        sum->deleting++;
    }
    sum->depth += get_int(t, "queue_depth", NULL);
    sum->dlq += get_int(t, "dlq_depth", NULL);
    sum->running += get_int(t, "workers", "running");
    sum->busy += get_int(t, "workers", "busy");
    if (json_object_object_get_ex(t, "rates", &v)) {
        struct json_object *x;
        if (json_object_object_get_ex(v, "stored_per_s", &x))
            sum->stored_per_s += json_object_get_double(x);
        if (json_object_object_get_ex(v, "published_per_s", &x))
            sum->published_per_s += json_object_get_double(x);
    }
}

static void send_overview(struct eventsource *es, const struct totals *s)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"tenants\":{\"total\":%lld,\"active\":%lld,\"paused\":%lld,\"deleting\":%lld},"
             "\"queue_depth\":%lld,\"dlq_depth\":%lld,"
             "\"workers\":{\"configured\":%lld,\"running\":%lld,\"busy\":%lld},"
             "\"rates\":{\"stored_per_s\":%.1f,\"published_per_s\":%.1f}}",
             (long long)s->tenants, (long long)s->active, (long long)s->paused,
             (long long)s->deleting, (long long)s->depth, (long long)s->dlq,
             (long long)s->configured, (long long)s->running, (long long)s->busy, s->stored_per_s,
             s->published_per_s);
    if (es->overview && strcmp(es->overview, text) == 0)
        return;
    free(es->overview);
    es->overview = xstrdup(text);
    es->emit(es->ud, "", "overview", text);
}

static void poll_tenants(struct eventsource *es, int64_t now)
{
    PGresult *res = query(es, MTM_STMT_TENANT_ALL, NULL, "reading the tenants");
    if (!res)
        return;
    struct json_object *seen = json_object_new_object();
    struct totals sum = {0};
    for (int i = 0; i < PQntuples(res); i++) {
        struct json_object *t = tenant_at(res, i, 1), *prev = NULL, *v;
        if (!t)
            continue;
        const char *id = PQgetvalue(res, i, 0);
        json_object_object_get_ex(es->seen, id, &prev);
        add_rates(t, prev, now);
        count(&sum, t);
        /* What a client sees, without the time of the figures: sent when it moved. */
        struct json_object *at = NULL;
        if (json_object_object_get_ex(t, "status_updated_at", &v))
            at = json_object_get(v);
        json_object_object_del(t, "status_updated_at");
        char *fp = xstrdup(mtm_json_text(t, NULL));
        json_object_object_add(t, "status_updated_at", at);
        const char *old =
            prev && json_object_object_get_ex(prev, "fp", &v) ? json_object_get_string(v) : NULL;
        if (!old || strcmp(old, fp) != 0)
            es->emit(es->ud, id, "tenant", mtm_json_text(t, NULL));
        struct json_object *mem = json_object_new_object();
        json_object_object_add(mem, "fp", json_object_new_string(fp));
        json_object_object_add(mem, "at", json_object_new_int64(now));
        json_object_object_add(mem, "stored",
                               json_object_new_int64(get_int(t, "counters", "stored")));
        json_object_object_add(mem, "consumed",
                               json_object_new_int64(get_int(t, "counters", "consumed")));
        json_object_object_add(mem, "depth",
                               json_object_new_int64(get_int(t, "queue_depth", NULL)));
        if (json_object_object_get_ex(t, "rates", &v))
            json_object_object_add(mem, "rates", json_object_get(v));
        json_object_object_add(seen, id, mem);
        free(fp);
        json_object_put(t);
    }
    PQclear(res);
    /* Tenants read last time and gone now. */
    json_object_object_foreach(es->seen, id, mem)
    {
        (void)mem;
        if (!json_object_object_get_ex(seen, id, NULL)) {
            char data[64];
            snprintf(data, sizeof(data), "{\"id\":\"%s\"}", id);
            es->emit(es->ud, id, "tenant.deleted", data);
        }
    }
    json_object_put(es->seen);
    es->seen = seen;
    send_overview(es, &sum);
    take_notifications(es);
}

int64_t eventsource_tick(struct eventsource *es, int64_t now_ms)
{
    char err[512];
    if (!es->listening && now_ms >= es->retry_at_ms) {
        int rc = 0;
        for (size_t i = 0; !rc && i < sizeof(channels) / sizeof(channels[0]); i++)
            rc = mtm_pg_listen(&es->pg, channels[i], err, sizeof(err));
        if (rc) {
            lost(es, err);
        } else {
            es->listening = true;
            mtm_backoff_reset(&es->backoff);
            es->next_poll_ms = now_ms; /* read everything at once: we may have missed some */
            LOG_INFO(&es->log, "listening for tenant changes, dead letters and alerts");
        }
    }
    if (es->listening && now_ms >= es->next_poll_ms && !es->idle) {
        es->next_poll_ms = now_ms + EVENTSOURCE_POLL_MS;
        poll_tenants(es, now_ms);
    }
    if (es->listening && es->idle && now_ms >= es->next_poll_ms)
        return now_ms + EVENTSOURCE_POLL_MS; /* read at once when a stream opens */
    if (!es->listening)
        return es->retry_at_ms;
    return es->next_poll_ms;
}
