/* timeutil: see timeutil.h. */
#include "timeutil.h"

#include <errno.h>
#include <time.h>

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mtm_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t mtm_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mtm_wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

bool mtm_sleep_ms(int64_t ms, const atomic_bool *stop)
{
    int64_t deadline = mtm_mono_ms() + ms;
    for (;;) {
        if (stop && atomic_load(stop))
            return true;
        int64_t left = deadline - mtm_mono_ms();
        if (left <= 0)
            return false;
        if (left > 50)
            left = 50;
        struct timespec ts = {left / 1000, (left % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}
