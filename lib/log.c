/*
 * log: see log.h. Formatting happens into a stack buffer; the only shared
 * state is the atomic threshold.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static _Atomic int log_threshold = MTM_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mtm_log_set_level(enum mtm_log_level level)
{
    atomic_store(&log_threshold, (int)level);
}

enum mtm_log_level mtm_log_get_level(void)
{
    return (enum mtm_log_level)atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

const char *mtm_log_level_name(enum mtm_log_level level)
{
    if ((int)level < 0 || (size_t)level >= sizeof(level_names) / sizeof(level_names[0]))
        return "unknown";
    return level_names[level];
}

int mtm_log_level_parse(const char *s, enum mtm_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum mtm_log_level)i;
            return 0;
        }
    }
    return MTM_EINVAL;
}

/* Appends s as a JSON string body (without quotes); stops at the cap. */
static size_t put_escaped(char *out, size_t pos, size_t cap, const char *s, size_t maxin)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < maxin && p[i] && pos < cap; i++) {
        unsigned char c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            size_t n = strlen(esc);
            if (pos + n > cap)
                break;
            memcpy(out + pos, esc, n);
            pos += n;
        } else if (c < 0x20) {
            if (pos + 6 > cap)
                break;
            memcpy(out + pos, "\\u00", 4);
            out[pos + 4] = hex[c >> 4];
            out[pos + 5] = hex[c & 0xf];
            pos += 6;
        } else {
            out[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t put_raw(char *out, size_t pos, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (pos + n > cap)
        n = cap - pos;
    memcpy(out + pos, s, n);
    return pos + n;
}

static size_t put_field(char *out, size_t pos, size_t cap, const char *key, const char *val,
                        size_t maxin)
{
    if (!val)
        return pos;
    pos = put_raw(out, pos, cap, ",\"");
    pos = put_raw(out, pos, cap, key);
    pos = put_raw(out, pos, cap, "\":\"");
    pos = put_escaped(out, pos, cap, val, maxin);
    return put_raw(out, pos, cap, "\"");
}

size_t mtm_log_format(char *out, size_t outlen, const struct mtm_log_ctx *ctx,
                      enum mtm_log_level level, const char *msg)
{
    /* Reserve room for the closing "}\n" and the NUL whatever happens. With
     * a buffer of MTM_LOG_LINE_MAX bytes the cap is never reached, because
     * every escaped input is bounded; a smaller buffer truncates the line. */
    size_t cap = outlen - 4, pos = 0;
    struct timeval tv;
    struct tm tm;
    char ts[80];

    if (outlen < 4) { /* no room for a line, and outlen - 4 would wrap */
        if (outlen)
            out[0] = '\0';
        return 0;
    }

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(tv.tv_usec / 1000));

    pos = put_raw(out, pos, cap, "{\"ts\":\"");
    pos = put_raw(out, pos, cap, ts);
    pos = put_raw(out, pos, cap, "\"");
    pos = put_field(out, pos, cap, "level", mtm_log_level_name(level), MTM_LOG_MAX_FIELD);
    if (ctx) {
        pos = put_field(out, pos, cap, "component", ctx->component, MTM_LOG_MAX_FIELD);
        pos = put_field(out, pos, cap, "tenant", ctx->tenant, MTM_LOG_MAX_FIELD);
        pos = put_field(out, pos, cap, "request_id", ctx->request_id, MTM_LOG_MAX_FIELD);
        pos = put_field(out, pos, cap, "trace_id", ctx->trace_id, MTM_LOG_MAX_FIELD);
    }
    pos = put_field(out, pos, cap, "msg", msg, MTM_LOG_MAX_MSG);
    out[pos++] = '}';
    out[pos++] = '\n';
    out[pos] = '\0';
    return pos;
}

void mtm_log_write(const struct mtm_log_ctx *ctx, enum mtm_log_level level, const char *fmt, ...)
{
    char msg[MTM_LOG_MAX_MSG];
    char line[MTM_LOG_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = mtm_log_format(line, sizeof(line), ctx, level, msg);
    /* One write per line; a short write to stderr is not worth a retry loop
     * that could interleave with other threads. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
