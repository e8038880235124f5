/* topology: see topology.h. */
#include "topology.h"

#include <stdio.h>
#include <string.h>

#include "uuid.h"

int mtm_queue_type_parse(const char *s, enum mtm_queue_type *out)
{
    if (strcmp(s, "classic") == 0)
        *out = MTM_QUEUE_CLASSIC;
    else if (strcmp(s, "quorum") == 0)
        *out = MTM_QUEUE_QUORUM;
    else
        return MTM_EINVAL;
    return 0;
}

const char *mtm_queue_type_name(enum mtm_queue_type t)
{
    return t == MTM_QUEUE_QUORUM ? "quorum" : "classic";
}

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

static amqp_table_entry_t str_arg(const char *key, const char *value)
{
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value);
    return e;
}

static int declare_once(struct mtm_amqp *a, const char *tenant_id, enum mtm_queue_type type,
                        int classic_version, char *err, size_t errlen)
{
    char main_q[MTM_QUEUE_NAME_MAX], retry_q[MTM_QUEUE_NAME_MAX];
    if (mtm_queue_name(tenant_id, MTM_QUEUE_MAIN, main_q) ||
        mtm_queue_name(tenant_id, MTM_QUEUE_RETRY, retry_q)) {
        snprintf(err, errlen, "not a tenant id");
        return MTM_EINVAL;
    }
    /* The first argument says the type; the retry queue adds its own. */
    amqp_table_entry_t main_args[1], retry_args[5];
    if (type == MTM_QUEUE_QUORUM) {
        main_args[0] = str_arg("x-queue-type", "quorum");
    } else {
        main_args[0].key = amqp_cstring_bytes("x-queue-version");
        main_args[0].value.kind = AMQP_FIELD_KIND_I32;
        main_args[0].value.value.i32 = classic_version;
    }
    amqp_table_t mt = {1, main_args};

    int nretry = 0;
    retry_args[nretry++] = main_args[0];
    retry_args[nretry++] = str_arg("x-dead-letter-exchange", "");
    retry_args[nretry++] = str_arg("x-dead-letter-routing-key", main_q);
    if (type == MTM_QUEUE_QUORUM) {
        /* A quorum queue dead-letters at most once unless told otherwise:
         * an expired retry could vanish if the main queue did not confirm
         * it (a leader election). At least once needs reject-publish. */
        retry_args[nretry++] = str_arg("x-dead-letter-strategy", "at-least-once");
        retry_args[nretry++] = str_arg("x-overflow", "reject-publish");
    }
    amqp_table_t rt = {nretry, retry_args};

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

int mtm_topology_declare(struct mtm_amqp *a, const char *tenant_id, enum mtm_queue_type type,
                         int classic_version, char *err, size_t errlen)
{
    if (type == MTM_QUEUE_CLASSIC && classic_version != 1 && classic_version != 2) {
        snprintf(err, errlen, "classic queue version %d: 1 or 2", classic_version);
        return MTM_EINVAL;
    }
    /* A connection kept from earlier requests may have died since: one
     * fresh attempt then (amqp.h), but not when this call had to connect. */
    bool was_open = mtm_amqp_is_open(a);
    int rc = declare_once(a, tenant_id, type, classic_version, err, errlen);
    if (rc == MTM_EUNAVAIL && was_open)
        rc = declare_once(a, tenant_id, type, classic_version, err, errlen);
    return rc;
}
