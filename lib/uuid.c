/*
 * uuid: see uuid.h. The random bits come from getrandom(2); the timestamp
 * from CLOCK_REALTIME in milliseconds. Within one millisecond, ids from one
 * process are ordered only by their random bits; the stored-order key of a
 * message is (stored position), not its id, so no counter is needed.
 */
#include "uuid.h"

#include <ctype.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void mtm_uuid7_format(uint64_t unix_ms, const uint8_t random10[10], char out[MTM_UUID_STRLEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];

    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(unix_ms >> (8 * (5 - i)));
    memcpy(b + 6, random10, 10);
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* variant 10 */

    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0xf];
    }
    out[o] = '\0';
}

int mtm_uuid7_new(char out[MTM_UUID_STRLEN + 1])
{
    uint8_t rnd[10];
    struct timespec ts;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return MTM_EIO;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    mtm_uuid7_format(ms, rnd, out);
    return 0;
}

bool mtm_uuid_valid(const char *s)
{
    if (!s)
        return false;
    for (int i = 0; i < MTM_UUID_STRLEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return s[MTM_UUID_STRLEN] == '\0';
}

bool mtm_uuid_canonical(char *s)
{
    if (!mtm_uuid_valid(s))
        return false;
    for (int i = 0; i < MTM_UUID_STRLEN; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
    return true;
}

bool mtm_uuid_key(const char *id, char key[MTM_UUID_STRLEN + 1])
{
    if (!mtm_uuid_valid(id))
        return false;
    for (int i = 0; i <= MTM_UUID_STRLEN; i++)
        key[i] = (char)tolower((unsigned char)id[i]);
    return true;
}
