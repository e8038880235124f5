/*
 * test_metrics: consumerd's Prometheus textfile (consumerd/metrics.c).
 *
 * Rendering is checked line by line against the text exposition format;
 * writing is checked in a temporary folder: the file appears whole under
 * its final name, replaces the previous one by rename, and no temporary
 * file is left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../consumerd/metrics.h"
#include "../../consumerd/reconcile.h"

static const char *const metric_names[] = {
    "mtm_consumerd_up",
    "mtm_consumerd_heartbeat_timestamp_seconds",
    "mtm_consumerd_last_reconcile_timestamp_seconds",
    "mtm_consumerd_postgres_connected",
    "mtm_consumerd_rabbitmq_connected",
    "mtm_consumerd_worker_threads",
    "mtm_consumerd_db_connections",
    "mtm_consumerd_broker_connections",
    "mtm_consumerd_broker_connections_up",
};

static char *render(const struct consumerd_metrics *m)
{
    struct mtm_buf b;
    mtm_buf_init(&b, 1 << 16);
    int rc = consumerd_metrics_render(m, "c-1", &b);
    assert_int_equal(rc, 0);
    return mtm_buf_steal(&b);
}

/* Finds the sample line of name ("name{consumerd=\"c-1\"} value\n": every
 * sample names the consumerd) and returns its value. */
static const char *sample(const char *text, const char *name, char *val, size_t vallen)
{
    char prefix[160];
    snprintf(prefix, sizeof(prefix), "%s{consumerd=\"c-1\"} ", name);
    size_t n = strlen(prefix);
    for (const char *l = text; *l;) {
        const char *eol = strchr(l, '\n');
        assert_non_null(eol); /* every line ends with \n */
        if (l[0] != '#' && strncmp(l, prefix, n) == 0) {
            snprintf(val, vallen, "%.*s", (int)(eol - l - (long)n), l + n);
            return val;
        }
        l = eol + 1;
    }
    return NULL;
}

static void check_help_and_type(const char *text, const char *name)
{
    char help[128], type[128];
    snprintf(help, sizeof(help), "# HELP %s ", name);
    snprintf(type, sizeof(type), "# TYPE %s ", name);
    assert_contains(text, help);
    assert_contains(text, type);
    /* HELP comes before TYPE, which comes before the sample. */
    char val[64];
    assert_non_null(sample(text, name, val, sizeof(val)));
    assert_true(strstr(text, help) < strstr(text, type));
}

static void test_render_all_metrics(void **state)
{
    (void)state;
    struct consumerd_metrics m = {.heartbeat_ms = 1700000000123,
                                  .last_reconcile_ms = 1700000000456,
                                  .pg_connected = true,
                                  .amqp_connected = false,
                                  .worker_threads = 12,
                                  .db_connections = 3,
                                  .store_transactions = 40,
                                  .store_batches = 250,
                                  .broker_connections = 4,
                                  .broker_connections_up = 2};
    char *text = render(&m);
    char val[64];
    for (size_t i = 0; i < sizeof(metric_names) / sizeof(metric_names[0]); i++) {
        if (!sample(text, metric_names[i], val, sizeof(val)))
            print_message("%s missing from:\n%s", metric_names[i], text);
        check_help_and_type(text, metric_names[i]);
        char gauge[128];
        snprintf(gauge, sizeof(gauge), "# TYPE %s gauge\n", metric_names[i]);
        assert_contains(text, gauge);
    }
    assert_string_equal(sample(text, "mtm_consumerd_up", val, sizeof(val)), "1");
    assert_string_equal(sample(text, "mtm_consumerd_heartbeat_timestamp_seconds", val, sizeof(val)),
                        "1700000000.123");
    assert_string_equal(
        sample(text, "mtm_consumerd_last_reconcile_timestamp_seconds", val, sizeof(val)),
        "1700000000.456");
    assert_string_equal(sample(text, "mtm_consumerd_postgres_connected", val, sizeof(val)), "1");
    assert_string_equal(sample(text, "mtm_consumerd_rabbitmq_connected", val, sizeof(val)), "0");
    assert_string_equal(sample(text, "mtm_consumerd_worker_threads", val, sizeof(val)), "12");
    assert_string_equal(sample(text, "mtm_consumerd_db_connections", val, sizeof(val)), "3");
    assert_string_equal(sample(text, "mtm_consumerd_broker_connections", val, sizeof(val)), "4");
    const char *counters[][2] = {{"mtm_consumerd_store_transactions_total", "40"},
                                 {"mtm_consumerd_store_batches_total", "250"}};
    for (size_t i = 0; i < 2; i++) {
        check_help_and_type(text, counters[i][0]);
        char type[128];
        snprintf(type, sizeof(type), "# TYPE %s counter\n", counters[i][0]);
        assert_contains(text, type);
        assert_string_equal(sample(text, counters[i][0], val, sizeof(val)), counters[i][1]);
    }
    assert_string_equal(sample(text, "mtm_consumerd_broker_connections_up", val, sizeof(val)), "2");
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);

    m.pg_connected = false;
    m.amqp_connected = true;
    text = render(&m);
    assert_string_equal(sample(text, "mtm_consumerd_postgres_connected", val, sizeof(val)), "0");
    assert_string_equal(sample(text, "mtm_consumerd_rabbitmq_connected", val, sizeof(val)), "1");
    free(text);
}

