/*
 * config: the table and its loader; see config.h.
 *
 * Adding a setting means adding one row to `keys` and one field to struct
 * mtm_config, and a line in the README's configuration table. Nothing else
 * reads the environment.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp.h"
#include "httpclient.h"
#include "password.h"
#include "xalloc.h"

#ifndef MTM_DEFAULT_SQL_DIR
#define MTM_DEFAULT_SQL_DIR "sql"
#endif

enum key_type {
    T_INT,      /* decimal integer within [min, max] */
    T_STR,      /* non-empty string of at most max bytes */
    T_SECRET,   /* string of at least min bytes; never echoed */
    T_PG_URL,   /* postgresql:// or postgres:// URL */
    T_AMQP_URL, /* amqp:// URL, or a comma-separated list of them (amqp.h) */
    T_QTYPE,    /* classic | quorum (topology.h) */
    T_LOGLEVEL, /* debug | info | warn | error */
    T_ADDRLIST, /* comma-separated IPv4/IPv6 addresses or CIDR blocks */
    T_HTTP_URL, /* http://host[:port][/path] (httpclient.h) */
    T_NAME,     /* 1 to max bytes of letters, digits, '.', '_' and '-' */
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset;
    long min, max;
    const char *def;      /* NULL: no default */
    unsigned required_by; /* enum mtm_program bits that must have a value */
    const char *help;
};

#define F(field) offsetof(struct mtm_config, field)
#define ALL (MTM_PROG_API | MTM_PROG_CONSUMERD | MTM_PROG_TOOL | MTM_PROG_EVENTS)

