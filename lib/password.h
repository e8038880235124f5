/*
 * password: hashing and checking passwords with crypt(3) (libxcrypt).
 *
 * New hashes use yescrypt ("$y$", the Debian default) with a random salt.
 * Checking runs crypt over the stored setting and compares the results in
 * constant time. mtm_password_check_dummy burns the same work for an unknown
 * user, so response times do not tell which usernames exist.
 */
#ifndef MTM_PASSWORD_H
#define MTM_PASSWORD_H

#include <stdbool.h>

#include "err.h"

/* Longest password crypt(3) hashes (CRYPT_MAX_PASSPHRASE_SIZE - 1). */
#define MTM_PASSWORD_MAX 511

/* A new hash of password; the caller frees it. MTM_EINVAL when password is
 * longer than MTM_PASSWORD_MAX bytes. */
int mtm_password_hash(const char *password, char **out) MTM_MUST_CHECK;
/* True when password matches hash (never for one over MTM_PASSWORD_MAX). */
bool mtm_password_check(const char *password, const char *hash);
/* Compares two secrets in time independent of where they differ. */
bool mtm_password_equal(const char *a, const char *b);
/* Spends the time of a check against nothing. */
void mtm_password_check_dummy(const char *password);

#endif
