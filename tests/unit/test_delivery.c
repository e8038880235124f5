/* Unit tests for consumerd/delivery.c: what a delivery from a tenant's queue
 * is allowed to say about itself, including the hostile deliveries that
 * once stalled a tenant (docs/security.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../consumerd/delivery.h"
#include "json.h"

#define MAX_BODY 1024
#define NOW INT64_C(1764633600000) /* 2025-12-02 */
#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* A delivery under construction: properties with up to 8 headers. */
struct fixture {
    amqp_basic_properties_t p;
    amqp_table_entry_t e[8];
    amqp_bytes_t body;
    struct delivery d;
};

static void init(struct fixture *f, const char *id, const char *body)
{
    memset(f, 0, sizeof(*f));
    if (id) {
        f->p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        f->p.message_id = amqp_cstring_bytes(id);
    }
    f->p._flags |= AMQP_BASIC_HEADERS_FLAG;
    f->p.headers.entries = f->e;
    f->body = amqp_cstring_bytes(body);
}

static amqp_field_value_t *add(struct fixture *f, const char *key, uint8_t kind)
{
    amqp_table_entry_t *e = &f->e[f->p.headers.num_entries++];
    e->key = amqp_cstring_bytes(key);
    e->value.kind = kind;
    return &e->value;
}

static void add_i64(struct fixture *f, const char *key, int64_t v)
{
    add(f, key, AMQP_FIELD_KIND_I64)->value.i64 = v;
}

static void add_bytes(struct fixture *f, const char *key, const void *b, size_t n)
{
    amqp_field_value_t *v = add(f, key, AMQP_FIELD_KIND_BYTES);
    v->value.bytes.bytes = (void *)b;
    v->value.bytes.len = n;
}

static void judge(struct fixture *f)
{
    delivery_judge(&f->d, &f->p, &f->body, MAX_BODY, NOW);
}

static void assert_parses(const char *text)
{
    char err[128];
    struct json_object *o = NULL;
    if (mtm_json_parse(text, strlen(text), 8, &o, err, sizeof(err)))
        fail_msg("not valid JSON (%s): %.200s", err, text);
    json_object_put(o);
}

static void test_valid_delivery(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, "m-1", "{\"a\":[1,2]}");
    add_i64(&f, MTM_HDR_PUBLISHED_AT, NOW - 5);
    add_bytes(&f, MTM_HDR_HEADERS, "{\"k\":\"v\"}", 9);
    add_bytes(&f, MTM_HDR_TRACEPARENT, TP, strlen(TP));
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_OK);
    assert_string_equal(f.d.id, "m-1");
    assert_int_equal(f.d.published_ms, NOW - 5);
    assert_int_equal(f.d.failures, 0);
    assert_string_equal(f.d.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_non_null(f.d.headers);

    struct mtm_buf arr;
    mtm_buf_init(&arr, delivery_element_bound(&f.d, f.body.len) + 2);
    assert_int_equal(mtm_buf_puts(&arr, "["), 0);
    assert_int_equal(delivery_append_element(&f.d, &f.body, &arr), 0);
    assert_int_equal(mtm_buf_puts(&arr, "]"), 0);
    const char *text = mtm_buf_cstr(&arr);
    assert_parses(text);
    assert_non_null(strstr(text, "{\"payload\":{\"a\":[1,2]},\"id\":\"m-1\""));
    assert_non_null(strstr(text, "\"size\":20")); /* 11 bytes of body + 9 of headers */
    mtm_buf_cleanup(&arr);
    delivery_cleanup(&f.d);
}

/* x-mtm-attempts 10 with x-mtm-first-failed-at 2^63-1 made the dead-letter
 * insert fail (timestamp out of range) and the tenant stall. */