static const struct key keys[] = {
    {"MTM_HTTP_PORT", T_INT, F(http_port), 1, 65535, "8080", 0, "port lighttpd listens on"},
    {"MTM_PG_URL", T_PG_URL, F(pg_url), 0, 4096, "postgresql://mtm:mtm@127.0.0.1:5433/mtm", ALL,
     "PostgreSQL connection URL"},
    {"MTM_AMQP_URL", T_AMQP_URL, F(amqp_url), 0, 4096, "amqp://mtm:mtm@127.0.0.1:5673/", ALL,
     "RabbitMQ connection URL, or several nodes' URLs separated by commas"},
    {"MTM_QUEUE_TYPE", T_QTYPE, F(queue_type), 0, 0, "classic", 0,
     "queue type of new tenants: classic or quorum (existing tenants keep theirs)"},
    {"MTM_CLASSIC_QUEUE_VERSION", T_INT, F(classic_queue_version), 1, 2, "1", 0,
     "storage version of new tenants' classic queues: 1 or 2 (docs/architecture.md)"},
    {"MTM_JWT_SECRET", T_SECRET, F(jwt_secret), 32, 4096, NULL, MTM_PROG_API | MTM_PROG_EVENTS,
     "HS256 signing key, at least 32 bytes"},
    {"MTM_ADMIN_USER", T_STR, F(admin_user), 1, 64, "admin", 0, "admin login name"},
    {"MTM_ADMIN_PASSWORD", T_SECRET, F(admin_password), 8, MTM_PASSWORD_MAX, NULL, 0,
     "admin password, set at first start"},
    {"MTM_DEFAULT_CONCURRENCY", T_INT, F(default_concurrency), 1, 1024, "1", 0,
     "workers of a new tenant when the request names none"},
    {"MTM_MAX_CONCURRENCY", T_INT, F(max_concurrency), 1, 1024, "64", 0,
     "upper bound of a tenant's concurrency"},
    {"MTM_MAX_ATTEMPTS", T_INT, F(max_attempts), 1, 100, "5", 0,
     "deliveries of a message before it is dead-lettered"},
    {"MTM_MAX_BODY", T_INT, F(max_body), 1024, 64 * 1024 * 1024, "1048576", 0,
     "largest request body in bytes"},
    {"MTM_METRICS_DIR", T_STR, F(metrics_dir), 1, 4096, "var/metrics", 0,
     "folder of the Prometheus textfiles (mtm-api.prom, mtm-events.prom, "
     "mtm-consumerd-<MTM_CONSUMER_NAME>.prom)"},
    {"MTM_CONSUMER_NAME", T_NAME, F(consumer_name), 1, 64, NULL, 0,
     "this consumerd's name in its metrics (label consumerd, textfile "
     "mtm-consumerd-<name>.prom): distinct for every consumerd sharing a metrics folder; "
     "default: the host name"},
    {"MTM_LOG_LEVEL", T_LOGLEVEL, F(log_level), 0, 0, "info", 0, "debug, info, warn or error"},
    {"MTM_FCGI_SOCKET", T_STR, F(fcgi_socket), 1, 107, "var/run/mtm-api.sock", 0,
     "unix socket the FastCGI responder listens on"},
    {"MTM_API_THREADS", T_INT, F(api_threads), 1, 256, "16", 0,
     "request threads of each responder process"},
    {"MTM_TENANT_THREADS", T_INT, F(tenant_threads), 0, 256, "0", 0,
     "request threads one tenant may hold at once in a responder process (more only while "
     "another is free); 0: half of MTM_API_THREADS"},
    {"MTM_SQL_DIR", T_STR, F(sql_dir), 1, 4096, MTM_DEFAULT_SQL_DIR, 0,
     "folder of the numbered SQL migrations"},
    {"MTM_HEARTBEAT_MAX_AGE", T_INT, F(heartbeat_max_age), 1, 3600, "5", 0,
     "seconds after which consumerd's heartbeat counts as stale"},
    {"MTM_DB_POOL_SIZE", T_INT, F(db_pool_size), 1, 90, "8", 0,
     "PostgreSQL connections consumerd's workers share"},
    {"MTM_STORE_GROUPS", T_INT, F(store_groups), 1, 90, "2", 0,
     "store transactions consumerd runs at once; batches that arrive while all run wait and "
     "are stored together, several tenants to a transaction (at most MTM_DB_POOL_SIZE count)"},
    {"MTM_AMQP_CHANNELS_PER_CONNECTION", T_INT, F(amqp_channels_per_connection), 1, 2000, "200", 0,
     "consumer channels (one per worker) consumerd carries on each of its shared broker "
     "connections; it opens another connection only when all are full"},
    {"MTM_RETRY_BASE_MS", T_INT, F(retry_base_ms), 10, 3600000, "1000", 0,
     "first retry delay; doubles per attempt (with jitter) up to 64 times it"},
    {"MTM_PUBLISH_RATE", T_INT, F(publish_rate), 0, 1000000, "0", 0,
     "default publish limit per tenant in messages/s; 0 means none"},
    {"MTM_PUBLISH_BURST", T_INT, F(publish_burst), 1, 10000000, "1000", 0,
     "default burst (bucket size) of the publish limit"},
    {"MTM_CORS_ORIGINS", T_STR, F(cors_origins), 1, 4096, NULL, 0,
     "origins allowed to call the API from browsers, comma-separated; none by default"},
    {"MTM_METRICS_TOKEN", T_SECRET, F(metrics_token), 32, 4096, NULL, 0,
     "bearer secret a Prometheus scraper may use for GET /api/metrics"},
    {"MTM_ALERTS_TOKEN", T_SECRET, F(alerts_token), 32, 4096, NULL, 0,
     "bearer secret Alertmanager's webhook presents to POST /api/alerts/webhook"},
    {"MTM_PROMETHEUS_URL", T_HTTP_URL, F(prometheus_url), 1, 4096, NULL, 0,
     "Prometheus (http://host:port) whose history the console's charts show; none by default"},
    {"MTM_TRUSTED_PROXIES", T_ADDRLIST, F(trusted_proxies), 1, 4096, NULL, 0,
     "proxies whose X-Forwarded-For names the client, comma-separated addresses or CIDR "
     "blocks; none by default"},
    {"MTM_EVENTS_SOCKET", T_STR, F(events_socket), 1, 107, "var/run/mtm-events.sock", 0,
     "unix socket the event stream server (mtm-events) listens on"},
    {"MTM_EVENTS_MAX_CLIENTS", T_INT, F(events_max_clients), 1, 20000, "2000", 0,
     "event streams mtm-events serves at once; more are answered 503"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

size_t mtm_config_key_count(void)
{
    return NKEYS;
}

struct mtm_config_key_info mtm_config_key(size_t i)
{
    struct mtm_config_key_info info = {keys[i].name, keys[i].def, keys[i].help};
    return info;
}

static int parse_int(const char *s, long min, long max, int *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
        return MTM_EINVAL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return MTM_EINVAL;
    *out = (int)v;
    return 0;
}

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* One IPv4 or IPv6 address, optionally with a /prefix length. */
static int parse_cidr(const char *s, size_t len)
{
    char text[INET6_ADDRSTRLEN + 8];
    unsigned char addr[16];
    if (len == 0 || len >= sizeof(text))
        return MTM_EINVAL;
    memcpy(text, s, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, text, addr) != 1)
        return MTM_EINVAL;
    if (slash) {
        int bits;
        if (parse_int(slash + 1, 0, family == AF_INET6 ? 128 : 32, &bits))
            return MTM_EINVAL;
    }
    return 0;
}

/* A comma-separated list of parse_cidr() entries (spaces around them allowed). */
static int parse_addrlist(const char *v, const char **bad, size_t *badlen)
{
    const char *p = v;
    for (;;) {
        while (*p == ' ')
            p++;
        const char *end = p + strcspn(p, ",");
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        if (parse_cidr(p, (size_t)(last - p))) {
            *bad = p;
            *badlen = (size_t)(last - p);
            return MTM_EINVAL;
        }
        if (!*end)
            return 0;
        p = end + 1;
    }
}

bool mtm_config_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static bool name_ok(const char *v)
{
    if (!*v)
        return false;
    for (const char *c = v; *c; c++)
        if (!mtm_config_name_char(*c))
            return false;
    return true;
}

/* Stores one value; on failure writes "NAME: reason" into err. */
static int set_value(struct mtm_config *cfg, const struct key *k, const char *v, char *err,
                     size_t errlen)
{
    void *dst = (char *)cfg + k->offset;
    size_t len = strlen(v);

    switch (k->type) {
    case T_INT:
        if (parse_int(v, k->min, k->max, (int *)dst)) {
            snprintf(err, errlen, "%s: must be an integer from %ld to %ld (got \"%.40s\")", k->name,
                     k->min, k->max, v);
            return MTM_EINVAL;
        }
        return 0;
    case T_LOGLEVEL:
        if (mtm_log_level_parse(v, (enum mtm_log_level *)dst)) {
            snprintf(err, errlen, "%s: must be debug, info, warn or error (got \"%.40s\")", k->name,
                     v);
            return MTM_EINVAL;
        }
        return 0;
    case T_SECRET:
        if (len < (size_t)k->min || len > (size_t)k->max) {
            snprintf(err, errlen, "%s: must be from %ld to %ld bytes long (got %zu)", k->name,
                     k->min, k->max, len);
            return MTM_EINVAL;
        }
        break;
    case T_PG_URL:
        if (!has_prefix(v, "postgresql://") && !has_prefix(v, "postgres://")) {
            snprintf(err, errlen, "%s: must be a postgresql:// URL", k->name);
            return MTM_EINVAL;
        }
        break;
    case T_QTYPE:
        if (mtm_queue_type_parse(v, (enum mtm_queue_type *)dst)) {
            snprintf(err, errlen, "%s: must be classic or quorum (got \"%.40s\")", k->name, v);
            return MTM_EINVAL;
        }
        return 0;
    case T_AMQP_URL: {
        char *urls[MTM_AMQP_URLS_MAX];
        size_t n;
        const char *bad;
        size_t badlen;
        int rc = mtm_amqp_url_list(v, urls, MTM_AMQP_URLS_MAX, &n, &bad, &badlen);
        for (size_t i = 0; i < n; i++)
            free(urls[i]);
        if (rc && !strchr(v, ',')) {
            snprintf(err, errlen, "%s: must be an amqp:// URL", k->name);
            return MTM_EINVAL;
        }
        if (rc) {
            snprintf(err, errlen,
                     "%s: must be amqp:// URLs separated by commas, at most %d (bad entry "
                     "\"%.*s\")",
                     k->name, MTM_AMQP_URLS_MAX, (int)(badlen > 64 ? 64 : badlen), bad);
            return MTM_EINVAL;
        }
        break;
    }
    case T_ADDRLIST: {
        const char *bad;
        size_t badlen;
        if (parse_addrlist(v, &bad, &badlen)) {
            snprintf(err, errlen,
                     "%s: must be IP addresses or CIDR blocks separated by commas (bad entry "
                     "\"%.*s\")",
                     k->name, (int)(badlen > 64 ? 64 : badlen), bad);
            return MTM_EINVAL;
        }
        break;
    }
    case T_HTTP_URL: {
        struct mtm_http_url u;
        if (mtm_http_url_parse(v, &u)) {
            snprintf(err, errlen, "%s: must be an http://host[:port][/path] URL", k->name);
            return MTM_EINVAL;
        }
        break;
    }
    case T_NAME:
        if (!name_ok(v)) {
            snprintf(err, errlen, "%s: must be letters, digits, '.', '_' or '-' (got \"%.40s\")",
                     k->name, v);
            return MTM_EINVAL;
        }
        break;
    case T_STR: break;
    }
    if (len > (size_t)k->max) {
        snprintf(err, errlen, "%s: must be at most %ld bytes long", k->name, k->max);
        return MTM_EINVAL;
    }
    char **slot = dst;
    free(*slot);
    *slot = xstrdup(v);
    return 0;
}

static int check_relations(const struct mtm_config *cfg, char *err, size_t errlen)
{
    if (cfg->default_concurrency > cfg->max_concurrency) {
        snprintf(err, errlen,
                 "MTM_DEFAULT_CONCURRENCY: must not exceed MTM_MAX_CONCURRENCY (%d > %d)",
                 cfg->default_concurrency, cfg->max_concurrency);
        return MTM_EINVAL;
    }
    return 0;
}

int mtm_config_load(struct mtm_config *cfg, enum mtm_program prog, mtm_config_lookup_fn lookup,
                    void *ud, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        const char *v = lookup(k->name, ud);
        if (v && !*v)
            v = NULL; /* an empty variable counts as unset */
        if (!v)
            v = k->def;
        if (!v) {
            if (k->required_by & (unsigned)prog) {
                snprintf(err, errlen, "%s: is required%s", k->name,
                         k->type == T_SECRET ? " (at least 32 bytes)" : "");
                mtm_config_cleanup(cfg);
                return MTM_EINVAL;
            }
            continue;
        }
        if (set_value(cfg, k, v, err, errlen)) {
            mtm_config_cleanup(cfg);
            return MTM_EINVAL;
        }
    }
    if (check_relations(cfg, err, errlen)) {
        mtm_config_cleanup(cfg);
        return MTM_EINVAL;
    }
    return 0;
}

