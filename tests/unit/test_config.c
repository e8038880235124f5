/*
 * test_config: the configuration table and its loaders (lib/config.c).
 *
 * mtm_config_load is driven through a lookup function over a fake table, so
 * these tests never depend on the process environment; the _env tests set
 * and unset real variables and point MTM_CONFIG at a temporary file. Every
 * failure must produce one line that starts with the variable's name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define SECRET32 "0123456789abcdef0123456789abcdef"

/* A NULL-terminated list of name, value pairs. */
struct fake_env {
    const char *const *pairs;
};

static const char *fake_lookup(const char *name, void *ud)
{
    const struct fake_env *env = ud;
    for (const char *const *p = env->pairs; p && p[0]; p += 2)
        if (strcmp(p[0], name) == 0)
            return p[1];
    return NULL;
}

static int load(struct mtm_config *cfg, enum mtm_program prog, const char *const *pairs, char *err,
                size_t errlen)
{
    struct fake_env env = {pairs};
    err[0] = '\0';
    return mtm_config_load(cfg, prog, fake_lookup, &env, err, errlen);
}

/* Asserts that err is one line that starts with "NAME:". */
static void assert_names(const char *err, const char *name)
{
    char head[128];
    size_t n = strlen(name) + 1;
    assert_true(n < sizeof(head));
    snprintf(head, sizeof(head), "%.*s", (int)n, err);
    char want[128];
    snprintf(want, sizeof(want), "%s:", name);
    assert_string_equal(head, want);
    assert_null(strchr(err, '\n'));
}

/* Loads pairs for prog, expects MTM_EINVAL naming `name`, and an empty cfg. */
static void expect_bad(enum mtm_program prog, const char *const *pairs, const char *name)
{
    struct mtm_config cfg;
    char err[256];
    int rc = load(&cfg, prog, pairs, err, sizeof(err));
    if (rc != MTM_EINVAL || strncmp(err, name, strlen(name)) != 0) {
        print_message("expected %s to be refused, got rc=%d err=\"%s\" for:\n", name, rc, err);
        for (const char *const *p = pairs; p && p[0]; p += 2)
            print_message("  %s=\"%s\"\n", p[0], p[1]);
    }
    assert_int_equal(rc, MTM_EINVAL);
    assert_names(err, name);
    assert_null(cfg.pg_url);
    assert_null(cfg.amqp_url);
    assert_null(cfg.jwt_secret);
    assert_null(cfg.admin_user);
    mtm_config_cleanup(&cfg); /* still safe after a failure */
}

static void expect_ok(enum mtm_program prog, const char *const *pairs, struct mtm_config *cfg)
{
    char err[256];
    int rc = load(cfg, prog, pairs, err, sizeof(err));
    if (rc)
        print_message("unexpected failure: %s\n", err);
    assert_int_equal(rc, 0);
}

/* ---- mtm_config_load over a fake table ---------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    struct mtm_config cfg;
    expect_ok(MTM_PROG_CONSUMERD, NULL, &cfg);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.pg_url, "postgresql://mtm:mtm@127.0.0.1:5433/mtm");
    assert_string_equal(cfg.amqp_url, "amqp://mtm:mtm@127.0.0.1:5673/");
    assert_null(cfg.jwt_secret);
    assert_string_equal(cfg.admin_user, "admin");
    assert_null(cfg.admin_password);
    assert_int_equal(cfg.default_concurrency, 1);
    assert_int_equal(cfg.max_concurrency, 64);
    assert_int_equal(cfg.max_attempts, 5);
    assert_int_equal(cfg.max_body, 1048576);
    assert_string_equal(cfg.metrics_dir, "var/metrics");
    assert_int_equal(cfg.log_level, MTM_LOG_INFO);
    assert_string_equal(cfg.fcgi_socket, "var/run/mtm-api.sock");
    assert_int_equal(cfg.api_threads, 16);
    assert_int_equal(cfg.store_groups, 2);
    assert_string_equal(cfg.sql_dir, MTM_DEFAULT_SQL_DIR);
    assert_int_equal(cfg.heartbeat_max_age, 5);
    assert_int_equal(cfg.classic_queue_version, 1);
    mtm_config_cleanup(&cfg);
    mtm_config_cleanup(&cfg); /* twice is harmless */
}

