/*
 * log: JSON-lines logging to stderr.
 *
 * Each line is one JSON object: ts, level, component, and where known
 * tenant, request_id and trace_id, then msg. Callers pass a struct
 * mtm_log_ctx that says who is speaking; the context is borrowed for the call.
 *
 * The threshold is the one process-wide setting here (an atomic written once
 * at start-up from MTM_LOG_LEVEL): stderr is process-wide too, and every
 * thread must agree on it. The LOG_* macros test it before formatting, so a
 * debug line costs one atomic load when debug is off.
 *
 * A line is written with a single write(2) so that lines from different
 * threads never interleave; messages are truncated at MTM_LOG_MAX_MSG bytes.
 */
#ifndef MTM_LOG_H
#define MTM_LOG_H

#include <stddef.h>

#include "err.h"

#define MTM_LOG_MAX_MSG 2048  /* bytes of the formatted message kept */
#define MTM_LOG_MAX_FIELD 200 /* bytes of each context field kept */
/* Worst case: every kept byte escaped as \u00XX, plus keys and timestamp. */
#define MTM_LOG_LINE_MAX (6 * (MTM_LOG_MAX_MSG + 5 * MTM_LOG_MAX_FIELD) + 256)

enum mtm_log_level {
    MTM_LOG_DEBUG = 0,
    MTM_LOG_INFO = 1,
    MTM_LOG_WARN = 2,
    MTM_LOG_ERROR = 3,
};

struct mtm_log_ctx {
    const char *component;  /* "mtm-api", "consumerd", "worker", ... */
    const char *tenant;     /* tenant id or NULL */
    const char *request_id; /* request id or NULL */
    const char *trace_id;   /* W3C trace id or NULL */
};

void mtm_log_set_level(enum mtm_log_level level);
enum mtm_log_level mtm_log_get_level(void);
/* Parses "debug", "info", "warn", "error". */
int mtm_log_level_parse(const char *s, enum mtm_log_level *out) MTM_MUST_CHECK;
const char *mtm_log_level_name(enum mtm_log_level level);

/* Formats one line into out (always NUL-terminated, ends with '\n');
 * returns its length. Exposed for the unit tests. */
size_t mtm_log_format(char *out, size_t outlen, const struct mtm_log_ctx *ctx,
                      enum mtm_log_level level, const char *msg);

void mtm_log_write(const struct mtm_log_ctx *ctx, enum mtm_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MTM_LOG(ctx, lvl, ...)                                                                     \
    do {                                                                                           \
        if ((lvl) >= mtm_log_get_level())                                                          \
            mtm_log_write((ctx), (lvl), __VA_ARGS__);                                              \
    } while (0)
#define LOG_DEBUG(ctx, ...) MTM_LOG(ctx, MTM_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(ctx, ...) MTM_LOG(ctx, MTM_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(ctx, ...) MTM_LOG(ctx, MTM_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(ctx, ...) MTM_LOG(ctx, MTM_LOG_ERROR, __VA_ARGS__)

#endif
