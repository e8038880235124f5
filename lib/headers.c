/* headers: see headers.h. */
#include "headers.h"

#include <string.h>

#include "json.h"

int mtm_headers_check(struct json_object *h, const char **why)
{
    if (!json_object_is_type(h, json_type_object)) {
        *why = "must be an object of strings";
        return MTM_EINVAL;
    }
    if (json_object_object_length(h) > MTM_HEADERS_MAX) {
        *why = "must have at most 64 entries";
        return MTM_EINVAL;
    }
    json_object_object_foreach(h, name, value)
    {
        size_t nlen = strlen(name);
        if (nlen == 0 || nlen > MTM_HEADER_NAME_MAX) {
            *why = "names must be 1 to 128 bytes long";
            return MTM_EINVAL;
        }
        if (!json_object_is_type(value, json_type_string) ||
            json_object_get_string_len(value) > MTM_HEADER_VALUE_MAX ||
            mtm_json_contains_nul(value)) {
            *why = "values must be strings of at most 4096 bytes, without \\u0000";
            return MTM_EINVAL;
        }
    }
    /* Measured as the headers travel (the compact JSON text in
     * x-mtm-headers), so escaping cannot push them past one frame. */
    size_t total = 0;
    mtm_json_text(h, &total);
    if (total > MTM_HEADERS_BYTES_MAX) {
        *why = "must total at most 65536 bytes as JSON text (names, values, quotes, escapes)";
        return MTM_EINVAL;
    }
    return 0;
}
