/* message: see message.h. */
#include "message.h"

#include <stdbool.h>
#include <string.h>

static bool key_is(amqp_bytes_t k, const char *name)
{
    return k.len == strlen(name) && k.bytes && memcmp(k.bytes, name, k.len) == 0;
}

static void put_i64(amqp_table_entry_t *e, const char *key, int64_t v)
{
    e->key = amqp_cstring_bytes(key);
    e->value.kind = AMQP_FIELD_KIND_I64;
    e->value.value.i64 = v;
}

static void put_str(amqp_table_entry_t *e, const char *key, const char *v)
{
    e->key = amqp_cstring_bytes(key);
    e->value.kind = AMQP_FIELD_KIND_UTF8;
    e->value.value.bytes = amqp_cstring_bytes(v);
}

/* Whether h writes the header named k. */
static bool writes(const struct mtm_message_headers *h, amqp_bytes_t k)
{
    return (h->published_at_ms > 0 && key_is(k, MTM_HDR_PUBLISHED_AT)) ||
           (h->headers_json && key_is(k, MTM_HDR_HEADERS)) ||
           (h->traceparent && h->traceparent[0] && key_is(k, MTM_HDR_TRACEPARENT)) ||
           (h->attempts > 0 && key_is(k, MTM_HDR_ATTEMPTS)) ||
           (h->first_failed_ms > 0 && key_is(k, MTM_HDR_FIRST_FAILED)) ||
           (h->last_error && key_is(k, MTM_HDR_LAST_ERROR));
}

int mtm_message_table(const struct mtm_message_headers *h, const amqp_table_t *keep,
                      amqp_table_entry_t *entries)
{
    int n = 0;
    for (int i = 0; keep && keep->entries && i < keep->num_entries; i++)
        if (!writes(h, keep->entries[i].key))
            entries[n++] = keep->entries[i];
    if (h->published_at_ms > 0)
        put_i64(&entries[n++], MTM_HDR_PUBLISHED_AT, h->published_at_ms);
    if (h->headers_json)
        put_str(&entries[n++], MTM_HDR_HEADERS, h->headers_json);
    if (h->traceparent && h->traceparent[0])
        put_str(&entries[n++], MTM_HDR_TRACEPARENT, h->traceparent);
    if (h->attempts > 0) {
        entries[n].key = amqp_cstring_bytes(MTM_HDR_ATTEMPTS);
        entries[n].value.kind = AMQP_FIELD_KIND_I32;
        entries[n++].value.value.i32 = h->attempts;
    }
    if (h->first_failed_ms > 0)
        put_i64(&entries[n++], MTM_HDR_FIRST_FAILED, h->first_failed_ms);
    if (h->last_error)
        put_str(&entries[n++], MTM_HDR_LAST_ERROR, h->last_error);
    return n;
}

void mtm_message_props(amqp_basic_properties_t *p, const char *id, int64_t published_at_ms,
                       amqp_table_entry_t *entries, int n)
{
    memset(p, 0, sizeof(*p));
    p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
    p->content_type = amqp_cstring_bytes("application/json");
    p->message_id = amqp_cstring_bytes(id);
    if (published_at_ms > 0) {
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p->timestamp = (uint64_t)(published_at_ms / 1000);
    }
    p->headers.num_entries = n;
    p->headers.entries = entries;
}
