/*
 * fuzz_cursor: the cursor decoder. Any text either decodes to a key that
 * encodes back to exactly the same text (one encoding per position), or is
 * refused with MTM_EPARSE. Inputs of 9+ bytes also seal their first eight
 * bytes as a key, under a scope taken from the rest, and open it again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mtm_cursor_key *fuzz_key(void)
{
    static struct mtm_cursor_key key;
    static int ready;
    if (!ready) {
        static const char secret[] = "fuzz_cursor's secret, 32+ bytes long";
        if (mtm_cursor_key_init(&key, secret, sizeof(secret) - 1))
            abort();
        ready = 1;
    }
    return &key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct mtm_cursor_key *k = fuzz_key();
    char text[256];
    if (size >= sizeof(text))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t key;
    int rc = mtm_cursor_decode(k, "md", "all", text, &key);
    if (rc) {
        if (rc != MTM_EPARSE)
            abort();
    } else {
        char again[MTM_CURSOR_MAX];
        if (key < 0 || mtm_cursor_encode(k, "md", "all", key, again, sizeof(again)) != 0 ||
            strcmp(again, text) != 0)
            abort();
        unsigned char raw[256];
        if (mtm_base64url_decode(text, raw, sizeof(raw)) < 0)
            abort();
    }

    if (size > 8) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u = (u << 8) | data[i];
        int64_t want = (int64_t)(u >> 1);
        char scope[MTM_CURSOR_SCOPE_MAX + 1], enc[MTM_CURSOR_MAX];
        size_t sl = strnlen(text + 8, MTM_CURSOR_SCOPE_MAX);
        memcpy(scope, text + 8, sl);
        scope[sl] = '\0';
        int64_t back;
        if (mtm_cursor_encode(k, "ma", scope, want, enc, sizeof(enc)) != 0 ||
            mtm_cursor_decode(k, "ma", scope, enc, &back) != 0 || back != want ||
            mtm_cursor_decode(k, "md", scope, enc, &back) != MTM_EPARSE)
            abort();
    }
    return 0;
}
