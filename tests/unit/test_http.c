/*
 * test_http: a request and its response over a fake FastCGI stream
 * (lib/http.c).
 *
 * The fake struct mtm_http_io serves CGI parameters from a table, hands out
 * the body in small chunks (so reads are really looped), and captures what
 * is written into a buffer the tests then pick apart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http.h"
#include "problem.h"
#include "uuid.h"

#define MAX_PARAMS 16

struct fake {
    const char *params[MAX_PARAMS][2];
    size_t nparams;
    const char *body;
    size_t body_len, pos;
    int chunk;      /* most bytes one read returns */
    int reads;      /* calls to read */
    int read_error; /* read fails once pos reaches this (0: never) */
    int write_fail; /* writes fail */
    struct mtm_buf out;
    struct mtm_http_io io;
};

static const char *fake_param(void *ud, const char *name)
{
    struct fake *f = ud;
    for (size_t i = 0; i < f->nparams; i++)
        if (strcmp(f->params[i][0], name) == 0)
            return f->params[i][1];
    return NULL;
}

static int fake_read(void *ud, char *buf, int n)
{
    struct fake *f = ud;
    f->reads++;
    if (f->read_error && f->pos >= (size_t)f->read_error)
        return -1;
    size_t left = f->body_len - f->pos;
    size_t k = left < (size_t)n ? left : (size_t)n;
    if (f->chunk && k > (size_t)f->chunk)
        k = (size_t)f->chunk;
    if (k)
        memcpy(buf, f->body + f->pos, k);
    f->pos += k;
    return (int)k;
}

static int fake_write(void *ud, const char *buf, int n)
{
    struct fake *f = ud;
    if (f->write_fail)
        return -1;
    if (mtm_buf_append(&f->out, buf, (size_t)n))
        return -1;
    return n;
}

static struct fake *fake_new(void)
{
    struct fake *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->chunk = 7;
    mtm_buf_init(&f->out, 1 << 20);
    f->io.param = fake_param;
    f->io.read = fake_read;
    f->io.write = fake_write;
    f->io.ud = f;
    return f;
}

static void fake_free(struct fake *f)
{
    mtm_buf_cleanup(&f->out);
    free(f);
}

static void fake_set(struct fake *f, const char *name, const char *value)
{
    assert_true(f->nparams < MAX_PARAMS);
    f->params[f->nparams][0] = name;
    f->params[f->nparams][1] = value;
    f->nparams++;
}

static void fake_body(struct fake *f, const char *body, size_t len)
{
    f->body = body;
    f->body_len = len;
    f->pos = 0;
}

/* ---- mtm_request_init -------------------------------------------------- */

static void test_init_method_path_query(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    fake_set(f, "REQUEST_METHOD", "POST");
    fake_set(f, "REQUEST_URI", "/api/tenants/x/messages?limit=5&order=asc");
    fake_set(f, "REMOTE_ADDR", "10.0.0.7");
    fake_set(f, "CONTENT_LENGTH", "42");
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/api/tenants/x/messages");
    assert_string_equal(r.query, "limit=5&order=asc");
    assert_string_equal(r.remote_addr, "10.0.0.7");
    assert_int_equal(r.content_length, 42);
    assert_int_equal(r.status, 0);
    assert_null(r.json);
    mtm_request_cleanup(&r);
    mtm_request_cleanup(&r); /* twice is harmless */
    fake_free(f);
}

