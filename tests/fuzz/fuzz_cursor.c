/*
 * fuzz_cursor: the cursor decoder. Any text either decodes to a key that
 * encodes back to exactly the same text (one encoding per position), or is
 * refused with MTM_EPARSE.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[256];
    if (size >= sizeof(text))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t key;
    int rc = mtm_cursor_decode("md", text, &key);
    if (rc) {
        if (rc != MTM_EPARSE)
            abort();
        return 0;
    }
    char again[MTM_CURSOR_MAX];
    if (key < 0 || mtm_cursor_encode("md", key, again, sizeof(again)) != 0 ||
        strcmp(again, text) != 0)
        abort();
    unsigned char raw[256];
    long n = mtm_base64url_decode(text, raw, sizeof(raw));
    if (n < 0)
        abort();
    return 0;
}
