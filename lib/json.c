/* json: see json.h. */
#include "json.h"

#include <ctype.h>
#include <stdio.h>

int mtm_json_parse(const char *text, size_t len, int max_depth, struct json_object **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    if (len > (size_t)INT32_MAX) {
        snprintf(err, errlen, "body too large to parse");
        return MTM_EPARSE;
    }
    struct json_tokener *tok = json_tokener_new_ex(max_depth);
    if (!tok) {
        snprintf(err, errlen, "cannot create a JSON parser");
        return MTM_EINTERNAL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    int rc = 0;

    if (jerr == json_tokener_continue) {
        /* A top-level number or literal ("123", "null") ends only at a
         * delimiter, so json-c waits for more; the end of the body is one. */
        obj = json_tokener_parse_ex(tok, "", 1);
        if (json_tokener_get_error(tok) == json_tokener_success)
            jerr = json_tokener_success;
        used = len;
    }
    if (jerr == json_tokener_continue) {
        snprintf(err, errlen, "unexpected end of JSON input");
        rc = MTM_EPARSE;
    } else if (jerr != json_tokener_success) {
        if (jerr == json_tokener_error_depth)
            snprintf(err, errlen, "JSON nested deeper than %d levels", max_depth);
        else
            snprintf(err, errlen, "malformed JSON at byte %zu: %s", used,
                     json_tokener_error_desc(jerr));
        rc = MTM_EPARSE;
    } else {
        for (size_t i = used; i < len; i++) {
            if (!isspace((unsigned char)text[i])) {
                snprintf(err, errlen, "unexpected data after the JSON value at byte %zu", i);
                rc = MTM_EPARSE;
                break;
            }
        }
    }
    json_tokener_free(tok);
    if (rc) {
        json_object_put(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

const char *mtm_json_text(struct json_object *obj, size_t *len)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (len)
        *len = n;
    return s;
}
