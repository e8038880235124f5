/* json: see json.h. */
#include "json.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "xalloc.h"

/*
 * A second, strict pass over text json-c accepted. json-c 0.16 in strict mode
 * still lets through NaN, Infinity, "1.", single-quoted member names, raw
 * control characters in strings, unpaired \u surrogates and invalid UTF-8
 * (overlong forms, encoded surrogates, code points above U+10FFFF). Payloads
 * are stored byte for byte (jsonspan.h) and PostgreSQL's jsonb refuses all of
 * these, so each is a 400 here rather than a message that can never be
 * stored. This checks the RFC 8259 grammar only; json-c builds the objects.
 */
struct scan {
    const unsigned char *s;
    size_t n, i;
    const char *why;
};

static bool scan_fail(struct scan *sc, const char *why)
{
    sc->why = why;
    return false;
}

static void scan_ws(struct scan *sc)
{
    for (; sc->i < sc->n; sc->i++) {
        unsigned char c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
    }
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* One UTF-8 sequence starting with a byte >= 0x80. */
static bool scan_utf8(struct scan *sc)
{
    const unsigned char *p = sc->s + sc->i;
    size_t len;
    unsigned long cp, min;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, cp = p[0] & 0x1fu, min = 0x80;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3, cp = p[0] & 0x0fu, min = 0x800;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, cp = p[0] & 0x07u, min = 0x10000;
    } else {
        return scan_fail(sc, "invalid UTF-8");
    }
    if (sc->n - sc->i < len)
        return scan_fail(sc, "invalid UTF-8");
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return scan_fail(sc, "invalid UTF-8");
        cp = cp << 6 | (p[k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return scan_fail(sc, "invalid UTF-8");
    sc->i += len;
    return true;
}

bool mtm_utf8_valid(const char *s, size_t n)
{
    struct scan sc = {(const unsigned char *)s, n, 0, NULL};
    while (sc.i < n) {
        if (sc.s[sc.i] == 0)
            return false;
        if (sc.s[sc.i] < 0x80)
            sc.i++;
        else if (!scan_utf8(&sc))
            return false;
    }
    return true;
}

/* The four hex digits of a \u escape at p, or -1. */
static long hex4(const unsigned char *p)
{
    return mtm_hex_value((const char *)p, 4);
}

/* key: a member name, where \\u0000 is refused (json-c cuts names at NUL). */
static bool scan_string(struct scan *sc, bool key)
{
    sc->i++; /* the opening quote */
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            sc->i++;
            return true;
        }
        if (c < 0x20)
            return scan_fail(sc, "control character in a string");
        if (c >= 0x80) {
            if (!scan_utf8(sc))
                return false;
            continue;
        }
        if (c != '\\') {
            sc->i++;
            continue;
        }
        if (sc->n - sc->i < 2)
            break;
        c = sc->s[sc->i + 1];
        if (c != 'u') {
            if (!c || !strchr("\"\\/bfnrt", c))
                return scan_fail(sc, "invalid escape in a string");
            sc->i += 2;
            continue;
        }
        long u = sc->n - sc->i >= 6 ? hex4(sc->s + sc->i + 2) : -1;
        if (u < 0)
            return scan_fail(sc, "invalid \\u escape");
        sc->i += 6;
        if (u == 0 && key)
            return scan_fail(sc, "\\u0000 in a member name");
        if (u >= 0xdc00 && u <= 0xdfff)
            return scan_fail(sc, "unpaired UTF-16 surrogate");
        if (u >= 0xd800 && u <= 0xdbff) {
            long lo = sc->n - sc->i >= 6 && sc->s[sc->i] == '\\' && sc->s[sc->i + 1] == 'u'
                          ? hex4(sc->s + sc->i + 2)
                          : -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return scan_fail(sc, "unpaired UTF-16 surrogate");
            sc->i += 6;
        }
    }
    return scan_fail(sc, "unterminated string");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct scan *sc)
{
    const unsigned char *s = sc->s;
    size_t i = sc->i, n = sc->n;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && is_digit(s[i])) {
        while (i < n && is_digit(s[i]))
            i++;
    } else {
        return scan_fail(sc, "invalid number");
    }
    if (i < n && s[i] == '.') {
        if (++i >= n || !is_digit(s[i]))
            return scan_fail(sc, "invalid number");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return scan_fail(sc, "invalid number");
        while (i < n && is_digit(s[i]))
            i++;
    }
    sc->i = i;
    return true;
}