static void test_times_out_of_range_are_dropped(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, "m-2", "not json");
    add(&f, MTM_HDR_ATTEMPTS, AMQP_FIELD_KIND_I32)->value.i32 = 10;
    add_i64(&f, MTM_HDR_FIRST_FAILED, INT64_MAX);
    add_i64(&f, MTM_HDR_PUBLISHED_AT, INT64_C(100000000000000000)); /* 10^17 */
    f.p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    f.p.timestamp = UINT64_MAX; /* would overflow when made ms */
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_NOT_JSON);
    assert_int_equal(f.d.failures, 10);
    assert_int_equal(f.d.first_failed_ms, 0);
    assert_int_equal(f.d.published_ms, NOW);
    delivery_cleanup(&f.d);

    init(&f, "m-3", "1");
    add(&f, MTM_HDR_FIRST_FAILED, AMQP_FIELD_KIND_TIMESTAMP)->value.u64 = UINT64_MAX;
    add(&f, MTM_HDR_PUBLISHED_AT, AMQP_FIELD_KIND_U64)->value.u64 = UINT64_MAX;
    f.p._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
    f.p.timestamp = 1764633000; /* seconds */
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_OK);
    assert_int_equal(f.d.first_failed_ms, 0);
    assert_int_equal(f.d.published_ms, INT64_C(1764633000000));
    delivery_cleanup(&f.d);

    init(&f, "m-4", "1");
    add_i64(&f, MTM_HDR_PUBLISHED_AT, -1);
    add_i64(&f, MTM_HDR_FIRST_FAILED, DELIVERY_TIME_MAX_MS + 1);
    judge(&f);
    assert_int_equal(f.d.published_ms, NOW);
    assert_int_equal(f.d.first_failed_ms, 0);
    delivery_cleanup(&f.d);
}

static void test_attempts_are_clamped(void **state)
{
    (void)state;
    const struct {
        int64_t in;
        int want;
    } cases[] = {{-7, 0},
                 {0, 0},
                 {4, 4},
                 {DELIVERY_ATTEMPTS_MAX, DELIVERY_ATTEMPTS_MAX},
                 {INT64_MAX, DELIVERY_ATTEMPTS_MAX}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        init(&f, "m", "1");
        add_i64(&f, MTM_HDR_ATTEMPTS, cases[i].in);
        judge(&f);
        if (f.d.failures != cases[i].want)
            fail_msg("attempts %lld: failures %d, want %d", (long long)cases[i].in, f.d.failures,
                     cases[i].want);
        delivery_cleanup(&f.d);
    }
}

/* A traceparent of bytes that are not UTF-8 was copied raw into jsonb. */
static void test_invalid_traceparent_is_not_kept(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, "m-5", "not json");
    add_bytes(&f, MTM_HDR_TRACEPARENT, "\xff\xfe", 2);
    judge(&f);
    assert_string_equal(f.d.traceparent, "");
    assert_string_equal(f.d.trace_id, "");
    char *props = delivery_dead_letter_properties(&f.d, f.body.len, f.body.len);
    assert_parses(props);
    assert_null(strstr(props, "traceparent"));
    free(props);
    delivery_cleanup(&f.d);

    char bad[MTM_TRACEPARENT_LEN + 1];
    memcpy(bad, TP, sizeof(bad));
    bad[10] = '\xff';
    init(&f, "m-6", "1");
    add_bytes(&f, MTM_HDR_TRACEPARENT, bad, MTM_TRACEPARENT_LEN);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_OK);
    assert_string_equal(f.d.trace_id, "");
    delivery_cleanup(&f.d);
}

/* 100 KB of producer headers: over the API's own limits, so a fault; kept
 * raw for the dead letter, since it is text. */
static void test_oversized_headers(void **state)
{
    (void)state;
    size_t n = 100000;
    char *h = malloc(n + 1);
    memcpy(h, "{\"k\":\"", 6);
    memset(h + 6, 'v', n - 8);
    memcpy(h + n - 2, "\"}", 3);
    struct fixture f;
    init(&f, "m-7", "{}");
    add_bytes(&f, MTM_HDR_HEADERS, h, n);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_BAD_HEADERS);
    assert_string_equal(delivery_fault_code(f.d.fault), "invalid_headers");
    assert_null(f.d.headers);
    assert_non_null(f.d.headers_raw);
    char *props = delivery_dead_letter_properties(&f.d, f.body.len, f.body.len);
    assert_parses(props);
    free(props);
    delivery_cleanup(&f.d);
    free(h);

    init(&f, "m-8", "{}");
    add_bytes(&f, MTM_HDR_HEADERS, "{\"k\":\"\xc3\x28\"}", 10); /* invalid UTF-8 */
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_BAD_HEADERS);
    assert_null(f.d.headers_raw);
    delivery_cleanup(&f.d);

    init(&f, "m-9", "{}");
    add(&f, MTM_HDR_HEADERS, AMQP_FIELD_KIND_I32)->value.i32 = 1;
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_BAD_HEADERS);
    delivery_cleanup(&f.d);
}