/* Every sample line, whatever metrics are added later:
 * "mtm_name{consumerd=\"c-1\"} value" with a HELP and a TYPE line before
 * it, and a value that is a number. */
static void test_render_exposition_format(void **state)
{
    (void)state;
    struct consumerd_metrics m = {.heartbeat_ms = 5, .last_reconcile_ms = 7, .worker_threads = 1};
    char *text = render(&m);
    size_t samples = 0;
    for (char *l = text; *l;) {
        char *eol = strchr(l, '\n');
        assert_non_null(eol);
        *eol = '\0';
        if (l[0] == '#') {
            if (strncmp(l, "# HELP mtm_", 11) != 0 && strncmp(l, "# TYPE mtm_", 11) != 0) {
                print_message("bad comment line: %s\n", l);
                fail();
            }
        } else {
            char name[128];
            double v;
            char extra;
            if (sscanf(l, "%127s %lf %c", name, &v, &extra) != 2 || strncmp(name, "mtm_", 4) != 0 ||
                !strstr(name, "{consumerd=\"c-1\"}")) {
                print_message("bad sample line: %s\n", l);
                fail();
            }
            *strchr(name, '{') = '\0';
            *eol = '\n';
            check_help_and_type(text, name);
            samples++;
        }
        *eol = '\n';
        l = eol + 1;
    }
    assert_true(samples >= sizeof(metric_names) / sizeof(metric_names[0]));
    free(text);
}

static void test_render_without_reconcile(void **state)
{
    (void)state;
    struct consumerd_metrics m = {.heartbeat_ms = 1000};
    char *text = render(&m);
    char val[64];
    assert_null(sample(text, "mtm_consumerd_last_reconcile_timestamp_seconds", val, sizeof(val)));
    assert_null(strstr(text, "last_reconcile"));
    assert_string_equal(sample(text, "mtm_consumerd_heartbeat_timestamp_seconds", val, sizeof(val)),
                        "1.000");
    free(text);
}

static void test_render_respects_buffer_cap(void **state)
{
    (void)state;
    struct consumerd_metrics m = {.heartbeat_ms = 1, .last_reconcile_ms = 1};
    struct mtm_buf b;
    mtm_buf_init(&b, 100);
    assert_int_equal(consumerd_metrics_render(&m, "c-1", &b), MTM_ETOOBIG);
    assert_true(b.len <= 100);
    mtm_buf_cleanup(&b);
}

/* ---- consumerd_metrics_write ---------------------------------------------- */

