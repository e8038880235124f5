/*
 * testutil: assertions the C tests share (include after <cmocka.h>).
 */
#ifndef MTM_TESTUTIL_H
#define MTM_TESTUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Fails, printing both strings, unless hay contains needle. */
#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *hay_ = (hay), *needle_ = (needle);                                             \
        if (!strstr(hay_, needle_)) {                                                              \
            print_message("\"%s\" does not contain \"%s\"\n", hay_, needle_);                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/*
 * A listening socket on 127.0.0.1 that nobody ever answers on: the kernel
 * completes TCP handshakes from the backlog, so only a client's own timeout
 * ends a connection attempt. Returns the socket (the caller closes it) and
 * stores its port.
 */
static inline int silent_listener(int *port)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s, 8), 0);
    socklen_t len = sizeof(sa);
    assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return s;
}

/*
 * A fresh folder under /tmp for each test (cmocka setup and teardown:
 * cmocka_unit_test_setup_teardown(t, test_dir_setup, test_dir_teardown));
 * test_dir() names the current one.
 */
static inline char *test_dir(void)
{
    static char dir[64];
    return dir;
}

static inline int test_dir_setup(void **state)
{
    (void)state;
    snprintf(test_dir(), 64, "/tmp/mtm-test-XXXXXX");
    return mkdtemp(test_dir()) ? 0 : -1;
}

static inline int test_dir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", test_dir());
    return system(cmd) == 0 ? 0 : -1;
}

#endif
