/*
 * err: the one error enumeration of mtm.
 *
 * Functions that can fail return 0 or one of these negative codes and put any
 * detail for humans into a caller-supplied buffer (or the log). The mapping
 * from a code to an HTTP status lives in problem.c, nowhere else.
 */
#ifndef MTM_ERR_H
#define MTM_ERR_H

#define MTM_MUST_CHECK __attribute__((warn_unused_result))

enum mtm_err {
    MTM_OK = 0,
    MTM_EINVAL = -1,      /* well-formed input with an invalid value (422) */
    MTM_EPARSE = -2,      /* malformed input: not JSON, bad encoding (400) */
    MTM_ETOOBIG = -3,     /* input over its cap (413) */
    MTM_ENOTFOUND = -4,   /* no such object (404) */
    MTM_ECONFLICT = -5,   /* state forbids it (409) */
    MTM_EUNAVAIL = -6,    /* a dependency is down (503) */
    MTM_ETIMEOUT = -7,    /* a dependency did not answer in time (503) */
    MTM_EAUTH = -8,       /* missing or bad credentials (401) */
    MTM_EFORBIDDEN = -9,  /* credentials lack the scope (403) */
    MTM_ERATELIMIT = -10, /* slow down (429) */
    MTM_EDB = -11,        /* PostgreSQL reported an error */
    MTM_EAMQP = -12,      /* RabbitMQ reported an error */
    MTM_EIO = -13,        /* a system call failed */
    MTM_EINTERNAL = -14,  /* a bug: an invariant did not hold */
};

/* A static, human-readable name for an error code; never NULL. */
const char *mtm_strerror(int err);

#endif