static void test_key_table(void **state)
{
    (void)state;
    size_t n = mtm_config_key_count();
    assert_true(n >= 13); /* at least the variables SPEC.md section 5 names */
    const char *spec[] = {"MTM_HTTP_PORT",
                          "MTM_PG_URL",
                          "MTM_AMQP_URL",
                          "MTM_JWT_SECRET",
                          "MTM_ADMIN_USER",
                          "MTM_ADMIN_PASSWORD",
                          "MTM_DEFAULT_CONCURRENCY",
                          "MTM_MAX_CONCURRENCY",
                          "MTM_MAX_ATTEMPTS",
                          "MTM_MAX_BODY",
                          "MTM_METRICS_DIR",
                          "MTM_LOG_LEVEL"};
    for (size_t s = 0; s < sizeof(spec) / sizeof(spec[0]); s++) {
        size_t found = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(mtm_config_key(i).name, spec[s]) == 0)
                found++;
        if (found != 1)
            print_message("%s is in the table %zu times\n", spec[s], found);
        assert_int_equal(found, 1);
    }
    for (size_t i = 0; i < n; i++) {
        struct mtm_config_key_info k = mtm_config_key(i);
        assert_non_null(k.name);
        assert_int_equal(strncmp(k.name, "MTM_", 4), 0);
        assert_non_null(k.help);
        assert_true(k.help[0] != '\0');
    }
}

static void test_good_values(void **state)
{
    (void)state;
    struct mtm_config cfg;
    const char *env[] = {"MTM_HTTP_PORT",
                         "65535",
                         "MTM_PG_URL",
                         "postgres://u:p@db:5432/x",
                         "MTM_AMQP_URL",
                         "amqp://u:p@mq:5672/vh",
                         "MTM_JWT_SECRET",
                         SECRET32,
                         "MTM_ADMIN_USER",
                         "root",
                         "MTM_ADMIN_PASSWORD",
                         "12345678",
                         "MTM_DEFAULT_CONCURRENCY",
                         "64",
                         "MTM_MAX_CONCURRENCY",
                         "64",
                         "MTM_MAX_ATTEMPTS",
                         "1",
                         "MTM_MAX_BODY",
                         "1024",
                         "MTM_METRICS_DIR",
                         "/srv/metrics",
                         "MTM_LOG_LEVEL",
                         "debug",
                         "MTM_CONSUMER_NAME",
                         "eu-1.consumerd_2",
                         "MTM_CLASSIC_QUEUE_VERSION",
                         "2",
                         "MTM_STORE_GROUPS",
                         "5",
                         NULL};
    expect_ok(MTM_PROG_API, env, &cfg);
    assert_int_equal(cfg.classic_queue_version, 2);
    assert_int_equal(cfg.store_groups, 5);
    assert_string_equal(cfg.consumer_name, "eu-1.consumerd_2");
    assert_int_equal(cfg.http_port, 65535);
    assert_string_equal(cfg.pg_url, "postgres://u:p@db:5432/x");
    assert_string_equal(cfg.amqp_url, "amqp://u:p@mq:5672/vh");
    assert_string_equal(cfg.jwt_secret, SECRET32);
    assert_string_equal(cfg.admin_user, "root");
    assert_string_equal(cfg.admin_password, "12345678");
    assert_int_equal(cfg.default_concurrency, 64);
    assert_int_equal(cfg.max_concurrency, 64);
    assert_int_equal(cfg.max_attempts, 1);
    assert_int_equal(cfg.max_body, 1024);
    assert_string_equal(cfg.metrics_dir, "/srv/metrics");
    assert_int_equal(cfg.log_level, MTM_LOG_DEBUG);
    mtm_config_cleanup(&cfg);

    const char *low[] = {"MTM_HTTP_PORT", "1", "MTM_LOG_LEVEL", "error", NULL};
    expect_ok(MTM_PROG_TOOL, low, &cfg);
    assert_int_equal(cfg.http_port, 1);
    assert_int_equal(cfg.log_level, MTM_LOG_ERROR);
    mtm_config_cleanup(&cfg);
}

