/*
 * trace: W3C trace context (traceparent) as mtm passes it along.
 *
 * A traceparent received by the API travels in the AMQP headers to
 * consumerd, whose log lines and the stored message carry its trace id.
 * Both ends accept only version-00-shaped headers: "vv-<32 hex>-<16 hex>-ff"
 * in lowercase, version not ff, trace and parent ids not all zeros.
 */
#ifndef MTM_TRACE_H
#define MTM_TRACE_H

#include <stdbool.h>

#define MTM_TRACEPARENT_LEN 55
#define MTM_TRACE_ID_LEN 32

/* True for a valid traceparent; its trace id (33 bytes with the NUL) goes to
 * trace_id when that is not NULL. */
bool mtm_traceparent_parse(const char *tp, char *trace_id);

#endif
