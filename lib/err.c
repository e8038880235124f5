/* err: names for the codes of err.h. */
#include "err.h"

const char *mtm_strerror(int err)
{
    switch ((enum mtm_err)err) {
    case MTM_OK: return "success";
    case MTM_EINVAL: return "invalid value";
    case MTM_EPARSE: return "malformed input";
    case MTM_ETOOBIG: return "input too large";
    case MTM_ENOTFOUND: return "not found";
    case MTM_ECONFLICT: return "conflict";
    case MTM_EUNAVAIL: return "dependency unavailable";
    case MTM_ETIMEOUT: return "timed out";
    case MTM_EAUTH: return "authentication required";
    case MTM_EFORBIDDEN: return "forbidden";
    case MTM_ERATELIMIT: return "rate limited";
    case MTM_EDB: return "database error";
    case MTM_EAMQP: return "broker error";
    case MTM_EIO: return "I/O error";
    case MTM_EINTERNAL: return "internal error";
    }
    return "unknown error";
}