static void test_init_defaults(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.path, "/");
    assert_string_equal(r.query, "");
    assert_string_equal(r.remote_addr, "");
    assert_int_equal(r.content_length, -1);
    assert_string_equal(r.trace_id, "");
    assert_string_equal(r.traceparent, "");
    mtm_request_cleanup(&r);
    fake_free(f);

    /* Empty query after '?', and a '?' inside the query. */
    f = fake_new();
    fake_set(f, "REQUEST_URI", "/api/health?");
    mtm_request_init(&r, &f->io);
    assert_string_equal(r.path, "/api/health");
    assert_string_equal(r.query, "");
    mtm_request_cleanup(&r);
    fake_free(f);

    f = fake_new();
    fake_set(f, "REQUEST_URI", "/a%2Fb?q=1?2");
    mtm_request_init(&r, &f->io);
    assert_string_equal(r.path, "/a%2Fb"); /* raw: an encoded slash stays encoded */
    assert_string_equal(r.query, "q=1?2");
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_init_content_length(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        long want;
    } cases[] = {{"0", 0},    {"12", 12}, {"abc", -1}, {"-5", -1},
                 {"12x", -1}, {"", -1},   {" 12", -1}, {"+12", -1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fake *f = fake_new();
        fake_set(f, "CONTENT_LENGTH", cases[i].value);
        struct mtm_request r;
        mtm_request_init(&r, &f->io);
        if (r.content_length != cases[i].want)
            print_message("CONTENT_LENGTH \"%s\"\n", cases[i].value);
        assert_int_equal(r.content_length, cases[i].want);
        mtm_request_cleanup(&r);
        fake_free(f);
    }

    /* A length beyond any long is over every limit. */
    struct fake *f = fake_new();
    fake_set(f, "CONTENT_LENGTH", "99999999999999999999999");
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 1 << 20), MTM_ETOOBIG);
    assert_int_equal(f->reads, 0);
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_request_id_generated(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct mtm_request a, b;
    mtm_request_init(&a, &f->io);
    mtm_request_init(&b, &f->io);
    assert_true(mtm_uuid_valid(a.request_id));
    assert_int_equal(a.request_id[14], '7'); /* a UUIDv7 */
    assert_true(mtm_uuid_valid(b.request_id));
    assert_string_not_equal(a.request_id, b.request_id);
    mtm_request_cleanup(&a);
    mtm_request_cleanup(&b);
    fake_free(f);
}

static void test_request_id_accepted(void **state)
{
    (void)state;
    char max[MTM_REQUEST_ID_MAX + 1];
    memset(max, 'r', MTM_REQUEST_ID_MAX);
    max[MTM_REQUEST_ID_MAX] = '\0';
    const char *good[] = {"abc-123_x.y", "A", max, "0190b0c4-7d2e-7a00-8000-000000000001"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct fake *f = fake_new();
        fake_set(f, "HTTP_X_REQUEST_ID", good[i]);
        struct mtm_request r;
        mtm_request_init(&r, &f->io);
        assert_string_equal(r.request_id, good[i]);
        mtm_request_cleanup(&r);
        fake_free(f);
    }
}

static void test_request_id_invalid_replaced(void **state)
{
    (void)state;
    char toolong[MTM_REQUEST_ID_MAX + 2];
    memset(toolong, 'r', MTM_REQUEST_ID_MAX + 1);
    toolong[MTM_REQUEST_ID_MAX + 1] = '\0';
    const char *bad[] = {"",      "has space",   "a\"b",  "line\r\nX-Evil: 1", toolong, "semi;co",
                         "tab\t", "caf\xc3\xa9", "{json}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct fake *f = fake_new();
        fake_set(f, "HTTP_X_REQUEST_ID", bad[i]);
        struct mtm_request r;
        mtm_request_init(&r, &f->io);
        if (!mtm_uuid_valid(r.request_id))
            print_message("X-Request-Id \"%s\" gave \"%s\"\n", bad[i], r.request_id);
        assert_true(mtm_uuid_valid(r.request_id));
        mtm_request_cleanup(&r);
        fake_free(f);
    }
}

