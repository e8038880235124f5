/* trace: see trace.h. */
#include "trace.h"

#include <string.h>

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool mtm_traceparent_parse(const char *tp, char *trace_id)
{
    if (!tp || strlen(tp) != MTM_TRACEPARENT_LEN || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
        return false;
    if (!lower_hex(tp, 2) || !lower_hex(tp + 3, 32) || !lower_hex(tp + 36, 16) ||
        !lower_hex(tp + 53, 2) || strncmp(tp, "ff", 2) == 0)
        return false;
    if (strspn(tp + 3, "0") >= 32 || strspn(tp + 36, "0") >= 16)
        return false;
    if (trace_id) {
        memcpy(trace_id, tp + 3, MTM_TRACE_ID_LEN);
        trace_id[MTM_TRACE_ID_LEN] = '\0';
    }
    return true;
}
