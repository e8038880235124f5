/*
 * hash: FNV-1a 64 over strings, continued across calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hash.h"
#include "uuid.h"

static void test_known_values(void **state)
{
    (void)state;
    /* Published FNV-1a 64 test vectors. */
    assert_true(mtm_hash_str(MTM_HASH_INIT, "") == 0xcbf29ce484222325ULL);
    assert_true(mtm_hash_str(MTM_HASH_INIT, "a") == 0xaf63dc4c8601ec8cULL);
    assert_true(mtm_hash_str(MTM_HASH_INIT, "foobar") == 0x85944171f73967e8ULL);
    /* Continuing over pieces is hashing the whole. */
    assert_true(mtm_hash_str(mtm_hash_str(MTM_HASH_INIT, "foo"), "bar") ==
                mtm_hash_str(MTM_HASH_INIT, "foobar"));
}

static void test_uuid_key(void **state)
{
    (void)state;
    char key[MTM_UUID_STRLEN + 1];
    assert_true(mtm_uuid_key("0B5E7C3A-1111-4222-8333-944445555666", key));
    assert_string_equal(key, "0b5e7c3a-1111-4222-8333-944445555666");
    assert_false(mtm_uuid_key("not-a-uuid", key));
    assert_false(mtm_uuid_key("0b5e7c3a-1111-4222-8333-94444555566", key));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_uuid_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
