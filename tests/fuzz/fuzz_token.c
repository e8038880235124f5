/*
 * fuzz_token: the Authorization header's token. Arbitrary text is verified
 * against a fixed secret: it must never crash and never verify unless it is
 * a well-formed HS256 token signed with that secret (which random bytes
 * cannot be). The first input byte chooses a second mode that signs claims
 * built from the input and checks that verification returns them intact.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char secret[] = "fuzzing-secret-of-at-least-32-bytes!!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct mtm_claims c;
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    if (size > 1 && data[0] == 0xff) {
        /* Round trip: sign claims made of the input, verify them back. */
        struct mtm_claims in = {.role = (data[1] & 1) ? MTM_ROLE_ADMIN : MTM_ROLE_TENANT};
        snprintf(in.sub, sizeof(in.sub), "%.*s", (int)(size - 2), text + 2);
        snprintf(in.tenant_id, sizeof(in.tenant_id), "0190f4c2-8f5a-7c3e-9a1b-2c3d4e5f6a7b");
        snprintf(in.jti, sizeof(in.jti), "0190f4c2-8f5a-7c3e-9a1b-2c3d4e5f6a7c");
        in.iat = in.nbf = 1700000000;
        in.exp = in.iat + 60;
        char *tok = NULL;
        if (strlen(in.sub) == size - 2 && memchr(in.sub, 0, size - 2) == NULL &&
            mtm_token_sign(&in, secret, &tok, err, sizeof(err)) == 0) {
            if (mtm_token_verify(tok, secret, in.iat, &c, err, sizeof(err)) != 0 ||
                strcmp(c.sub, in.sub) != 0 || c.role != in.role)
                abort();
            free(tok);
        }
    } else if (mtm_token_verify(text, secret, 1700000000, &c, err, sizeof(err)) == 0) {
        abort(); /* random bytes carry a valid signature: impossible */
    }
    free(text);
    return 0;
}