static void test_traceparent(void **state)
{
    (void)state;
    const char *good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    struct fake *f = fake_new();
    fake_set(f, "HTTP_TRACEPARENT", good);
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_string_equal(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(r.traceparent, good);
    mtm_request_cleanup(&r);
    fake_free(f);

    const char *bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     /* no flags */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* too long */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* uppercase */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero parent id */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* forbidden version */
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",  /* wrong separators */
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  /* not hex */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z",  /* flags not hex */
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version not hex */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fake_new();
        fake_set(f, "HTTP_TRACEPARENT", bad[i]);
        mtm_request_init(&r, &f->io);
        if (r.trace_id[0] || r.traceparent[0])
            print_message("traceparent \"%s\" was accepted\n", bad[i]);
        assert_string_equal(r.trace_id, "");
        assert_string_equal(r.traceparent, "");
        mtm_request_cleanup(&r);
        fake_free(f);
    }
}

/* ---- headers ------------------------------------------------------------ */

static void test_header_name_mapping(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    fake_set(f, "HTTP_IDEMPOTENCY_KEY", "k-1");
    fake_set(f, "HTTP_AUTHORIZATION", "Bearer t");
    fake_set(f, "CONTENT_TYPE", "application/json");
    fake_set(f, "CONTENT_LENGTH", "2");
    fake_set(f, "HTTP_X_A_B", "dashes");
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_string_equal(mtm_request_header(&r, "Idempotency-Key"), "k-1");
    assert_string_equal(mtm_request_header(&r, "idempotency-key"), "k-1");
    assert_string_equal(mtm_request_header(&r, "Authorization"), "Bearer t");
    assert_string_equal(mtm_request_header(&r, "Content-Type"), "application/json");
    assert_string_equal(mtm_request_header(&r, "content-length"), "2");
    assert_string_equal(mtm_request_header(&r, "X-A-B"), "dashes");
    assert_null(mtm_request_header(&r, "X-Missing"));
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_null(mtm_request_header(&r, longname));
    mtm_request_cleanup(&r);
    fake_free(f);
}

/* ---- the body ------------------------------------------------------------ */

static void test_read_body_within_limit(void **state)
{
    (void)state;
    const char *body = "{\"payload\":{\"n\":1},\"headers\":{}}";
    struct fake *f = fake_new();
    fake_set(f, "CONTENT_LENGTH", "33");
    fake_body(f, body, strlen(body));
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 1024), 0);
    assert_int_equal(r.body.len, strlen(body));
    assert_string_equal(mtm_buf_cstr(&r.body), body);
    assert_true(f->reads > 2); /* chunked by the fake: the loop ran */

    char err[256];
    assert_int_equal(mtm_request_parse_json(&r, err, sizeof(err)), 0);
    assert_non_null(r.json);
    assert_true(json_object_is_type(r.json, json_type_object));
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_read_body_exactly_at_limit(void **state)
{
    (void)state;
    char body[100];
    memset(body, 'x', sizeof(body));
    struct fake *f = fake_new();
    fake_set(f, "CONTENT_LENGTH", "100");
    fake_body(f, body, sizeof(body));
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 100), 0);
    assert_int_equal(r.body.len, 100);
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_read_body_declared_over_limit(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    fake_set(f, "CONTENT_LENGTH", "101");
    fake_body(f, "small", 5);
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 100), MTM_ETOOBIG);
    assert_int_equal(f->reads, 0); /* refused before reading a byte */
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_read_body_actual_over_limit(void **state)
{
    (void)state;
    char body[5000];
    memset(body, 'y', sizeof(body));
    /* No CONTENT_LENGTH, and a CONTENT_LENGTH that lies. */
    const char *declared[] = {NULL, "10"};
    for (size_t i = 0; i < 2; i++) {
        struct fake *f = fake_new();
        f->chunk = 1000;
        if (declared[i])
            fake_set(f, "CONTENT_LENGTH", declared[i]);
        fake_body(f, body, sizeof(body));
        struct mtm_request r;
        mtm_request_init(&r, &f->io);
        assert_int_equal(mtm_request_read_body(&r, 4096), MTM_ETOOBIG);
        assert_true(r.body.len <= 4096);
        assert_true(f->pos <= 4096 + 1000); /* stopped at the cap, not at the end */
        mtm_request_cleanup(&r);
        fake_free(f);
    }
}

