/*
 * testutil: assertions the C tests share (include after <cmocka.h>).
 */
#ifndef MTM_TESTUTIL_H
#define MTM_TESTUTIL_H

#include <string.h>

/* Fails, printing both strings, unless hay contains needle. */
#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const char *hay_ = (hay), *needle_ = (needle);                                             \
        if (!strstr(hay_, needle_)) {                                                              \
            print_message("\"%s\" does not contain \"%s\"\n", hay_, needle_);                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#endif
