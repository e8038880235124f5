/*
 * fuzz_json: request-body checks. Every input either parses (and then the
 * raw-span finder agrees with json-c about the document) or is refused with
 * MTM_EPARSE; nothing crashes, leaks or reads out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonspan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct json_object *obj = NULL;
    const char *text = (const char *)data;
    int rc = mtm_json_parse(text, size, MTM_JSON_MAX_DEPTH, &obj, err, sizeof(err));
    if (rc) {
        if (rc != MTM_EPARSE || obj)
            abort();
        return 0;
    }
    /* jsonspan needs a NUL-terminated copy (it may look one byte ahead). */
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    struct mtm_span top = mtm_json_trim(copy, size), span;
    if (json_object_is_type(obj, json_type_object)) {
        json_object_object_foreach(obj, key, val)
        {
            (void)val;
            /* Every member json-c saw must be found by the span finder. */
            if (strlen(key) < 64 && mtm_json_member(copy, top, key, &span) != 0)
                abort();
        }
    } else if (json_object_is_type(obj, json_type_array)) {
        struct mtm_span elems[64];
        size_t n = 0;
        int erc = mtm_json_elements(copy, top, elems, 64, &n);
        size_t want = json_object_array_length(obj);
        if (want <= 64 && (erc != 0 || n != want))
            abort();
    }
    free(copy);
    json_object_put(obj);
    return 0;
}
