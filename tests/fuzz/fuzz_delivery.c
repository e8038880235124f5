/*
 * fuzz_delivery: consumerd's handling of one delivery from a tenant's queue
 * (consumerd/delivery.c), fed what a foreign producer controls: the basic
 * properties as they arrive on the wire (decoded by librabbitmq's own
 * amqp_decode_properties, so every field type and nested table the broker
 * would pass is reachable) and the body.
 *
 * Input: 2 bytes big-endian n, n bytes of encoded basic properties (flags
 * then property list), the rest is the body.
 *
 * Whatever the input, the verdict must be safe to hand to SQL:
 *   - attempts, first-failure and publish times within their ranges;
 *   - a storable delivery has a printable id, renders as one JSON object
 *     that strict UTF-8 parsing accepts, within delivery_element_bound;
 *   - the dead letter's properties always parse the same way;
 *   - a trace id, when kept, came from a valid traceparent.
 */
#include <amqp.h>
#include <amqp_framing.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "json.h"

#define MAX_BODY 4096
#define NOW_MS INT64_C(1764633600000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_json(const char *text, size_t len)
{
    char err[128];
    struct json_object *o = NULL;
    if (mtm_json_parse(text, len, MTM_JSON_MAX_DEPTH + 2, &o, err, sizeof(err)) ||
        !json_object_is_type(o, json_type_object))
        abort();
    json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = (size_t)data[0] << 8 | data[1];
    if (n < 2 || 2 + n > size)
        return 0;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    amqp_bytes_t encoded = {n, (void *)(data + 2)};
    amqp_basic_properties_t *p = NULL;
    if (amqp_decode_properties(AMQP_BASIC_CLASS, &pool, encoded, (void **)&p) != AMQP_STATUS_OK ||
        !p) {
        empty_amqp_pool(&pool);
        return 0;
    }
    amqp_bytes_t body = {size - 2 - n, (void *)(data + 2 + n)};

    struct delivery d;
    delivery_judge(&d, p, &body, MAX_BODY, NOW_MS);
    if (d.failures < 0 || d.failures > DELIVERY_ATTEMPTS_MAX || d.first_failed_ms < 0 ||
        d.first_failed_ms > DELIVERY_TIME_MAX_MS || d.published_ms < 0 ||
        d.published_ms > DELIVERY_TIME_MAX_MS)
        abort();
    if (d.trace_id[0] && (!d.traceparent[0] || strlen(d.trace_id) != MTM_TRACE_ID_LEN))
        abort();
    if (d.fault == DELIVERY_OK) {
        if (!d.id[0] || body.len > MAX_BODY)
            abort();
        for (const char *c = d.id; *c; c++)
            if (*c < 0x20 || *c > 0x7e)
                abort();
        struct mtm_buf arr;
        mtm_buf_init(&arr, delivery_element_bound(&d, body.len) + 2);
        if (mtm_buf_puts(&arr, "[") || delivery_append_element(&d, &body, &arr))
            abort();
        check_json(mtm_buf_cstr(&arr) + 1, arr.len - 1);
        mtm_buf_cleanup(&arr);
    } else if (!d.reason[0] || !delivery_fault_code(d.fault)[0]) {
        abort();
    }
    size_t kept = body.len > MAX_BODY ? MAX_BODY : body.len;
    char *props = delivery_dead_letter_properties(&d, body.len, kept);
    check_json(props, strlen(props));
    free(props);
    delivery_cleanup(&d);
    empty_amqp_pool(&pool);
    return 0;
}
