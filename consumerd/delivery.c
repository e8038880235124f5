/* delivery: see delivery.h. */
#include "delivery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "headers.h"
#include "json.h"
#include "xalloc.h"

static const char *const codes[] = {
    [DELIVERY_OK] = "",
    [DELIVERY_BAD_ID] = "invalid_message_id",
    [DELIVERY_TOO_LARGE] = "body_too_large",
    [DELIVERY_NOT_JSON] = "body_not_json",
    [DELIVERY_HAS_NUL] = "body_has_nul",
    [DELIVERY_BAD_HEADERS] = "invalid_headers",
    [DELIVERY_REFUSED] = "storage_refused",
};

const char *delivery_fault_code(enum delivery_fault f)
{
    return (size_t)f < sizeof(codes) / sizeof(codes[0]) ? codes[f] : "unknown";
}

void delivery_fail(struct delivery *d, enum delivery_fault f, const char *reason)
{
    d->fault = f;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
}

/* ---- AMQP headers ------------------------------------------------------ */

static const amqp_field_value_t *header(const amqp_basic_properties_t *p, const char *key)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG) || !p->headers.entries)
        return NULL;
    size_t klen = strlen(key);
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if (e->key.len == klen && e->key.bytes && memcmp(e->key.bytes, key, klen) == 0)
            return &e->value;
    }
    return NULL;
}

/* An integer header; AMQP timestamps (seconds) come back in ms. False for
 * another type or a value that does not fit. */
static bool header_int(const amqp_basic_properties_t *p, const char *key, int64_t *out)
{
    const amqp_field_value_t *v = header(p, key);
    if (!v)
        return false;
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8: *out = v->value.i8; return true;
    case AMQP_FIELD_KIND_U8: *out = v->value.u8; return true;
    case AMQP_FIELD_KIND_I16: *out = v->value.i16; return true;
    case AMQP_FIELD_KIND_U16: *out = v->value.u16; return true;
    case AMQP_FIELD_KIND_I32: *out = v->value.i32; return true;
    case AMQP_FIELD_KIND_U32: *out = v->value.u32; return true;
    case AMQP_FIELD_KIND_I64: *out = v->value.i64; return true;
    case AMQP_FIELD_KIND_U64:
        if (v->value.u64 > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v->value.u64;
        return true;
    case AMQP_FIELD_KIND_TIMESTAMP:
        if (v->value.u64 > DELIVERY_TIME_MAX_MS / 1000)
            return false;
        *out = (int64_t)v->value.u64 * 1000;
        return true;
    default: return false;
    }
}

/* A string header's bytes, borrowed; false for another type. */
static bool header_bytes(const amqp_basic_properties_t *p, const char *key, amqp_bytes_t *out)
{
    const amqp_field_value_t *v = header(p, key);
    if (!v || (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES))
        return false;
    *out = v->value.bytes;
    if (!out->bytes)
        out->len = 0;
    return true;
}