static void test_bad_http_port(void **state)
{
    (void)state;
    const char *values[] = {"0", "70000", "80x", "-1", " 80", "+80", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        if (!values[i][0])
            continue; /* empty is unset, see test_empty_is_unset */
        const char *env[] = {"MTM_HTTP_PORT", values[i], NULL};
        expect_bad(MTM_PROG_CONSUMERD, env, "MTM_HTTP_PORT");
    }
}

static void test_bad_values_name_the_variable(void **state)
{
    (void)state;
    static const struct {
        const char *name, *value;
    } bad[] = {
        {"MTM_MAX_BODY", "abc"},
        {"MTM_MAX_BODY", "1023"},
        {"MTM_LOG_LEVEL", "loud"},
        {"MTM_LOG_LEVEL", "INFO "},
        {"MTM_JWT_SECRET", "too-short"},
        {"MTM_PG_URL", "mysql://u@h/db"},
        {"MTM_PG_URL", "127.0.0.1:5432"},
        {"MTM_AMQP_URL", "http://mq:5672/"},
        {"MTM_AMQP_URL", "postgresql://h/db"},
        {"MTM_DEFAULT_CONCURRENCY", "0"},
        {"MTM_MAX_CONCURRENCY", "1025"},
        {"MTM_MAX_ATTEMPTS", "101"},
        {"MTM_CLASSIC_QUEUE_VERSION", "0"},
        {"MTM_CLASSIC_QUEUE_VERSION", "3"},
        {"MTM_CLASSIC_QUEUE_VERSION", "v2"},
        {"MTM_STORE_GROUPS", "0"},
        {"MTM_STORE_GROUPS", "91"},
        {"MTM_API_THREADS", "many"},
        {"MTM_HEARTBEAT_MAX_AGE", "0"},
        {"MTM_ADMIN_PASSWORD", "short"},
        {"MTM_CONSUMER_NAME", "a/b"},
        {"MTM_CONSUMER_NAME", "host name"},
        {"MTM_CONSUMER_NAME", "x\"y"},
        {"MTM_CONSUMER_NAME",
         "nameeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee65"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *env[] = {bad[i].name, bad[i].value, "MTM_JWT_SECRET", SECRET32, NULL};
        if (strcmp(bad[i].name, "MTM_JWT_SECRET") == 0)
            env[2] = NULL;
        expect_bad(MTM_PROG_API, env, bad[i].name);
    }
}

/* crypt(3) hashes at most 511 bytes: a longer admin password could never
 * be stored, so it is refused at start-up instead of at every login. */
static void test_admin_password_length(void **state)
{
    (void)state;
    char pw[513];
    memset(pw, 'p', 511);
    pw[511] = '\0';
    struct mtm_config cfg;
    const char *env[] = {"MTM_ADMIN_PASSWORD", pw, "MTM_JWT_SECRET", SECRET32, NULL};
    expect_ok(MTM_PROG_API, env, &cfg);
    assert_int_equal(strlen(cfg.admin_password), 511);
    mtm_config_cleanup(&cfg);
    pw[511] = 'p';
    pw[512] = '\0';
    expect_bad(MTM_PROG_API, env, "MTM_ADMIN_PASSWORD");
}

/* MTM_TRUSTED_PROXIES goes into lighttpd's configuration: only addresses. */
static void test_trusted_proxies(void **state)
{
    (void)state;
    static const char *const good[] = {"127.0.0.1", "10.0.0.0/8, 192.168.1.7", "::1",
                                       "2001:db8::/32,127.0.0.1", "0.0.0.0/0"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct mtm_config cfg;
        const char *env[] = {"MTM_TRUSTED_PROXIES", good[i], NULL};
        expect_ok(MTM_PROG_CONSUMERD, env, &cfg);
        assert_string_equal(cfg.trusted_proxies, good[i]);
        mtm_config_cleanup(&cfg);
    }
    static const char *const bad[] = {
        "all",     "10.0.0.1,",   "10.0.0.0/33",      "10.0.0.0/",          "1.2.3",
        "::1/129", "127.0.0.1 x", "\" => \"trust\")", "10.0.0.1,,10.0.0.2", "example.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *env[] = {"MTM_TRUSTED_PROXIES", bad[i], NULL};
        expect_bad(MTM_PROG_CONSUMERD, env, "MTM_TRUSTED_PROXIES");
    }
}

static void test_overlong_string(void **state)
{
    (void)state;
    char sock[200];
    memset(sock, 's', sizeof(sock) - 1);
    sock[sizeof(sock) - 1] = '\0';
    const char *env[] = {"MTM_FCGI_SOCKET", sock, NULL};
    expect_bad(MTM_PROG_API,
               (const char *[]){"MTM_FCGI_SOCKET", sock, "MTM_JWT_SECRET", SECRET32, NULL},
               "MTM_FCGI_SOCKET");
    expect_bad(MTM_PROG_CONSUMERD, env, "MTM_FCGI_SOCKET");
}

static void test_secret_never_echoed(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[256];
    const char *env[] = {"MTM_JWT_SECRET", "hunter2-secret", NULL};
    assert_int_equal(load(&cfg, MTM_PROG_API, env, err, sizeof(err)), MTM_EINVAL);
    assert_names(err, "MTM_JWT_SECRET");
    if (strstr(err, "hunter2"))
        print_message("secret echoed: %s\n", err);
    assert_null(strstr(err, "hunter2"));
}

static void test_secret_required_only_for_api(void **state)
{
    (void)state;
    struct mtm_config cfg;
    expect_bad(MTM_PROG_API, NULL, "MTM_JWT_SECRET");
    expect_bad(MTM_PROG_API | MTM_PROG_CONSUMERD, NULL, "MTM_JWT_SECRET");

    expect_ok(MTM_PROG_CONSUMERD, NULL, &cfg);
    assert_null(cfg.jwt_secret);
    mtm_config_cleanup(&cfg);
    expect_ok(MTM_PROG_TOOL, NULL, &cfg);
    assert_null(cfg.jwt_secret);
    mtm_config_cleanup(&cfg);

    /* A short secret is wrong whoever loads it. */
    const char *shrt[] = {"MTM_JWT_SECRET", "0123456789abcdef0123456789abcde", NULL};
    expect_bad(MTM_PROG_CONSUMERD, shrt, "MTM_JWT_SECRET");

    const char *ok[] = {"MTM_JWT_SECRET", SECRET32, NULL};
    expect_ok(MTM_PROG_API, ok, &cfg);
    assert_string_equal(cfg.jwt_secret, SECRET32);
    mtm_config_cleanup(&cfg);
}

static void test_concurrency_relation(void **state)
{
    (void)state;
    struct mtm_config cfg;
    const char *over[] = {"MTM_DEFAULT_CONCURRENCY", "65", NULL}; /* max defaults to 64 */
    expect_bad(MTM_PROG_CONSUMERD, over, "MTM_DEFAULT_CONCURRENCY");
    const char *both[] = {"MTM_DEFAULT_CONCURRENCY", "10", "MTM_MAX_CONCURRENCY", "5", NULL};
    expect_bad(MTM_PROG_CONSUMERD, both, "MTM_DEFAULT_CONCURRENCY");
    const char *equal[] = {"MTM_DEFAULT_CONCURRENCY", "5", "MTM_MAX_CONCURRENCY", "5", NULL};
    expect_ok(MTM_PROG_CONSUMERD, equal, &cfg);
    assert_int_equal(cfg.default_concurrency, 5);
    assert_int_equal(cfg.max_concurrency, 5);
    mtm_config_cleanup(&cfg);
}

static void test_empty_is_unset(void **state)
{
    (void)state;
    struct mtm_config cfg;
    const char *env[] = {"MTM_HTTP_PORT",      "", "MTM_PG_URL", "", "MTM_LOG_LEVEL", "",
                         "MTM_ADMIN_PASSWORD", "", NULL};
    expect_ok(MTM_PROG_CONSUMERD, env, &cfg);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.pg_url, "postgresql://mtm:mtm@127.0.0.1:5433/mtm");
    assert_int_equal(cfg.log_level, MTM_LOG_INFO);
    assert_null(cfg.admin_password);
    mtm_config_cleanup(&cfg);

    const char *secret[] = {"MTM_JWT_SECRET", "", NULL};
    expect_bad(MTM_PROG_API, secret, "MTM_JWT_SECRET");
}