static void test_read_body_stream_error(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    fake_body(f, "abcdefghijklmnop", 16);
    f->read_error = 7;
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 1024), MTM_EIO);
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_parse_json_errors(void **state)
{
    (void)state;
    char err[256];
    struct mtm_request r;

    struct fake *f = fake_new();
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 1024), 0);
    assert_int_equal(mtm_request_parse_json(&r, err, sizeof(err)), MTM_EPARSE); /* empty */
    assert_contains(err, "empty");
    assert_null(r.json);
    mtm_request_cleanup(&r);
    fake_free(f);

    f = fake_new();
    fake_body(f, "{\"a\":", 5);
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_request_read_body(&r, 1024), 0);
    assert_int_equal(mtm_request_parse_json(&r, err, sizeof(err)), MTM_EPARSE);
    assert_null(r.json);
    mtm_request_cleanup(&r);
    fake_free(f);
}

/* ---- mtm_query_get -------------------------------------------------------- */

static void expect_query(const char *query, const char *name, const char *want)
{
    char out[64];
    int rc = mtm_query_get(query, name, out, sizeof(out));
    if (rc)
        print_message("query \"%s\" name \"%s\": rc %d\n", query, name, rc);
    assert_int_equal(rc, 0);
    assert_string_equal(out, want);
}

static void expect_query_rc(const char *query, const char *name, size_t outlen, int want)
{
    char out[64];
    assert_true(outlen <= sizeof(out));
    int rc = mtm_query_get(query, name, out, outlen);
    if (rc != want)
        print_message("query \"%s\" name \"%s\"\n", query, name);
    assert_int_equal(rc, want);
}

static void test_query_get(void **state)
{
    (void)state;
    const char *q = "tenant_id=abc&cursor=a%2Fb%3D%3d&q=hello+big%20world&plus=%2B&flag&empty=";
    expect_query(q, "tenant_id", "abc");
    expect_query(q, "cursor", "a/b==");
    expect_query(q, "q", "hello big world");
    expect_query(q, "plus", "+");
    expect_query(q, "flag", "");
    expect_query(q, "empty", "");
    expect_query("a=1&a=2", "a", "1");  /* the first wins */
    expect_query("ab=1&a=2", "a", "2"); /* keys match whole */
    expect_query("a=x%C3%A9", "a", "x\xc3\xa9");

    expect_query_rc(q, "missing", 64, MTM_ENOTFOUND);
    expect_query_rc(q, "tenant", 64, MTM_ENOTFOUND);
    expect_query_rc("", "a", 64, MTM_ENOTFOUND);
    expect_query_rc("a=%zz", "a", 64, MTM_EPARSE);
    expect_query_rc("a=%4", "a", 64, MTM_EPARSE);
    expect_query_rc("a=%", "a", 64, MTM_EPARSE);
    expect_query_rc("a=x%4&b=1", "a", 64, MTM_EPARSE);
    expect_query_rc("a=%00", "a", 64, MTM_EPARSE);
    expect_query_rc("a=x%00y", "a", 64, MTM_EPARSE);
    expect_query_rc("a=%g1", "a", 64, MTM_EPARSE);
    /* A bad escape elsewhere does not spoil other keys. */
    expect_query("a=%zz&b=ok", "b", "ok");

    /* Too long: the value and its NUL must fit. */
    expect_query_rc("a=abcd", "a", 4, MTM_ETOOBIG);
    expect_query_rc("a=abcd", "a", 5, 0);
    expect_query_rc("a=%41%42%43%44", "a", 4, MTM_ETOOBIG);
    expect_query_rc("a=%41%42%43%44", "a", 5, 0);
}