static bool time_ok(int64_t ms)
{
    return ms >= 0 && ms <= DELIVERY_TIME_MAX_MS;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* ---- judging ----------------------------------------------------------- */

static void read_times(struct delivery *d, const amqp_basic_properties_t *p, int64_t now_ms)
{
    int64_t n;
    if (header_int(p, MTM_HDR_ATTEMPTS, &n))
        d->failures = n < 0 ? 0 : n > DELIVERY_ATTEMPTS_MAX ? DELIVERY_ATTEMPTS_MAX : (int)n;
    if (header_int(p, MTM_HDR_FIRST_FAILED, &n) && time_ok(n) && n > 0)
        d->first_failed_ms = n;
    if (header_int(p, MTM_HDR_PUBLISHED_AT, &n) && time_ok(n) && n > 0)
        d->published_ms = n;
    else if ((p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) && p->timestamp > 0 &&
             p->timestamp <= DELIVERY_TIME_MAX_MS / 1000)
        d->published_ms = (int64_t)p->timestamp * 1000;
    else
        d->published_ms = now_ms;
}

static void read_trace(struct delivery *d, const amqp_basic_properties_t *p)
{
    amqp_bytes_t tp;
    char text[MTM_TRACEPARENT_LEN + 1];
    if (!header_bytes(p, MTM_HDR_TRACEPARENT, &tp) || tp.len != MTM_TRACEPARENT_LEN)
        return;
    memcpy(text, tp.bytes, tp.len);
    text[tp.len] = '\0';
    if (mtm_traceparent_parse(text, d->trace_id))
        memcpy(d->traceparent, text, sizeof(text));
    else
        d->trace_id[0] = '\0';
}

/* Producer headers: kept when valid; a fault (reported later) when not. */
static enum delivery_fault read_headers(struct delivery *d, const amqp_basic_properties_t *p)
{
    if (!header(p, MTM_HDR_HEADERS))
        return DELIVERY_OK;
    amqp_bytes_t text;
    if (!header_bytes(p, MTM_HDR_HEADERS, &text))
        return DELIVERY_BAD_HEADERS;
    if (text.len <= DELIVERY_HEADERS_RAW_MAX && mtm_utf8_valid(text.bytes, text.len))
        d->headers_raw = xstrndup(text.bytes ? text.bytes : "", text.len);
    /* Escaped JSON of valid headers is at most 6 bytes a byte of input. */
    if (text.len > 6 * (size_t)MTM_HEADERS_BYTES_MAX)
        return DELIVERY_BAD_HEADERS;
    char err[128];
    const char *why;
    struct json_object *h = NULL;
    if (mtm_json_parse(text.bytes, text.len, 2, &h, err, sizeof(err)) ||
        mtm_headers_check(h, &why)) {
        json_object_put(h);
        return DELIVERY_BAD_HEADERS;
    }
    d->headers = h;
    return DELIVERY_OK;
}

/* The message_id property into d->id; false when it is missing or not
 * 1..MTM_MESSAGE_ID_MAX printable ASCII bytes. */
static bool read_id(struct delivery *d, const amqp_basic_properties_t *p)
{
    if (!(p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) || p->message_id.len == 0 ||
        p->message_id.len > MTM_MESSAGE_ID_MAX || !p->message_id.bytes ||
        !printable(p->message_id.bytes, p->message_id.len))
        return false;
    memcpy(d->id, p->message_id.bytes, p->message_id.len);
    d->id[p->message_id.len] = '\0';
    return true;
}

/* Whether the body can be stored: DELIVERY_OK, or the first fault found
 * (size, then JSON, then NUL) with its reason in why. */
static enum delivery_fault check_body(const amqp_bytes_t *body, size_t max_body, char *why,
                                      size_t whylen)
{
    if (body->len > max_body) {
        snprintf(why, whylen, "body of %zu bytes is over the %zu-byte limit", body->len, max_body);
        return DELIVERY_TOO_LARGE;
    }
    char err[120];
    struct json_object *obj = NULL;
    if (body->len == 0 ||
        mtm_json_parse(body->bytes, body->len, MTM_JSON_MAX_DEPTH, &obj, err, sizeof(err))) {
        snprintf(why, whylen, "body is not valid JSON: %s", body->len ? err : "empty");
        return DELIVERY_NOT_JSON;
    }
    bool nul = mtm_json_contains_nul(obj);
    json_object_put(obj);
    if (nul) {
        snprintf(why, whylen, "body holds \\u0000, which cannot be stored");
        return DELIVERY_HAS_NUL;
    }
    return DELIVERY_OK;
}

/*
 * Times, trace and producer headers are read first, whatever else is
 * wrong, so that a dead letter keeps them. Faults then take precedence in
 * this order: the id, the body, the headers.
 */
void delivery_judge(struct delivery *d, const amqp_basic_properties_t *p, const amqp_bytes_t *body,
                    size_t max_body, int64_t now_ms)
{
    memset(d, 0, sizeof(*d));
    read_times(d, p, now_ms);
    read_trace(d, p);
    enum delivery_fault headers = read_headers(d, p);

    if (!read_id(d, p)) {
        delivery_fail(d, DELIVERY_BAD_ID, "missing or invalid message_id property");
        return;
    }
    char why[DELIVERY_REASON_MAX];
    enum delivery_fault f = check_body(body, max_body, why, sizeof(why));
    if (f != DELIVERY_OK)
        delivery_fail(d, f, why);
    else if (headers != DELIVERY_OK)
        delivery_fail(d, headers,
                      MTM_HDR_HEADERS " is not a JSON object of strings within the API's limits");
}

void delivery_cleanup(struct delivery *d)
{
    json_object_put(d->headers);
    d->headers = NULL;
    free(d->headers_raw);
    d->headers_raw = NULL;
}

/* ---- rendering --------------------------------------------------------- */

size_t delivery_element_bound(const struct delivery *d, size_t body_len)
{
    size_t headers = 0;
    if (d->headers)
        mtm_json_text(d->headers, &headers);
    /* Fixed keys, an id of printable ASCII escaped at most 2x, numbers,
     * a trace id, separators. */
    return body_len + headers + 2 * sizeof(d->id) + 256;
}

int delivery_append_element(const struct delivery *d, const amqp_bytes_t *body, struct mtm_buf *arr)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(d->id));
    json_object_object_add(o, "headers",
                           d->headers ? json_object_get(d->headers) : json_object_new_object());
    json_object_object_add(o, "published_at_ms", json_object_new_int64(d->published_ms));
    json_object_object_add(o, "attempts", json_object_new_int(d->failures + 1));
    json_object_object_add(o, "trace_id",
                           d->trace_id[0] ? json_object_new_string(d->trace_id) : NULL);
    size_t headers = 0;
    if (d->headers)
        mtm_json_text(d->headers, &headers);
    json_object_object_add(o, "size", json_object_new_int64((int64_t)(body->len + headers)));
    size_t len;
    const char *rest = mtm_json_text(o, &len);
    /* The payload goes in byte for byte: {"payload":<body>,<rest of o>. */
    int rc = mtm_buf_puts(arr, arr->len > 1 ? ",{\"payload\":" : "{\"payload\":");
    if (!rc)
        rc = mtm_buf_append(arr, body->bytes, body->len);
    if (!rc)
        rc = mtm_buf_puts(arr, ",");
    if (!rc)
        rc = mtm_buf_append(arr, rest + 1, len - 1);
    json_object_put(o);
    return rc;
}

char *delivery_dead_letter_properties(const struct delivery *d, size_t body_len, size_t kept)
{
    struct json_object *o = json_object_new_object();
    if (d->id[0])
        json_object_object_add(o, "message_id", json_object_new_string(d->id));
    json_object_object_add(o, "published_at_ms", json_object_new_int64(d->published_ms));
    if (d->headers_raw)
        json_object_object_add(o, "headers_json", json_object_new_string(d->headers_raw));
    if (d->traceparent[0])
        json_object_object_add(o, "traceparent", json_object_new_string(d->traceparent));
    if (kept < body_len) {
        json_object_object_add(o, "body_bytes", json_object_new_int64((int64_t)body_len));
        json_object_object_add(o, "body_truncated", json_object_new_boolean(1));
    }
    char *text = xstrdup(mtm_json_text(o, NULL));
    json_object_put(o);
    return text;
}