static bool scan_literal(struct scan *sc, const char *word)
{
    size_t len = strlen(word);
    if (sc->n - sc->i < len || memcmp(sc->s + sc->i, word, len) != 0)
        return false;
    sc->i += len;
    return true;
}

/* Checks that text[0..len) is one RFC 8259 value nested at most max_depth
 * containers deep; on failure sc->why and sc->i say what and where. */
static bool scan_document(struct scan *sc, size_t max_depth)
{
    enum { S_VALUE, S_KEY, S_AFTER } st = S_VALUE;
    char *stack = xmalloc(max_depth + 1); /* '{' or '[' per open container */
    size_t depth = 0;
    bool ok = false;

    for (;;) {
        scan_ws(sc);
        if (st == S_AFTER && depth == 0) {
            ok = sc->i == sc->n || scan_fail(sc, "unexpected data after the JSON value");
            break;
        }
        if (sc->i >= sc->n) {
            scan_fail(sc, "unexpected end of JSON input");
            break;
        }
        unsigned char c = sc->s[sc->i];
        if (st == S_KEY) {
            if (c != '"') {
                scan_fail(sc, "expected a double-quoted member name");
                break;
            }
            if (!scan_string(sc, true))
                break;
            scan_ws(sc);
            if (sc->i >= sc->n || sc->s[sc->i] != ':') {
                scan_fail(sc, "expected ':'");
                break;
            }
            sc->i++;
            st = S_VALUE;
        } else if (st == S_AFTER) {
            char top = stack[depth - 1];
            if (c == ',') {
                sc->i++;
                st = top == '{' ? S_KEY : S_VALUE;
            } else if (c == (top == '{' ? '}' : ']')) {
                sc->i++;
                depth--;
            } else {
                scan_fail(sc, "expected ',' or the end of the container");
                break;
            }
        } else if (c == '{' || c == '[') {
            if (depth == max_depth) {
                scan_fail(sc, "nested too deep");
                break;
            }
            stack[depth++] = (char)c;
            sc->i++;
            scan_ws(sc);
            if (sc->i < sc->n && sc->s[sc->i] == (c == '{' ? '}' : ']')) {
                sc->i++;
                depth--;
                st = S_AFTER;
            } else {
                st = c == '{' ? S_KEY : S_VALUE;
            }
        } else if (c == '"') {
            if (!scan_string(sc, false))
                break;
            st = S_AFTER;
        } else if (c == '-' || is_digit(c)) {
            if (!scan_number(sc))
                break;
            st = S_AFTER;
        } else if (scan_literal(sc, "true") || scan_literal(sc, "false") ||
                   scan_literal(sc, "null")) {
            st = S_AFTER;
        } else {
            scan_fail(sc, "unexpected character");
            break;
        }
    }
    free(stack);
    return ok;
}

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
    if (!rc) {
        struct scan sc = {(const unsigned char *)text, len, 0, NULL};
        if (!scan_document(&sc, max_depth > 0 ? (size_t)max_depth : 0)) {
            snprintf(err, errlen, "malformed JSON at byte %zu: %s", sc.i, sc.why);
            rc = MTM_EPARSE;
        }
    }
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

bool mtm_json_contains_nul(struct json_object *obj)
{
    switch (json_object_get_type(obj)) {
    case json_type_string:
        return strlen(json_object_get_string(obj)) != (size_t)json_object_get_string_len(obj);
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(obj); i++)
            if (mtm_json_contains_nul(json_object_array_get_idx(obj, i)))
                return true;
        return false;
    case json_type_object: {
        json_object_object_foreach(obj, key, val)
        {
            (void)key; /* json-c keys are C strings: a NUL would have cut them */
            if (mtm_json_contains_nul(val))
                return true;
        }
        return false;
    }
    default: return false;
    }
}

int mtm_json_compact_append(struct mtm_buf *out, const char *text, size_t len)
{
    size_t run = 0; /* start of the bytes not yet appended */
    bool in_string = false;
    int rc = 0;
    for (size_t i = 0; !rc && i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++; /* the escaped character, whatever it is */
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            if (i > run)
                rc = mtm_buf_append(out, text + run, i - run);
            run = i + 1;
        }
    }
    if (!rc && len > run)
        rc = mtm_buf_append(out, text + run, len - run);
    return rc;
}
