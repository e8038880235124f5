/*
 * topology: the broker objects of one tenant, named from its id alone.
 *
 *   tenant_<id>_queue  durable queue the workers consume; producers publish
 *                      to it through the default exchange
 *   tenant_<id>_retry  durable holding queue for messages waiting out a
 *                      retry backoff: each carries a per-message TTL and
 *                      dead-letters back into tenant_<id>_queue on expiry
 *
 * Both queues of a tenant have the tenant's queue type, recorded in
 * tenants.queue_type when it was created (MTM_QUEUE_TYPE then):
 *
 *   classic  version 2 classic queues, no x-queue-type argument (as every
 *            tenant made before queue types existed)
 *   quorum   x-queue-type quorum; the retry queue dead-letters at least
 *            once (x-dead-letter-strategy, which needs x-overflow
 *            reject-publish). No x-delivery-limit: mtm's own attempt
 *            count decides dead-lettering (docs/architecture.md, "Queue
 *            types").
 *
 * RabbitMQ refuses a declare whose arguments differ from the queue's
 * (PRECONDITION_FAILED), so a declare must name the tenant's own type.
 *
 * Names are built only from a validated UUID, so no input reaches a queue
 * name. Declaring is idempotent; deleting removes both queues and what they
 * hold (a tenant's deletion drops its messages by design).
 */
#ifndef MTM_TOPOLOGY_H
#define MTM_TOPOLOGY_H

#include <stdint.h>

#include "amqp.h"
#include "err.h"

#define MTM_QUEUE_NAME_MAX 64

enum mtm_queue_type {
    MTM_QUEUE_CLASSIC,
    MTM_QUEUE_QUORUM,
};

/* "classic" or "quorum": 0, or MTM_EINVAL for anything else. */
int mtm_queue_type_parse(const char *s, enum mtm_queue_type *out) MTM_MUST_CHECK;
const char *mtm_queue_type_name(enum mtm_queue_type t);

enum mtm_queue_kind {
    MTM_QUEUE_MAIN,
    MTM_QUEUE_RETRY,
};

/* Fails with MTM_EINVAL unless tenant_id is a UUID. */
int mtm_queue_name(const char *tenant_id, enum mtm_queue_kind kind,
                   char out[MTM_QUEUE_NAME_MAX]) MTM_MUST_CHECK;

/* Declares a tenant's queues, classic ones with `classic_version` as their
 * x-queue-version (1 or 2; ignored for quorum). */
int mtm_topology_declare(struct mtm_amqp *a, const char *tenant_id, enum mtm_queue_type type,
                         int classic_version, char *err, size_t errlen) MTM_MUST_CHECK;
int mtm_topology_delete(struct mtm_amqp *a, const char *tenant_id, char *err,
                        size_t errlen) MTM_MUST_CHECK;
/* Messages ready in the main queue; MTM_ENOTFOUND when it does not exist. */
int mtm_topology_depth(struct mtm_amqp *a, const char *tenant_id, uint32_t *depth, char *err,
                       size_t errlen) MTM_MUST_CHECK;

#endif