/* The names in test_dir(), sorted, joined by spaces. */
static void list_dir(char *out, size_t outlen)
{
    char names[16][256];
    size_t n = 0;
    DIR *d = opendir(test_dir());
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        assert_true(n < 16);
        snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char t[256];
                memcpy(t, names[i], sizeof(t));
                memcpy(names[i], names[j], sizeof(t));
                memcpy(names[j], t, sizeof(t));
            }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), outlen - strlen(out), "%s%s", i ? " " : "", names[i]);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void test_write_creates_file_atomically(void **state)
{
    (void)state;
    char err[256] = "";
    char path[128], listing[1024];
    snprintf(path, sizeof(path), "%s/mtm-consumerd-c-1.prom", test_dir());

    struct consumerd_metrics m = {.heartbeat_ms = 1700000000000, .pg_connected = true};
    char *first = render(&m);
    int rc = consumerd_metrics_write(test_dir(), "c-1", first, strlen(first), err, sizeof(err));
    if (rc)
        print_message("write: %s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(slurp(path), first);
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "mtm-consumerd-c-1.prom"); /* no temporary file left */

    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644); /* node_exporter can read it */
    assert_int_equal((size_t)st.st_size, strlen(first));

    /* A reader holding the old file keeps the old contents: the new file
     * replaced it by rename, it was not rewritten in place. */
    int old = open(path, O_RDONLY);
    assert_true(old >= 0);
    m.last_reconcile_ms = 1700000000999;
    m.amqp_connected = true;
    char *second = render(&m);
    assert_int_equal(
        consumerd_metrics_write(test_dir(), "c-1", second, strlen(second), err, sizeof(err)), 0);
    char buf[4096];
    ssize_t n = pread(old, buf, sizeof(buf) - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_string_equal(buf, first);
    close(old);
    assert_string_equal(slurp(path), second);
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "mtm-consumerd-c-1.prom");
    free(first);
    free(second);
}

static void test_write_empty_text(void **state)
{
    (void)state;
    char err[256], path[128], listing[1024];
    snprintf(path, sizeof(path), "%s/mtm-consumerd-c-1.prom", test_dir());
    assert_int_equal(consumerd_metrics_write(test_dir(), "c-1", "", 0, err, sizeof(err)), 0);
    assert_string_equal(slurp(path), "");
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "mtm-consumerd-c-1.prom");
}

static void test_write_missing_dir(void **state)
{
    (void)state;
    char err[256] = "", missing[128], listing[1024];
    snprintf(missing, sizeof(missing), "%s/not-there", test_dir());
    assert_int_equal(consumerd_metrics_write(missing, "c-1", "x 1\n", 4, err, sizeof(err)),
                     MTM_EIO);
    assert_contains(err, "not-there");
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "");
}

static void test_write_rename_failure_cleans_up(void **state)
{
    (void)state;
    char err[256] = "", path[128], listing[1024];
    /* mtm-consumerd-c-1.prom is a non-empty folder: the rename over it fails, and the
     * temporary file must not be left behind. */
    snprintf(path, sizeof(path), "%s/mtm-consumerd-c-1.prom", test_dir());
    assert_int_equal(mkdir(path, 0755), 0);
    char inner[192];
    snprintf(inner, sizeof(inner), "%s/keep", path);
    FILE *f = fopen(inner, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(consumerd_metrics_write(test_dir(), "c-1", "x 1\n", 4, err, sizeof(err)),
                     MTM_EIO);
    assert_contains(err, "rename");
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "mtm-consumerd-c-1.prom");
    unlink(inner);
}

/* Two consumerd share the folder: each has its own file, and a clean stop
 * removes only its own. */
static void test_write_and_remove_per_name(void **state)
{
    (void)state;
    char err[256] = "", listing[1024];
    assert_int_equal(consumerd_metrics_write(test_dir(), "c-1", "a 1\n", 4, err, sizeof(err)), 0);
    assert_int_equal(consumerd_metrics_write(test_dir(), "host.b", "b 1\n", 4, err, sizeof(err)),
                     0);
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "mtm-consumerd-c-1.prom mtm-consumerd-host.b.prom");
    assert_int_equal(consumerd_metrics_remove(test_dir(), "c-1", err, sizeof(err)), 0);
    list_dir(listing, sizeof(listing));
    assert_string_equal(listing, "mtm-consumerd-host.b.prom");
    /* Already gone: not an error. */
    assert_int_equal(consumerd_metrics_remove(test_dir(), "c-1", err, sizeof(err)), 0);
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/not-there", test_dir());
    assert_int_equal(consumerd_metrics_remove(missing, "c-1", err, sizeof(err)), 0);
}

/* ---- consumerd_metrics_name --------------------------------------------- */

static void test_name_configured_or_from_host(void **state)
{
    (void)state;
    char name[CONSUMERD_NAME_MAX + 1];
    consumerd_metrics_name("worker_2.eu-1", "ignored", name);
    assert_string_equal(name, "worker_2.eu-1");
    consumerd_metrics_name(NULL, "web-1.example.com", name);
    assert_string_equal(name, "web-1.example.com");
    consumerd_metrics_name("", "db7", name);
    assert_string_equal(name, "db7");
    /* What a file name or a label value cannot hold becomes '-'. */
    consumerd_metrics_name(NULL, "h\"x/y z\\", name);
    assert_string_equal(name, "h-x-y-z-");
    consumerd_metrics_name(NULL, "", name);
    assert_string_equal(name, "consumerd");
    char longhost[200];
    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    consumerd_metrics_name(NULL, longhost, name);
    assert_int_equal(strlen(name), CONSUMERD_NAME_MAX);
}

