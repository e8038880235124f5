/* jsonspan: see jsonspan.h. */
#include "jsonspan.h"

#include <json-c/json.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t i, size_t end)
{
    while (i < end && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* End of the string starting at s[i] == '"' (index after the closing quote). */
static int skip_string(const char *s, size_t i, size_t end, size_t *out)
{
    for (i++; i < end; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"') {
            *out = i + 1;
            return 0;
        }
    }
    return MTM_EPARSE;
}

/* End of the value starting at s[i]. */
static int skip_value(const char *s, size_t i, size_t end, size_t *out)
{
    if (i >= end)
        return MTM_EPARSE;
    if (s[i] == '"')
        return skip_string(s, i, end, out);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < end) {
            char c = s[i];
            if (c == '"') {
                if (skip_string(s, i, end, &i))
                    return MTM_EPARSE;
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    *out = i + 1;
                    return 0;
                }
            }
            i++;
        }
        return MTM_EPARSE;
    }
    size_t j = i;
    while (j < end && !strchr(",]} \t\r\n", s[j]))
        j++;
    if (j == i)
        return MTM_EPARSE;
    *out = j;
    return 0;
}

/* Whether the JSON string key at s[start..end) (with quotes) equals name. */
static int key_equals(const char *s, size_t start, size_t end, const char *name)
{
    size_t n = end - start - 2;
    if (!memchr(s + start, '\\', end - start))
        return strlen(name) == n && memcmp(s + start + 1, name, n) == 0;
    /* Escaped key: let json-c decode it. */
    struct json_tokener *tok = json_tokener_new();
    struct json_object *k = json_tokener_parse_ex(tok, s + start, (int)(end - start));
    int eq = k && json_object_is_type(k, json_type_string) &&
             strcmp(json_object_get_string(k), name) == 0;
    json_object_put(k);
    json_tokener_free(tok);
    return eq;
}

int mtm_json_member(const char *text, struct mtm_span obj, const char *name, struct mtm_span *out)
{
    size_t i = skip_ws(text, obj.start, obj.end);
    int found = 0;
    if (i >= obj.end || text[i] != '{')
        return MTM_EPARSE;
    i = skip_ws(text, i + 1, obj.end);
    if (i < obj.end && text[i] == '}')
        return MTM_ENOTFOUND;
    while (i < obj.end) {
        size_t kend, vstart, vend;
        if (text[i] != '"' || skip_string(text, i, obj.end, &kend))
            return MTM_EPARSE;
        size_t colon = skip_ws(text, kend, obj.end);
        if (colon >= obj.end || text[colon] != ':')
            return MTM_EPARSE;
        vstart = skip_ws(text, colon + 1, obj.end);
        if (skip_value(text, vstart, obj.end, &vend))
            return MTM_EPARSE;
        if (key_equals(text, i, kend, name)) {
            out->start = vstart;
            out->end = vend;
            found = 1;
        }
        i = skip_ws(text, vend, obj.end);
        if (i < obj.end && text[i] == ',') {
            i = skip_ws(text, i + 1, obj.end);
            continue;
        }
        if (i < obj.end && text[i] == '}')
            return found ? 0 : MTM_ENOTFOUND;
        return MTM_EPARSE;
    }
    return MTM_EPARSE;
}

int mtm_json_elements(const char *text, struct mtm_span arr, struct mtm_span *out, size_t max,
                      size_t *count)
{
    size_t i = skip_ws(text, arr.start, arr.end), n = 0;
    *count = 0;
    if (i >= arr.end || text[i] != '[')
        return MTM_EPARSE;
    i = skip_ws(text, i + 1, arr.end);
    if (i < arr.end && text[i] == ']')
        return 0;
    while (i < arr.end) {
        size_t vend;
        if (skip_value(text, i, arr.end, &vend))
            return MTM_EPARSE;
        if (n == max)
            return MTM_ETOOBIG;
        out[n].start = i;
        out[n].end = vend;
        n++;
        i = skip_ws(text, vend, arr.end);
        if (i < arr.end && text[i] == ',') {
            i = skip_ws(text, i + 1, arr.end);
            continue;
        }
        if (i < arr.end && text[i] == ']') {
            *count = n;
            return 0;
        }
        return MTM_EPARSE;
    }
    return MTM_EPARSE;
}

struct mtm_span mtm_json_trim(const char *text, size_t len)
{
    struct mtm_span s = {skip_ws(text, 0, len), len};
    while (s.end > s.start && strchr(" \t\r\n", text[s.end - 1]))
        s.end--;
    return s;
}