static void test_bodies_and_ids(void **state)
{
    (void)state;
    const struct {
        const char *id, *body;
        enum delivery_fault want;
        const char *code;
    } cases[] = {
        {NULL, "{}", DELIVERY_BAD_ID, "invalid_message_id"},
        {"", "{}", DELIVERY_BAD_ID, "invalid_message_id"},
        {"a\x01z", "{}", DELIVERY_BAD_ID, "invalid_message_id"},
        {"m", "", DELIVERY_NOT_JSON, "body_not_json"},
        {"m", "{", DELIVERY_NOT_JSON, "body_not_json"},
        {"m", "\"\\u0000\"", DELIVERY_HAS_NUL, "body_has_nul"},
        {"m", "[1]", DELIVERY_OK, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        init(&f, cases[i].id, cases[i].body);
        judge(&f);
        if (f.d.fault != cases[i].want)
            fail_msg("case %zu: fault %d, want %d (%s)", i, f.d.fault, cases[i].want, f.d.reason);
        assert_string_equal(delivery_fault_code(f.d.fault), cases[i].code);
        assert_true(cases[i].want == DELIVERY_OK ? f.d.reason[0] == '\0' : f.d.reason[0] != '\0');
        delivery_cleanup(&f.d);
    }
}

/* When several things are wrong, the fault is the id's, then the body's,
 * then the headers'; times, trace and raw headers are read regardless, so
 * a dead letter keeps them. */
static void test_fault_precedence(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, NULL, "{");
    add_i64(&f, MTM_HDR_PUBLISHED_AT, NOW - 7);
    add_bytes(&f, MTM_HDR_TRACEPARENT, TP, strlen(TP));
    add_bytes(&f, MTM_HDR_HEADERS, "[1]", 3);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_BAD_ID);
    assert_string_equal(f.d.reason, "missing or invalid message_id property");
    assert_int_equal(f.d.published_ms, NOW - 7);
    assert_string_equal(f.d.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(f.d.headers_raw, "[1]");
    delivery_cleanup(&f.d);

    init(&f, "m", "{");
    add_bytes(&f, MTM_HDR_HEADERS, "[1]", 3);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_NOT_JSON);
    assert_non_null(strstr(f.d.reason, "body is not valid JSON: "));
    delivery_cleanup(&f.d);

    init(&f, "m", "\"\\u0000\"");
    add_bytes(&f, MTM_HDR_HEADERS, "[1]", 3);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_HAS_NUL);
    assert_string_equal(f.d.reason, "body holds \\u0000, which cannot be stored");
    delivery_cleanup(&f.d);

    init(&f, "m", "");
    judge(&f);
    assert_string_equal(f.d.reason, "body is not valid JSON: empty");
    delivery_cleanup(&f.d);

    init(&f, "m", "{}");
    add_bytes(&f, MTM_HDR_HEADERS, "[1]", 3);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_BAD_HEADERS);
    assert_string_equal(f.d.id, "m");
    delivery_cleanup(&f.d);
}

static void test_body_over_the_limit_is_cut_in_the_dead_letter(void **state)
{
    (void)state;
    char *big = malloc(MAX_BODY + 11);
    memset(big, '1', MAX_BODY + 10);
    big[MAX_BODY + 10] = '\0';
    struct fixture f;
    init(&f, "m-10", big);
    judge(&f);
    assert_int_equal(f.d.fault, DELIVERY_TOO_LARGE);
    assert_non_null(strstr(f.d.reason, "1034 bytes is over the 1024-byte limit"));
    char *props = delivery_dead_letter_properties(&f.d, f.body.len, MAX_BODY);
    assert_parses(props);
    assert_non_null(strstr(props, "\"body_bytes\":1034"));
    assert_non_null(strstr(props, "\"body_truncated\":true"));
    free(props);
    delivery_cleanup(&f.d);
    free(big);
}

static void test_refusal_reason_is_ours(void **state)
{
    (void)state;
    struct fixture f;
    init(&f, "m-11", "1");
    judge(&f);
    delivery_fail(&f.d, DELIVERY_REFUSED, "the database refused the message");
    assert_string_equal(delivery_fault_code(f.d.fault), "storage_refused");
    assert_string_equal(f.d.reason, "the database refused the message");
    assert_string_equal(delivery_fault_code((enum delivery_fault)99), "unknown");
    delivery_cleanup(&f.d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_delivery),
        cmocka_unit_test(test_times_out_of_range_are_dropped),
        cmocka_unit_test(test_attempts_are_clamped),
        cmocka_unit_test(test_invalid_traceparent_is_not_kept),
        cmocka_unit_test(test_oversized_headers),
        cmocka_unit_test(test_bodies_and_ids),
        cmocka_unit_test(test_body_over_the_limit_is_cut_in_the_dead_letter),
        cmocka_unit_test(test_fault_precedence),
        cmocka_unit_test(test_refusal_reason_is_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