static void test_small_error_buffer(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[8];
    const char *env[] = {"MTM_MAX_BODY", "abc", NULL};
    assert_int_equal(load(&cfg, MTM_PROG_CONSUMERD, env, err, sizeof(err)), MTM_EINVAL);
    assert_string_equal(err, "MTM_MAX"); /* truncated, still terminated */
}

/* ---- mtm_config_load_env: environment and MTM_CONFIG file ------------- */

static char cfg_path[64];

static int env_setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < mtm_config_key_count(); i++)
        unsetenv(mtm_config_key(i).name);
    unsetenv("MTM_CONFIG");
    const char *tmp = getenv("TMPDIR");
    snprintf(cfg_path, sizeof(cfg_path), "%s/mtm-cfg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (strlen(cfg_path) + 1 >= sizeof(cfg_path))
        snprintf(cfg_path, sizeof(cfg_path), "/tmp/mtm-cfg-XXXXXX");
    int fd = mkstemp(cfg_path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int env_teardown(void **state)
{
    (void)state;
    unlink(cfg_path);
    for (size_t i = 0; i < mtm_config_key_count(); i++)
        unsetenv(mtm_config_key(i).name);
    unsetenv("MTM_CONFIG");
    return 0;
}

static void write_cfg(const char *text)
{
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(setenv("MTM_CONFIG", cfg_path, 1), 0);
}

static int load_env(struct mtm_config *cfg, enum mtm_program prog, char *err, size_t errlen)
{
    err[0] = '\0';
    int rc = mtm_config_load_env(cfg, prog, err, errlen);
    if (rc)
        print_message("mtm_config_load_env: %s\n", err);
    return rc;
}

static void test_env_without_file(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[256];
    assert_int_equal(setenv("MTM_HTTP_PORT", "9100", 1), 0);
    assert_int_equal(load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), 0);
    assert_int_equal(cfg.http_port, 9100);
    assert_int_equal(cfg.max_concurrency, 64);
    mtm_config_cleanup(&cfg);

    assert_int_equal(setenv("MTM_HTTP_PORT", "0", 1), 0);
    assert_int_equal(mtm_config_load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), MTM_EINVAL);
    assert_names(err, "MTM_HTTP_PORT");
}

