/* fields: see fields.h. */
#include "fields.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "problem.h"

int mtm_field_object(struct json_object *body, struct mtm_fault *fault)
{
    if (!json_object_is_type(body, json_type_object))
        return mtm_fault_field(fault, "body", "must be a JSON object");
    return 0;
}

int mtm_fields_only(struct json_object *body, const char *const *allowed, struct mtm_fault *fault)
{
    int rc = 0;
    json_object_object_foreach(body, key, val)
    {
        (void)val;
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, key) == 0;
        if (!known)
            rc = mtm_fault_field(fault, key, "is not a known field");
    }
    return rc;
}

int mtm_field_int(struct json_object *body, const char *name, bool required, long min, long max,
                  long dflt, long *out, struct mtm_fault *fault)
{
    struct json_object *v;
    if (!json_object_object_get_ex(body, name, &v)) {
        if (required)
            return mtm_fault_field(fault, name, "is required");
        *out = dflt;
        return 0;
    }
    /* json-c reports integers that overflow int64 as int64 min/max with
     * errno set; comparing against the bounds catches them. */
    if (!json_object_is_type(v, json_type_int))
        return mtm_fault_field(fault, name, "must be an integer from %ld to %ld", min, max);
    int64_t n = json_object_get_int64(v);
    if (n < min || n > max)
        return mtm_fault_field(fault, name, "must be an integer from %ld to %ld", min, max);
    *out = (long)n;
    return 0;
}

int mtm_field_string(struct json_object *body, const char *name, bool required, size_t minlen,
                     size_t maxlen, const char *allowed_chars, const char **out,
                     struct mtm_fault *fault)
{
    struct json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(body, name, &v)) {
        if (required)
            return mtm_fault_field(fault, name, "is required");
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return mtm_fault_field(fault, name, "must be a string");
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v), chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xc0) != 0x80; /* UTF-8 lead bytes (input is valid) */
    if (chars < minlen || chars > maxlen)
        return mtm_fault_field(fault, name, "must be %zu to %zu characters long", minlen, maxlen);
    if (strlen(s) != len)
        return mtm_fault_field(fault, name, "must not contain NUL characters");
    if (allowed_chars) {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!(c < 0x80 && (isalnum(c) || strchr(allowed_chars, c))))
                return mtm_fault_field(fault, name, "may contain only letters, digits and \"%s\"",
                                       allowed_chars);
        }
    }
    *out = s;
    return 0;
}

int mtm_fields_read(struct json_object *body, const struct mtm_field_rule *rules, size_t n,
                    struct mtm_fault *fault)
{
    if (mtm_field_object(body, fault))
        return MTM_EINVAL;
    int bad = 0;
    json_object_object_foreach(body, key, val)
    {
        (void)val;
        size_t i = 0;
        while (i < n && strcmp(rules[i].name, key) != 0)
            i++;
        if (i == n)
            bad |= mtm_fault_field(fault, key, "is not a known field");
    }
    for (size_t i = 0; i < n; i++) {
        const struct mtm_field_rule *f = &rules[i];
        if (f->kind == MTM_FIELD_INT)
            bad |=
                mtm_field_int(body, f->name, f->required, f->min, f->max, f->dflt, f->out, fault);
        else
            bad |= mtm_field_string(body, f->name, f->required, (size_t)f->min, (size_t)f->max,
                                    f->chars, f->out, fault);
    }
    return bad ? MTM_EINVAL : 0;
}

int mtm_query_int(const char *query, const char *name, long min, long max, long dflt, long *out,
                  struct mtm_fault *fault)
{
    char text[32];
    int rc = mtm_query_get(query, name, text, sizeof(text));
    if (rc == MTM_ENOTFOUND) {
        *out = dflt;
        return 0;
    }
    long v = 0;
    bool ok = rc == 0 && text[0] != '\0' && strlen(text) <= 18;
    for (const char *p = text; ok && *p; p++) {
        ok = isdigit((unsigned char)*p);
        v = v * 10 + (*p - '0');
    }
    if (!ok || v < min || v > max)
        return mtm_fault_field(fault, name, "must be an integer from %ld to %ld", min, max);
    *out = v;
    return 0;
}
