/*
 * headers: the producer headers of a message, checked the same way wherever
 * they enter: the API's publish (messages.c) and a delivery that a foreign
 * producer put straight on a tenant's queue (consumerd/delivery.c).
 *
 * Producer headers are a JSON object of at most MTM_HEADERS_MAX entries,
 * names of 1..MTM_HEADER_NAME_MAX bytes, values strings of at most
 * MTM_HEADER_VALUE_MAX bytes without \u0000, and at most
 * MTM_HEADERS_BYTES_MAX bytes as compact JSON text: they travel as that
 * text in one AMQP header (x-mtm-headers) beside mtm's own, and the whole
 * property list must fit in one frame of 131,072 bytes.
 */
#ifndef MTM_HEADERS_H
#define MTM_HEADERS_H

#include <json-c/json.h>
#include <stddef.h>

#include "err.h"
#include "message.h"

/*
 * Returns 0 when h is a valid producer header object, else MTM_EINVAL with
 * a short, stable reason (a static string) in *why.
 */
int mtm_headers_check(struct json_object *h, const char **why) MTM_MUST_CHECK;

#endif
