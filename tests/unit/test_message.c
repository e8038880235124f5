/*
 * message: the table of mtm's headers that the API's publish, the
 * dead-letter replay and consumerd's retry write, and the properties
 * around it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "message.h"

static const amqp_table_entry_t *find(const amqp_table_entry_t *e, int n, const char *key)
{
    const amqp_table_entry_t *found = NULL;
    for (int i = 0; i < n; i++) {
        if (e[i].key.len == strlen(key) && memcmp(e[i].key.bytes, key, e[i].key.len) == 0) {
            assert_null(found); /* each key once */
            found = &e[i];
        }
    }
    return found;
}

static void assert_str(const amqp_table_entry_t *e, const char *want)
{
    assert_non_null(e);
    assert_int_equal(e->value.kind, AMQP_FIELD_KIND_UTF8);
    assert_int_equal(e->value.value.bytes.len, strlen(want));
    assert_memory_equal(e->value.value.bytes.bytes, want, strlen(want));
}

static void test_publish_headers(void **state)
{
    (void)state;
    amqp_table_entry_t e[MTM_MESSAGE_TABLE_MAX];
    struct mtm_message_headers h = {.published_at_ms = 1700000000123,
                                    .headers_json = "{\"a\":\"b\"}",
                                    .traceparent = "00-abc-def-01"};
    int n = mtm_message_table(&h, NULL, e);
    assert_int_equal(n, 3);
    const amqp_table_entry_t *pub = find(e, n, MTM_HDR_PUBLISHED_AT);
    assert_non_null(pub);
    assert_int_equal(pub->value.kind, AMQP_FIELD_KIND_I64);
    assert_int_equal(pub->value.value.i64, 1700000000123);
    assert_str(find(e, n, MTM_HDR_HEADERS), "{\"a\":\"b\"}");
    assert_str(find(e, n, MTM_HDR_TRACEPARENT), "00-abc-def-01");
    assert_null(find(e, n, MTM_HDR_ATTEMPTS));

    amqp_basic_properties_t p;
    mtm_message_props(&p, "m-1", h.published_at_ms, e, n);
    assert_true(p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG);
    assert_true(p._flags & AMQP_BASIC_MESSAGE_ID_FLAG);
    assert_true(p._flags & AMQP_BASIC_HEADERS_FLAG);
    assert_true(p._flags & AMQP_BASIC_TIMESTAMP_FLAG);
    assert_int_equal(p.timestamp, 1700000000);
    assert_memory_equal(p.message_id.bytes, "m-1", 3);
    assert_memory_equal(p.content_type.bytes, "application/json", 16);
    assert_int_equal(p.headers.num_entries, 3);
    assert_ptr_equal(p.headers.entries, e);
}

static void test_absent_headers_are_left_out(void **state)
{
    (void)state;
    amqp_table_entry_t e[MTM_MESSAGE_TABLE_MAX];
    /* An empty traceparent (a request without one) is absent too. */
    struct mtm_message_headers h = {.traceparent = ""};
    assert_int_equal(mtm_message_table(&h, NULL, e), 0);

    amqp_basic_properties_t p;
    mtm_message_props(&p, "m-2", 0, e, 0);
    assert_false(p._flags & AMQP_BASIC_TIMESTAMP_FLAG); /* no publish time known */
    assert_int_equal(p.headers.num_entries, 0);
}

/* A retry keeps a foreign producer's headers and replaces mtm's. */
static void test_retry_replaces_bookkeeping(void **state)
{
    (void)state;
    amqp_table_entry_t old[4];
    old[0].key = amqp_cstring_bytes("x-app");
    old[0].value.kind = AMQP_FIELD_KIND_UTF8;
    old[0].value.value.bytes = amqp_cstring_bytes("kept");
    old[1].key = amqp_cstring_bytes(MTM_HDR_ATTEMPTS);
    old[1].value.kind = AMQP_FIELD_KIND_I32;
    old[1].value.value.i32 = 2;
    old[2].key = amqp_cstring_bytes(MTM_HDR_LAST_ERROR);
    old[2].value.kind = AMQP_FIELD_KIND_UTF8;
    old[2].value.value.bytes = amqp_cstring_bytes("old reason");
    old[3].key = amqp_cstring_bytes(MTM_HDR_PUBLISHED_AT);
    old[3].value.kind = AMQP_FIELD_KIND_I64;
    old[3].value.value.i64 = 42;
    amqp_table_t keep = {.num_entries = 4, .entries = old};

    amqp_table_entry_t e[4 + MTM_MESSAGE_TABLE_MAX];
    struct mtm_message_headers h = {
        .attempts = 3, .first_failed_ms = 1000, .last_error = "store: boom"};
    int n = mtm_message_table(&h, &keep, e);
    assert_int_equal(n, 5); /* x-app, published-at kept; three written */
    assert_str(find(e, n, "x-app"), "kept");
    assert_int_equal(find(e, n, MTM_HDR_PUBLISHED_AT)->value.value.i64, 42);
    assert_int_equal(find(e, n, MTM_HDR_ATTEMPTS)->value.value.i32, 3);
    assert_int_equal(find(e, n, MTM_HDR_FIRST_FAILED)->value.value.i64, 1000);
    assert_str(find(e, n, MTM_HDR_LAST_ERROR), "store: boom");

    /* A table without entries is nothing to keep. */
    amqp_table_t none = {.num_entries = 3, .entries = NULL};
    assert_int_equal(mtm_message_table(&h, &none, e), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_headers),
        cmocka_unit_test(test_absent_headers_are_left_out),
        cmocka_unit_test(test_retry_replaces_bookkeeping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