/* Finding 5: the query's ids are canonicalised once, before anything reads them. */
static void expect_canonical(const char *uri, const char *want)
{
    static const char *const names[] = {"tenant_id", "other_id", NULL};
    struct fake *f = fake_new();
    fake_set(f, "REQUEST_URI", uri);
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    mtm_request_canonical_query(&r, names);
    if (strcmp(r.query, want) != 0)
        fail_msg("%s: query \"%s\", expected \"%s\"", uri, r.query, want);
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_canonical_query(void **state)
{
    (void)state;
    expect_canonical("/api/messages?tenant_id=0190B0C4-7D2E-7A00-8000-00000000ABCD&limit=5",
                     "tenant_id=0190b0c4-7d2e-7a00-8000-00000000abcd&limit=5");
    /* percent-encoded: decoded, then written plain */
    expect_canonical("/x?limit=5&tenant_id=%30190B0C4-7D2E-7A00-8000-00000000ABC%44",
                     "limit=5&tenant_id=0190b0c4-7d2e-7a00-8000-00000000abcd");
    /* every listed occurrence, so that whichever one is read is canonical */
    expect_canonical("/x?tenant_id=0190B0C4-7D2E-7A00-8000-00000000ABCD&"
                     "other_id=0190B0C4-7D2E-7A00-8000-00000000ABCE&"
                     "tenant_id=0190B0C4-7D2E-7A00-8000-00000000ABCF",
                     "tenant_id=0190b0c4-7d2e-7a00-8000-00000000abcd&"
                     "other_id=0190b0c4-7d2e-7a00-8000-00000000abce&"
                     "tenant_id=0190b0c4-7d2e-7a00-8000-00000000abcf");
    /* unlisted names, non-UUID values, malformed escapes: byte for byte */
    expect_canonical("/x?cursor=0190B0C4-7D2E-7A00-8000-00000000ABCD&tenant_id=NOPE&a=%zz&&b",
                     "cursor=0190B0C4-7D2E-7A00-8000-00000000ABCD&tenant_id=NOPE&a=%zz&&b");
    expect_canonical("/x?tenant_id=0190B0C4-7D2E-7A00-8000-00000000ABCD%00",
                     "tenant_id=0190B0C4-7D2E-7A00-8000-00000000ABCD%00");
    expect_canonical("/x?tenant_id", "tenant_id");
    expect_canonical("/x", "");
    expect_canonical("/x?tenant_id=0190B0C4-7D2E-7A00-8000-00000000ABCD&",
                     "tenant_id=0190b0c4-7d2e-7a00-8000-00000000abcd&");
}

/* ---- responses ------------------------------------------------------------ */

struct parsed {
    char status_line[128];
    char headers[16][2][256];
    size_t nheaders;
    const char *body;
};

/* Splits captured CGI output into its status line, headers and body. */
static void parse_output(const char *out, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    const char *end = strstr(out, "\r\n\r\n");
    assert_non_null(end);
    p->body = end + 4;
    const char *s = out;
    int first = 1;
    while (s < end + 2) {
        const char *eol = strstr(s, "\r\n");
        assert_non_null(eol);
        size_t n = (size_t)(eol - s);
        assert_null(memchr(s, '\n', n)); /* no bare newline inside a header */
        if (first) {
            snprintf(p->status_line, sizeof(p->status_line), "%.*s", (int)n, s);
            first = 0;
        } else {
            const char *colon = memchr(s, ':', n);
            assert_non_null(colon);
            assert_true(p->nheaders < 16);
            snprintf(p->headers[p->nheaders][0], 256, "%.*s", (int)(colon - s), s);
            snprintf(p->headers[p->nheaders][1], 256, "%.*s", (int)(eol - colon - 2), colon + 2);
            p->nheaders++;
        }
        s = eol + 2;
    }
}

static const char *header_of(const struct parsed *p, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < p->nheaders; i++) {
        if (strcmp(p->headers[i][0], name) == 0) {
            assert_null(found); /* each header once */
            found = p->headers[i][1];
        }
    }
    return found;
}