/* ---- reconciler_metrics: the publish -> stored histogram ------------------ */

/* The histogram's text is pinned whole: the alert rules and the dashboard
 * read these buckets (deploy/prometheus/alerts.yml, deploy/grafana/). */
static void test_latency_histogram_pinned(void **state)
{
    (void)state;
    struct mtm_config cfg = {.max_concurrency = 1};
    struct reconciler r = {.env = {.cfg = &cfg},
                           .consumer = "01a235dd-bc16-706a-8140-c80a2043db66"};
    struct tenant_pool *pools[2] = {pool_new(&r.env, "0b5e7c3a-1111-4222-8333-944445555666"),
                                    pool_new(&r.env, "aaaaaaaa-1111-4222-8333-944445555666")};
    assert_non_null(pools[0]);
    assert_non_null(pools[1]);
    r.pools = pools;
    r.npools = 2;
    pool_observe_latency(pools[0], 0);
    pool_observe_latency(pools[0], 5); /* on a bound: counted in it */
    pool_observe_latency(pools[0], 6);
    pool_observe_latency(pools[0], 70000); /* past the last bound */
    pool_observe_latency(pools[0], -3);    /* another host's clock: counted as 0 */

    struct mtm_buf b;
    mtm_buf_init(&b, 1 << 16);
    assert_int_equal(reconciler_metrics(&r, "c-1", &b), 0);
    /* Each tenant names the consumerd that consumes it. */
    assert_non_null(
        strstr(mtm_buf_cstr(&b),
               "mtm_tenant_info{tenant=\"0b5e7c3a-1111-4222-8333-944445555666\",name=\"\","
               "consumer=\"01a235dd-bc16-706a-8140-c80a2043db66\",consumerd=\"c-1\"} 1\n"));
    const char *hist = strstr(mtm_buf_cstr(&b), "# HELP mtm_publish_to_stored_seconds ");
    assert_non_null(hist);
    assert_string_equal(hist, "# HELP mtm_publish_to_stored_seconds Time from publish to stored.\n"
                              "# TYPE mtm_publish_to_stored_seconds histogram\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.005\"} 3\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.01\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.025\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.05\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.1\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.25\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.5\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"1\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"2.5\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"10\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"60\"} 4\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"+Inf\"} 5\n"
                              "mtm_publish_to_stored_seconds_sum{tenant=\"0b5e7c3a-1111-4222-8333-"
                              "944445555666\",consumerd=\"c-1\"} "
                              "70.011\n"
                              "mtm_publish_to_stored_seconds_count{tenant=\"0b5e7c3a-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\"} 5\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.005\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.01\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.025\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.05\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.1\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.25\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"0.5\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"1\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"2.5\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"10\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"60\"} 0\n"
                              "mtm_publish_to_stored_seconds_bucket{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\",le="
                              "\"+Inf\"} 0\n"
                              "mtm_publish_to_stored_seconds_sum{tenant=\"aaaaaaaa-1111-4222-8333-"
                              "944445555666\",consumerd=\"c-1\"} 0.000\n"
                              "mtm_publish_to_stored_seconds_count{tenant=\"aaaaaaaa-1111-4222-"
                              "8333-944445555666\",consumerd=\"c-1\"} 0\n");
    mtm_buf_cleanup(&b);
    pool_free(pools[0]);
    pool_free(pools[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_all_metrics),
        cmocka_unit_test(test_render_exposition_format),
        cmocka_unit_test(test_render_without_reconcile),
        cmocka_unit_test(test_render_respects_buffer_cap),
        cmocka_unit_test(test_latency_histogram_pinned),
        cmocka_unit_test_setup_teardown(test_write_creates_file_atomically, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_write_empty_text, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_write_missing_dir, test_dir_setup, test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_write_rename_failure_cleans_up, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test_setup_teardown(test_write_and_remove_per_name, test_dir_setup,
                                        test_dir_teardown),
        cmocka_unit_test(test_name_configured_or_from_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
