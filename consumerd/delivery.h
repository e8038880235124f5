/*
 * delivery: what one delivery from a tenant's queue says about itself, and
 * whether it can be stored.
 *
 * Anyone with access to the broker can publish straight to a tenant's
 * queue, so nothing in a delivery is trusted: every property and header
 * that reaches SQL is checked here first, and a value that cannot be
 * stored either falls back to a safe default (a publish time out of range
 * becomes the broker's timestamp or now) or marks the delivery with a
 * fault. A delivery with a fault is retried, then dead-lettered with the
 * fault's stable code and a short reason; it never stops the deliveries
 * behind it. This module does no I/O: the worker (worker.c) owns the
 * connections, and the fuzz target tests/fuzz/fuzz_delivery.c drives the
 * same functions with arbitrary properties and bodies.
 *
 * Ranges accepted from headers: publish and failure times within
 * [1970-01-01, 9999-12-31] in ms (PostgreSQL's timestamptz holds them),
 * attempts clamped to [0, DELIVERY_ATTEMPTS_MAX]; strings copied anywhere
 * (message id, traceparent, producer headers) are validated first:
 * printable ASCII for the id, a well-formed traceparent, producer headers
 * by mtm_headers_check (headers.h) after strict UTF-8 JSON parsing.
 */
#ifndef MTM_CONSUMERD_DELIVERY_H
#define MTM_CONSUMERD_DELIVERY_H

#include <amqp.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "message.h"
#include "trace.h"

#define DELIVERY_TIME_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define DELIVERY_ATTEMPTS_MAX 1000
#define DELIVERY_REASON_MAX 160
#define DELIVERY_HEADERS_RAW_MAX (2 * MTM_HEADERS_BYTES_MAX)

/* Why a delivery cannot be stored. Codes are part of the API (dead letters'
 * reason_code): add, never rename. */
enum delivery_fault {
    DELIVERY_OK = 0,
    DELIVERY_BAD_ID,      /* invalid_message_id */
    DELIVERY_TOO_LARGE,   /* body_too_large */
    DELIVERY_NOT_JSON,    /* body_not_json */
    DELIVERY_HAS_NUL,     /* body_has_nul */
    DELIVERY_BAD_HEADERS, /* invalid_headers */
    DELIVERY_REFUSED,     /* storage_refused */
};

struct delivery {
    enum delivery_fault fault;
    char reason[DELIVERY_REASON_MAX]; /* "" when storable */
    char id[MTM_MESSAGE_ID_MAX + 1];  /* "" when the delivery has no usable id */
    int failures;                     /* failed deliveries before this one */
    int64_t first_failed_ms;          /* 0: none yet */
    int64_t published_ms;
    char traceparent[MTM_TRACEPARENT_LEN + 1]; /* "" unless a valid one came */
    char trace_id[MTM_TRACE_ID_LEN + 1];
    struct json_object *headers; /* owned; valid producer headers or NULL */
    char *headers_raw;           /* owned; x-mtm-headers as it came, when it is text within
                                    DELIVERY_HEADERS_RAW_MAX bytes (kept so that a replay
                                    republishes invalid headers as they were), or NULL */
};

/* The stable code of a fault ("" for DELIVERY_OK). */
const char *delivery_fault_code(enum delivery_fault f);

/*
 * Reads and checks one delivery. Borrows p and body for the call only;
 * d owns what it keeps (free with delivery_cleanup). max_body is the
 * largest storable body; now_ms stands in for a missing publish time.
 */
void delivery_judge(struct delivery *d, const amqp_basic_properties_t *p, const amqp_bytes_t *body,
                    size_t max_body, int64_t now_ms);
void delivery_cleanup(struct delivery *d);

/* Marks d as not storable for fault f with a short reason. */
void delivery_fail(struct delivery *d, enum delivery_fault f, const char *reason);

/* An upper bound on the bytes delivery_append_element adds for d. */
size_t delivery_element_bound(const struct delivery *d, size_t body_len);

/*
 * Appends d as one element of mtm_store_messages' JSON array (a comma
 * first unless arr holds just "["). The body goes in byte for byte, so d
 * must be storable (it was parsed as JSON). Fails only when arr's cap is
 * reached (MTM_ETOOBIG).
 */
int delivery_append_element(const struct delivery *d, const amqp_bytes_t *body,
                            struct mtm_buf *arr) MTM_MUST_CHECK;

/*
 * The dead letter's properties (what a replay needs to republish the
 * message as it was): a new JSON text, caller frees. body_len is the
 * delivery's size, kept the bytes stored (less when the body was cut).
 */
char *delivery_dead_letter_properties(const struct delivery *d, size_t body_len, size_t kept);

#endif