static void test_respond_format(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    fake_set(f, "HTTP_X_REQUEST_ID", "rid-1");
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    const struct mtm_header extra[] = {{"Location", "/api/tenants/t1"}, {"Retry-After", "3"}};
    const char *body = "{\"id\":\"t1\"}";
    assert_int_equal(mtm_respond(&r, 201, "application/json", extra, 2, body, strlen(body)), 0);
    assert_int_equal(r.status, 201);

    const char *out = mtm_buf_cstr(&f->out);
    assert_int_equal(strncmp(out, "Status: 201 Created\r\n", 21), 0);
    struct parsed p;
    parse_output(out, &p);
    assert_string_equal(p.status_line, "Status: 201 Created");
    assert_int_equal(p.nheaders, 5);
    assert_string_equal(header_of(&p, "Content-Type"), "application/json");
    assert_string_equal(header_of(&p, "Content-Length"), "11");
    assert_string_equal(header_of(&p, "X-Request-Id"), "rid-1");
    assert_string_equal(header_of(&p, "Location"), "/api/tenants/t1");
    assert_string_equal(header_of(&p, "Retry-After"), "3");
    assert_string_equal(p.body, body);

    /* A second response is refused and writes nothing. */
    size_t before = f->out.len;
    assert_int_equal(mtm_respond(&r, 500, "text/plain", NULL, 0, "x", 1), MTM_EINTERNAL);
    struct json_object *again = mtm_problem_new(500, "again");
    assert_int_equal(mtm_respond_problem(&r, again, NULL, 0), MTM_EINTERNAL);
    json_object_put(again);
    assert_int_equal(f->out.len, before);
    assert_int_equal(r.status, 201);
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_respond_without_body(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_respond(&r, 204, NULL, NULL, 0, NULL, 0), 0);
    struct parsed p;
    parse_output(mtm_buf_cstr(&f->out), &p);
    assert_string_equal(p.status_line, "Status: 204 No Content");
    assert_null(header_of(&p, "Content-Length"));
    assert_null(header_of(&p, "Content-Type"));
    assert_string_equal(header_of(&p, "X-Request-Id"), r.request_id);
    assert_string_equal(p.body, "");
    mtm_request_cleanup(&r);
    fake_free(f);

    /* An empty body still says Content-Length: 0. */
    f = fake_new();
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_respond(&r, 200, "text/plain", NULL, 0, "", 0), 0);
    parse_output(mtm_buf_cstr(&f->out), &p);
    assert_string_equal(header_of(&p, "Content-Length"), "0");
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_respond_write_failure(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    f->write_fail = 1;
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    assert_int_equal(mtm_respond(&r, 200, "text/plain", NULL, 0, "hi", 2), MTM_EIO);
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_respond_headers_too_big(void **state)
{
    (void)state;
    static char big[3000];
    memset(big, 'v', sizeof(big) - 1);
    struct fake *f = fake_new();
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    const struct mtm_header extra[] = {{"X-Big", big}};
    assert_int_equal(mtm_respond(&r, 200, "text/plain", extra, 1, "x", 1), MTM_EINTERNAL);
    assert_int_equal(f->out.len, 0); /* nothing half-written */
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_respond_json(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string("/a/b"));
    assert_int_equal(mtm_respond_json(&r, 200, o, NULL, 0), 0);
    json_object_put(o);
    struct parsed p;
    parse_output(mtm_buf_cstr(&f->out), &p);
    assert_string_equal(p.status_line, "Status: 200 OK");
    assert_string_equal(header_of(&p, "Content-Type"), "application/json");
    assert_string_equal(p.body, "{\"path\":\"/a/b\"}");
    assert_string_equal(header_of(&p, "Content-Length"), "15");
    mtm_request_cleanup(&r);
    fake_free(f);
}

static void test_respond_problem(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    struct mtm_fault fault = {0};
    mtm_fault_field(&fault, "concurrency", "must be from 1 to 64");
    mtm_fault_set(&fault, MTM_EINVAL, "bad %s", "field");
    struct json_object *prob = mtm_fault_problem(&fault);
    mtm_fault_reset(&fault);
    const struct mtm_header extra[] = {{"Retry-After", "1"}};
    assert_int_equal(mtm_respond_problem(&r, prob, extra, 1), 0);
    json_object_put(prob);
    assert_int_equal(r.status, 422);
    struct parsed p;
    parse_output(mtm_buf_cstr(&f->out), &p);
    assert_string_equal(p.status_line, "Status: 422 Unprocessable Content");
    assert_string_equal(header_of(&p, "Content-Type"), "application/problem+json");
    assert_string_equal(header_of(&p, "Retry-After"), "1");
    struct json_object *body = json_tokener_parse(p.body);
    assert_non_null(body);
    struct json_object *v;
    assert_true(json_object_object_get_ex(body, "status", &v));
    assert_int_equal(json_object_get_int(v), 422);
    assert_true(json_object_object_get_ex(body, "detail", &v));
    assert_string_equal(json_object_get_string(v), "bad field");
    assert_true(json_object_object_get_ex(body, "errors", &v));
    assert_int_equal(json_object_array_length(v), 1);
    json_object_put(body);
    mtm_request_cleanup(&r);
    fake_free(f);
}

/* A fault answered as the responder does (cgi-bin/answer.c): status,
 * problem body and the headers the status needs. */
static void test_respond_fault(void **state)
{
    (void)state;
    struct fake *f = fake_new();
    fake_set(f, "HTTP_X_REQUEST_ID", "rid-err");
    struct mtm_request r;
    mtm_request_init(&r, &f->io);
    struct mtm_fault fault = {0};
    mtm_fault_set(&fault, MTM_ENOTFOUND, "no tenant %s", "t9");
    struct mtm_header h[MTM_FAULT_HEADERS];
    char retry[MTM_FAULT_RETRY_LEN];
    size_t nh = mtm_fault_headers(&fault, h, retry);
    assert_int_equal(nh, 0);
    struct json_object *prob = mtm_fault_problem(&fault);
    assert_int_equal(mtm_respond_problem(&r, prob, h, nh), 0);
    json_object_put(prob);
    mtm_fault_reset(&fault);
    struct parsed p;
    parse_output(mtm_buf_cstr(&f->out), &p);
    assert_string_equal(p.status_line, "Status: 404 Not Found");
    assert_null(header_of(&p, "Retry-After"));
    assert_string_equal(header_of(&p, "Content-Type"), "application/problem+json");
    assert_string_equal(header_of(&p, "X-Request-Id"), "rid-err");
    struct json_object *body = json_tokener_parse(p.body);
    assert_non_null(body);
    struct json_object *v;
    assert_true(json_object_object_get_ex(body, "title", &v));
    assert_string_equal(json_object_get_string(v), "Not Found");
    assert_true(json_object_object_get_ex(body, "detail", &v));
    assert_string_equal(json_object_get_string(v), "no tenant t9");
    json_object_put(body);
    mtm_request_cleanup(&r);
    fake_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_method_path_query),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_init_defaults),
        cmocka_unit_test(test_init_content_length),
        cmocka_unit_test(test_request_id_generated),
        cmocka_unit_test(test_request_id_accepted),
        cmocka_unit_test(test_request_id_invalid_replaced),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_header_name_mapping),
        cmocka_unit_test(test_read_body_within_limit),
        cmocka_unit_test(test_read_body_exactly_at_limit),
        cmocka_unit_test(test_read_body_declared_over_limit),
        cmocka_unit_test(test_read_body_actual_over_limit),
        cmocka_unit_test(test_read_body_stream_error),
        cmocka_unit_test(test_parse_json_errors),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_respond_format),
        cmocka_unit_test(test_respond_without_body),
        cmocka_unit_test(test_respond_write_failure),
        cmocka_unit_test(test_respond_headers_too_big),
        cmocka_unit_test(test_respond_json),
        cmocka_unit_test(test_respond_problem),
        cmocka_unit_test(test_respond_fault),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
