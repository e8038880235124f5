/* topology: see topology.h. */
#include "topology.h"

#include <stdio.h>
#include <string.h>

#include "uuid.h"

int mtm_queue_name(const char *tenant_id, enum mtm_queue_kind kind, char out[MTM_QUEUE_NAME_MAX])
{
    if (!mtm_uuid_valid(tenant_id))
        return MTM_EINVAL;
    snprintf(out, MTM_QUEUE_NAME_MAX, "tenant_%s_%s", tenant_id,
             kind == MTM_QUEUE_MAIN ? "queue" : "retry");
    return 0;
}

static int declare(struct mtm_amqp *a, const char *name, amqp_table_t args, bool passive,
                   uint32_t *depth, char *err, size_t errlen)
{
    int rc = mtm_amqp_connect(a, err, errlen);
    if (rc)
        return rc;
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(
        a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(name), passive, 1, 0, 0, args);
    rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), name, err, errlen);
    if (!rc && depth)
        *depth = ok ? ok->message_count : 0;
    return rc;
}

static int declare_once(struct mtm_amqp *a, const char *tenant_id, char *err, size_t errlen)
{
    char main_q[MTM_QUEUE_NAME_MAX], retry_q[MTM_QUEUE_NAME_MAX];
    if (mtm_queue_name(tenant_id, MTM_QUEUE_MAIN, main_q) ||
        mtm_queue_name(tenant_id, MTM_QUEUE_RETRY, retry_q)) {
        snprintf(err, errlen, "not a tenant id");
        return MTM_EINVAL;
    }
    amqp_table_entry_t main_args[1];
    main_args[0].key = amqp_cstring_bytes("x-queue-version");
    main_args[0].value.kind = AMQP_FIELD_KIND_I32;
    main_args[0].value.value.i32 = 2;
    amqp_table_t mt = {1, main_args};

    amqp_table_entry_t retry_args[3];
    retry_args[0] = main_args[0];
    retry_args[1].key = amqp_cstring_bytes("x-dead-letter-exchange");
    retry_args[1].value.kind = AMQP_FIELD_KIND_UTF8;
    retry_args[1].value.value.bytes = amqp_cstring_bytes("");
    retry_args[2].key = amqp_cstring_bytes("x-dead-letter-routing-key");
    retry_args[2].value.kind = AMQP_FIELD_KIND_UTF8;
    retry_args[2].value.value.bytes = amqp_cstring_bytes(main_q);
    amqp_table_t rt = {3, retry_args};

    int rc = declare(a, main_q, mt, false, NULL, err, errlen);
    if (!rc)
        rc = declare(a, retry_q, rt, false, NULL, err, errlen);
    return rc;
}

int mtm_topology_delete(struct mtm_amqp *a, const char *tenant_id, char *err, size_t errlen)
{
    char names[2][MTM_QUEUE_NAME_MAX];
    if (mtm_queue_name(tenant_id, MTM_QUEUE_MAIN, names[0]) ||
        mtm_queue_name(tenant_id, MTM_QUEUE_RETRY, names[1])) {
        snprintf(err, errlen, "not a tenant id");
        return MTM_EINVAL;
    }
    for (int i = 0; i < 2; i++) {
        int rc = mtm_amqp_connect(a, err, errlen);
        if (rc)
            return rc;
        /* Deleting a queue that does not exist succeeds in RabbitMQ 3.x. */
        amqp_queue_delete(a->conn, MTM_AMQP_CHANNEL, amqp_cstring_bytes(names[i]), 0, 0);
        rc = mtm_amqp_reply_error(a, amqp_get_rpc_reply(a->conn), names[i], err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

int mtm_topology_depth(struct mtm_amqp *a, const char *tenant_id, uint32_t *depth, char *err,
                       size_t errlen)
{
    char name[MTM_QUEUE_NAME_MAX];
    if (mtm_queue_name(tenant_id, MTM_QUEUE_MAIN, name)) {
        snprintf(err, errlen, "not a tenant id");
        return MTM_EINVAL;
    }
    return declare(a, name, amqp_empty_table, true, depth, err, errlen);
}

int mtm_topology_declare(struct mtm_amqp *a, const char *tenant_id, char *err, size_t errlen)
{
    /* A connection kept from earlier requests may have died since: one
     * fresh attempt then (amqp.h), but not when this call had to connect. */
    bool was_open = mtm_amqp_is_open(a);
    int rc = declare_once(a, tenant_id, err, errlen);
    if (rc == MTM_EUNAVAIL && was_open)
        rc = declare_once(a, tenant_id, err, errlen);
    return rc;
}