static void test_file_values_used(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[256];
    write_cfg("# mtm settings\n"
              "\n"
              "MTM_HTTP_PORT=9001\n"
              "   # an indented comment\n"
              "MTM_LOG_LEVEL = debug\n"
              "export MTM_MAX_ATTEMPTS=7\n"
              "MTM_ADMIN_USER=\"bob\"\n"
              "MTM_METRICS_DIR='/srv/my metrics'\n"
              "MTM_ADMIN_PASSWORD=\"unbalanced'\n"
              "MTM_JWT_SECRET=" SECRET32 "\n"
              "\t\n"
              "MTM_MAX_CONCURRENCY=10\n"
              "MTM_MAX_CONCURRENCY=12\n");
    assert_int_equal(load_env(&cfg, MTM_PROG_API, err, sizeof(err)), 0);
    assert_int_equal(cfg.http_port, 9001);
    assert_int_equal(cfg.log_level, MTM_LOG_DEBUG);
    assert_int_equal(cfg.max_attempts, 7);
    assert_string_equal(cfg.admin_user, "bob");
    assert_string_equal(cfg.metrics_dir, "/srv/my metrics");
    assert_string_equal(cfg.admin_password, "\"unbalanced'"); /* quotes kept unless a pair */
    assert_string_equal(cfg.jwt_secret, SECRET32);
    assert_int_equal(cfg.max_concurrency, 12); /* the last assignment wins */
    assert_int_equal(cfg.http_port, 9001);
    mtm_config_cleanup(&cfg);
}

