/*
 * message: how a message travels on a tenant's queue.
 *
 * Body: the payload's JSON text, exactly as the producer sent it.
 * Properties: message_id (the message id), content_type application/json,
 * delivery_mode 2 (persistent), timestamp (publish time, seconds), and
 * headers:
 *   x-mtm-published-at   int64, publish time in milliseconds
 *   x-mtm-headers        string, the producer's headers as a JSON object
 *   x-mtm-attempts       int32, failed deliveries so far (absent: 0)
 *   x-mtm-first-failed-at int64 ms, first failure (absent: none yet)
 *   x-mtm-last-error     string, why the last delivery failed
 *   traceparent          string, W3C trace context from the API request
 * A foreign producer may publish anything; consumerd validates every field
 * and retries or dead-letters what it cannot store.
 */
#ifndef MTM_MESSAGE_H
#define MTM_MESSAGE_H

#define MTM_HDR_PUBLISHED_AT "x-mtm-published-at"
#define MTM_HDR_HEADERS "x-mtm-headers"
#define MTM_HDR_ATTEMPTS "x-mtm-attempts"
#define MTM_HDR_FIRST_FAILED "x-mtm-first-failed-at"
#define MTM_HDR_LAST_ERROR "x-mtm-last-error"
#define MTM_HDR_TRACEPARENT "traceparent"

#define MTM_MESSAGE_ID_MAX 256 /* bytes of a message id */
#define MTM_IDEMPOTENCY_KEY_MAX 200
#define MTM_BATCH_MAX 1000 /* messages in one publish request */
#define MTM_HEADERS_MAX 64 /* producer headers per message */
#define MTM_HEADER_NAME_MAX 128
#define MTM_HEADER_VALUE_MAX 4096
/* Bytes of a message's producer headers as they travel in x-mtm-headers:
 * their compact JSON text (names, values, quotes, escapes). 64 entries of
 * 4 KiB fit the body limit but not one AMQP frame (131,072 bytes, which
 * holds every property of a message): this cap leaves half of the frame to
 * the message id, traceparent and mtm's own headers, whatever the escaping. */
#define MTM_HEADERS_BYTES_MAX 65536

#endif
