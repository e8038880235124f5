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

#include <amqp.h>
#include <stdint.h>

/*
 * mtm's own headers of one message, as the API's publish, the dead-letter
 * replay and consumerd's retry write them. Absent ones are 0 or NULL.
 * Strings are borrowed by the tables built from them.
 */
struct mtm_message_headers {
    int64_t published_at_ms;
    const char *headers_json; /* the producer's headers, a JSON object */
    const char *traceparent;
    int32_t attempts;
    int64_t first_failed_ms;
    const char *last_error;
};

/* Entries mtm_message_table may write. */
#define MTM_MESSAGE_TABLE_MAX 6

/*
 * Writes the present headers of h into entries (room for
 * MTM_MESSAGE_TABLE_MAX), after the entries of `keep` (NULL for none)
 * whose keys h does not write, so a message keeps a foreign producer's
 * headers while mtm's are replaced; entries needs room for keep's too.
 * Returns how many entries were written.
 */
int mtm_message_table(const struct mtm_message_headers *h, const amqp_table_t *keep,
                      amqp_table_entry_t *entries);

/*
 * Properties of a message mtm publishes: JSON content, the message id,
 * the timestamp (seconds, from published_at_ms when it is present), and
 * the header table (entries, n; borrowed). Delivery mode and expiry are
 * left to the publisher (lib/amqp sets persistent).
 */
void mtm_message_props(amqp_basic_properties_t *p, const char *id, int64_t published_at_ms,
                       amqp_table_entry_t *entries, int n);

#endif