void mtm_config_cleanup(struct mtm_config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == T_INT || keys[i].type == T_LOGLEVEL || keys[i].type == T_QTYPE)
            continue;
        char **slot = (char **)((char *)cfg + keys[i].offset);
        free(*slot);
        *slot = NULL;
    }
}

/* ---- the MTM_CONFIG file ---------------------------------------------- */

#define FILE_MAX_LINES 256

struct file_values {
    size_t n;
    char *name[FILE_MAX_LINES];
    char *value[FILE_MAX_LINES];
};

static const struct key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static void file_values_free(struct file_values *fv)
{
    for (size_t i = 0; i < fv->n; i++) {
        free(fv->name[i]);
        free(fv->value[i]);
    }
    fv->n = 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int read_file(const char *path, struct file_values *fv, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "MTM_CONFIG: cannot open %s: %s", path, strerror(errno));
        return MTM_EINVAL;
    }
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "MTM_CONFIG: %s line %d: expected NAME=VALUE", path, lineno);
            rc = MTM_EINVAL;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *value = trim(eq + 1);
        if (has_prefix(name, "export "))
            name = trim(name + 7);
        size_t vlen = strlen(value);
        if (vlen >= 2 && (value[0] == '"' || value[0] == '\'') && value[vlen - 1] == value[0]) {
            value[vlen - 1] = '\0';
            value++;
        }
        if (!find_key(name)) {
            snprintf(err, errlen, "MTM_CONFIG: %s line %d: unknown variable %.64s", path, lineno,
                     name);
            rc = MTM_EINVAL;
            break;
        }
        if (fv->n == FILE_MAX_LINES) {
            snprintf(err, errlen, "MTM_CONFIG: %s: more than %d settings", path, FILE_MAX_LINES);
            rc = MTM_EINVAL;
            break;
        }
        fv->name[fv->n] = xstrdup(name);
        fv->value[fv->n] = xstrdup(value);
        fv->n++;
    }
    fclose(f);
    return rc;
}

static const char *env_then_file(const char *name, void *ud)
{
    const struct file_values *fv = ud;
    const char *v = getenv(name);
    if (v && *v)
        return v;
    /* The last assignment in the file wins, as in a shell. */
    for (size_t i = fv->n; i-- > 0;)
        if (strcmp(fv->name[i], name) == 0)
            return fv->value[i];
    return NULL;
}

int mtm_config_load_env(struct mtm_config *cfg, enum mtm_program prog, char *err, size_t errlen)
{
    struct file_values fv = {0};
    const char *path = getenv("MTM_CONFIG");
    int rc = 0;

    memset(cfg, 0, sizeof(*cfg));
    if (path && *path)
        rc = read_file(path, &fv, err, errlen);
    if (!rc)
        rc = mtm_config_load(cfg, prog, env_then_file, &fv, err, errlen);
    file_values_free(&fv);
    return rc;
}
