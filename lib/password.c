/* password: see password.h. */
#include "password.h"

#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* A valid yescrypt hash of a random password nobody knows. */
static const char dummy_hash[] =
    "$y$j9T$38a9MtTMz02vRpR3nhl.T/$9rXNoI2zXtpIbTLFaRZFDnaBf3Cwk3x.3toDL9rKKv3";

int mtm_password_hash(const char *password, char **out)
{
    *out = NULL;
    if (strlen(password) > MTM_PASSWORD_MAX)
        return MTM_EINVAL; /* crypt would answer "*0" */
    char *salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
    if (!salt)
        return MTM_EIO;
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(password, salt, cd);
    int rc = 0;
    if (!h || h[0] == '*')
        rc = MTM_EINTERNAL;
    else
        *out = xstrdup(h);
    free(cd);
    free(salt);
    return rc;
}

bool mtm_password_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

bool mtm_password_check(const char *password, const char *hash)
{
    if (!hash || !*hash)
        return false;
    struct crypt_data *cd = xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(password, hash, cd);
    bool ok = h && h[0] != '*' && mtm_password_equal(h, hash);
    free(cd);
    return ok;
}

void mtm_password_check_dummy(const char *password)
{
    (void)mtm_password_check(password, dummy_hash);
}
