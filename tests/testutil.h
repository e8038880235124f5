/*
 * testutil: assertions the C tests share (include after <cmocka.h>).
 */
#ifndef MTM_TESTUTIL_H
#define MTM_TESTUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
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

#endif
