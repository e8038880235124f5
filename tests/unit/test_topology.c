/*
 * test_topology: a tenant's broker objects (lib/topology.c), without a
 * broker.
 *
 * Queue names are pure functions of the tenant id and are checked exactly.
 * Every broker operation refuses a tenant id that is not a UUID before it
 * touches the connection (which stays closed), so no input reaches a queue
 * name. Against a port where nothing listens, declaring answers
 * MTM_EUNAVAIL quickly rather than hanging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "topology.h"

#define TENANT "0b5e7c3a-1111-4222-8333-944445555666"

static const char *const not_ids[] = {
    "",
    "tenant",
    "0b5e7c3a-1111-4222-8333-94444555566",   /* one digit short */
    "0b5e7c3a-1111-4222-8333-9444455556666", /* one digit long */
    "0b5e7c3a_1111_4222_8333_944445555666",
    "0b5e7c3a-1111-4222-8333-94444555566g",
    "0b5e7c3a-1111-4222-8333-944445555666 ",
    "../../../x-1111-4222-8333-944445555666",
    "0b5e7c3a-1111-4222-8333-944445555666_queue",
};
#define NOT_IDS (sizeof(not_ids) / sizeof(not_ids[0]))

static void test_queue_names(void **state)
{
    (void)state;
    char name[MTM_QUEUE_NAME_MAX];
    assert_int_equal(mtm_queue_name(TENANT, MTM_QUEUE_MAIN, name), 0);
    assert_string_equal(name, "tenant_" TENANT "_queue");
    assert_int_equal(mtm_queue_name(TENANT, MTM_QUEUE_RETRY, name), 0);
    assert_string_equal(name, "tenant_" TENANT "_retry");
    assert_true(strlen(name) < MTM_QUEUE_NAME_MAX);
}

static void test_queue_types(void **state)
{
    (void)state;
    enum mtm_queue_type t = MTM_QUEUE_QUORUM;
    assert_int_equal(mtm_queue_type_parse("classic", &t), 0);
    assert_int_equal(t, MTM_QUEUE_CLASSIC);
    assert_int_equal(mtm_queue_type_parse("quorum", &t), 0);
    assert_int_equal(t, MTM_QUEUE_QUORUM);
    static const char *const bad[] = {"", "Quorum", "quorum ", "stream", "classic,quorum"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = MTM_QUEUE_QUORUM;
        assert_int_equal(mtm_queue_type_parse(bad[i], &t), MTM_EINVAL);
        assert_int_equal(t, MTM_QUEUE_QUORUM);
    }
    assert_string_equal(mtm_queue_type_name(MTM_QUEUE_CLASSIC), "classic");
    assert_string_equal(mtm_queue_type_name(MTM_QUEUE_QUORUM), "quorum");
}

static void test_queue_name_refuses_non_uuids(void **state)
{
    (void)state;
    for (size_t i = 0; i < NOT_IDS; i++) {
        char name[MTM_QUEUE_NAME_MAX] = "untouched";
        if (mtm_queue_name(not_ids[i], MTM_QUEUE_MAIN, name) != MTM_EINVAL)
            print_message("accepted \"%s\"\n", not_ids[i]);
        assert_int_equal(mtm_queue_name(not_ids[i], MTM_QUEUE_MAIN, name), MTM_EINVAL);
        assert_int_equal(mtm_queue_name(not_ids[i], MTM_QUEUE_RETRY, name), MTM_EINVAL);
        assert_string_equal(name, "untouched");
    }
}

/* A local port nobody listens on: bound, then closed. */
static int dead_port(void)
{
    int port;
    int s = silent_listener(&port);
    close(s);
    return port;
}

/* A broker client whose URL is a port nobody listens on. */
static void init_unreachable(struct mtm_amqp *a)
{
    char url[64];
    snprintf(url, sizeof(url), "amqp://mtm:mtm@127.0.0.1:%d/", dead_port());
    mtm_amqp_init(a, url, 500, 0);
}

static void test_operations_refuse_non_uuids_offline(void **state)
{
    (void)state;
    struct mtm_amqp a;
    init_unreachable(&a);
    for (size_t i = 0; i < NOT_IDS; i++) {
        char err[128] = "";
        uint32_t depth = 12345;
        assert_int_equal(
            mtm_topology_declare(&a, not_ids[i], MTM_QUEUE_QUORUM, 1, err, sizeof(err)),
            MTM_EINVAL);
        assert_string_equal(err, "not a tenant id");
        err[0] = '\0';
        assert_int_equal(mtm_topology_delete(&a, not_ids[i], err, sizeof(err)), MTM_EINVAL);
        assert_string_equal(err, "not a tenant id");
        err[0] = '\0';
        assert_int_equal(mtm_topology_depth(&a, not_ids[i], &depth, err, sizeof(err)), MTM_EINVAL);
        assert_string_equal(err, "not a tenant id");
        assert_int_equal(depth, 12345);
        assert_false(mtm_amqp_is_open(&a)); /* never tried to connect */
    }
    mtm_amqp_cleanup(&a);
}

static void test_declare_refuses_unknown_classic_versions_offline(void **state)
{
    (void)state;
    struct mtm_amqp a;
    init_unreachable(&a);
    const int bad[] = {0, 3, -1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[128] = "";
        assert_int_equal(
            mtm_topology_declare(&a, TENANT, MTM_QUEUE_CLASSIC, bad[i], err, sizeof(err)),
            MTM_EINVAL);
        assert_non_null(strstr(err, "1 or 2"));
    }
    assert_false(mtm_amqp_is_open(&a)); /* never tried to connect */
    mtm_amqp_cleanup(&a);
}

static void test_broker_unreachable(void **state)
{
    (void)state;
    struct mtm_amqp a;
    init_unreachable(&a);
    char err[256] = "";
    uint32_t depth = 12345;
    assert_int_equal(mtm_topology_declare(&a, TENANT, MTM_QUEUE_CLASSIC, 2, err, sizeof(err)),
                     MTM_EUNAVAIL);
    assert_true(err[0] != '\0');
    assert_int_equal(mtm_topology_depth(&a, TENANT, &depth, err, sizeof(err)), MTM_EUNAVAIL);
    assert_int_equal(depth, 12345);
    assert_int_equal(mtm_topology_delete(&a, TENANT, err, sizeof(err)), MTM_EUNAVAIL);
    assert_false(mtm_amqp_is_open(&a));
    mtm_amqp_cleanup(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_names),
        cmocka_unit_test(test_queue_types),
        cmocka_unit_test(test_queue_name_refuses_non_uuids),
        cmocka_unit_test(test_declare_refuses_unknown_classic_versions_offline),
        cmocka_unit_test(test_operations_refuse_non_uuids_offline),
        cmocka_unit_test(test_broker_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
