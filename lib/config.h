/*
 * config: mtm's configuration, declared in one table (config.c).
 *
 * Each key has a type, a destination field in struct mtm_config, bounds, a
 * default and the programs that require it. Values come from the
 * environment and, for keys the environment leaves unset, from KEY=VALUE
 * lines in the file named by MTM_CONFIG. Loading validates every key and the
 * relations between them; the first problem found is described in one line
 * that starts with the variable's name.
 *
 * There is no reload: every program reads its configuration once, at
 * start-up, and a change takes effect at the next restart.
 */
#ifndef MTM_CONFIG_H
#define MTM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "log.h"
#include "topology.h"

/* Which program is loading: keys can be required by some programs only. */
enum mtm_program {
    MTM_PROG_API = 1 << 0,
    MTM_PROG_CONSUMERD = 1 << 1,
    MTM_PROG_TOOL = 1 << 2,   /* mtm-migrate and other one-shot tools */
    MTM_PROG_EVENTS = 1 << 3, /* mtm-events, the event stream server */
};

struct mtm_config {
    int http_port;
    char *pg_url;
    char *amqp_url;                 /* one URL or a comma-separated list (amqp.h) */
    enum mtm_queue_type queue_type; /* of new tenants */
    int classic_queue_version;      /* x-queue-version of new tenants' classic queues */
    char *jwt_secret;
    char *admin_user;
    char *admin_password; /* NULL when unset */
    int default_concurrency;
    int max_concurrency;
    int max_attempts;
    int max_body;
    char *metrics_dir;
    char *consumer_name; /* consumerd's name in its metrics; NULL: the host name */
    enum mtm_log_level log_level;
    char *fcgi_socket;
    int api_threads;
    int tenant_threads; /* 0: api_threads / 2 (at least 1) */
    char *sql_dir;
    int heartbeat_max_age;
    int db_pool_size;
    int store_groups; /* consumerd's store transactions at once (consumerd/groupstore.h) */
    int amqp_channels_per_connection; /* consumerd's workers per shared broker connection */
    int retry_base_ms;
    int publish_rate;       /* default messages/s per tenant; 0 = unlimited */
    int publish_burst;      /* default bucket size */
    char *cors_origins;     /* comma-separated allowed origins, NULL = none */
    char *metrics_token;    /* bearer secret for GET /api/metrics scrapers, NULL = none */
    char *alerts_token;     /* bearer secret of Alertmanager's webhook, NULL = none */
    char *prometheus_url;   /* Prometheus for the console's charts (http://), NULL = none */
    char *trusted_proxies;  /* for lighttpd's mod_extforward; validated here, NULL = none */
    char *events_socket;    /* unix socket mtm-events listens on (lighttpd proxies to it) */
    int events_max_clients; /* streams mtm-events serves at once */
};

/* Looks a variable up; returns NULL when it is unset. */
typedef const char *(*mtm_config_lookup_fn)(const char *name, void *ud);

/*
 * Fills cfg from lookup (file handling is the caller's, see
 * mtm_config_load_env). On failure returns MTM_EINVAL with the reason in err
 * and leaves cfg empty (mtm_config_cleanup is still safe).
 */
int mtm_config_load(struct mtm_config *cfg, enum mtm_program prog, mtm_config_lookup_fn lookup,
                    void *ud, char *err, size_t errlen) MTM_MUST_CHECK;

/* The real thing: the process environment, then the MTM_CONFIG file. */
int mtm_config_load_env(struct mtm_config *cfg, enum mtm_program prog, char *err,
                        size_t errlen) MTM_MUST_CHECK;

void mtm_config_cleanup(struct mtm_config *cfg);

/* Whether c may stand in a name (MTM_CONSUMER_NAME): a letter, a digit,
 * '.', '_' or '-', so that a name fits a file name and a label value. */
bool mtm_config_name_char(char c);

/* Iteration over the table, for documentation and tests. */
struct mtm_config_key_info {
    const char *name;
    const char *default_value; /* NULL: no default */
    const char *help;
};
size_t mtm_config_key_count(void);
struct mtm_config_key_info mtm_config_key(size_t i);

#endif