static void test_environment_wins_over_file(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[256];
    write_cfg("MTM_HTTP_PORT=9001\nMTM_ADMIN_USER=filed\nMTM_MAX_ATTEMPTS=9\n");
    assert_int_equal(setenv("MTM_HTTP_PORT", "9002", 1), 0);
    assert_int_equal(setenv("MTM_MAX_ATTEMPTS", "", 1), 0); /* empty: the file's value */
    assert_int_equal(load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), 0);
    assert_int_equal(cfg.http_port, 9002);
    assert_string_equal(cfg.admin_user, "filed");
    assert_int_equal(cfg.max_attempts, 9);
    mtm_config_cleanup(&cfg);
}

static void test_file_unknown_variable(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[512];
    write_cfg("# comment\nMTM_HTTP_PORT=9001\nMTM_HTTP_PROT=9002\n");
    assert_int_equal(mtm_config_load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), MTM_EINVAL);
    assert_names(err, "MTM_CONFIG");
    assert_contains(err, "line 3");
    assert_contains(err, "MTM_HTTP_PROT");
    assert_null(cfg.pg_url);
}

static void test_file_line_without_equals(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[512];
    write_cfg("MTM_HTTP_PORT=9001\n\nMTM_LOG_LEVEL debug\n");
    assert_int_equal(mtm_config_load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), MTM_EINVAL);
    assert_names(err, "MTM_CONFIG");
    assert_contains(err, "line 3");
}

static void test_file_bad_value_names_variable(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[512];
    write_cfg("MTM_MAX_BODY=lots\n");
    assert_int_equal(mtm_config_load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), MTM_EINVAL);
    assert_names(err, "MTM_MAX_BODY");
}

static void test_missing_file(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[512];
    char missing[128];
    snprintf(missing, sizeof(missing), "%s.does-not-exist", cfg_path);
    assert_int_equal(setenv("MTM_CONFIG", missing, 1), 0);
    assert_int_equal(mtm_config_load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), MTM_EINVAL);
    assert_names(err, "MTM_CONFIG");
    assert_contains(err, missing);
    assert_null(cfg.pg_url);
    mtm_config_cleanup(&cfg);
}

static void test_empty_mtm_config_is_unset(void **state)
{
    (void)state;
    struct mtm_config cfg;
    char err[256];
    assert_int_equal(setenv("MTM_CONFIG", "", 1), 0);
    assert_int_equal(load_env(&cfg, MTM_PROG_CONSUMERD, err, sizeof(err)), 0);
    assert_int_equal(cfg.http_port, 8080);
    mtm_config_cleanup(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_key_table),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_bad_http_port),
        cmocka_unit_test(test_bad_values_name_the_variable),
        cmocka_unit_test(test_admin_password_length),
        cmocka_unit_test(test_trusted_proxies),
        cmocka_unit_test(test_overlong_string),
        cmocka_unit_test(test_secret_never_echoed),
        cmocka_unit_test(test_secret_required_only_for_api),
        cmocka_unit_test(test_concurrency_relation),
        cmocka_unit_test(test_empty_is_unset),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test_setup_teardown(test_env_without_file, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_file_values_used, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_environment_wins_over_file, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_file_unknown_variable, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_file_line_without_equals, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_file_bad_value_names_variable, env_setup,
                                        env_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_empty_mtm_config_is_unset, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
