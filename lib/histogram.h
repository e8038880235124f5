/*
 * histogram: a Prometheus histogram with fixed buckets, safe to observe from
 * any thread while another renders it.
 *
 * A layout (struct mtm_histogram_layout) is constant data shared by every
 * histogram of one metric: the unit observations are given in, as a power
 * of ten per second (1000: milliseconds, 1000000: microseconds), and the
 * buckets' upper bounds in that unit, strictly increasing; +Inf is implied.
 * Values are integers, so a value on a bound falls in that bound's bucket
 * without floating-point doubt.
 *
 * struct mtm_histogram is embedded in its owner's struct. It counts each
 * observation once, in the one bucket it falls in, plus the sum: two atomic
 * additions, no lock. Rendering adds the buckets up into Prometheus'
 * cumulative `le` series, so within one scrape the series never decreases
 * and _count always equals the +Inf bucket, even while threads observe.
 *
 * Text written by mtm_histogram_render, for name N and labels L:
 *
 *   N_bucket{L,le="B"} C     one line per bound (B in seconds, printed %g),
 *   N_bucket{L,le="+Inf"} C  then +Inf
 *   N_sum{L} S               seconds, with as many decimals as the unit has
 *   N_count{L} C
 *
 * L is the caller's label list, already formatted and escaped (`a="x",b="y"`),
 * or "" for none; the # HELP and # TYPE lines come from
 * mtm_histogram_header, once per metric.
 */
#ifndef MTM_HISTOGRAM_H
#define MTM_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define MTM_HISTOGRAM_MAX_BOUNDS 16

struct mtm_histogram_layout {
    int64_t units_per_s;                      /* 10^k for k in 0..9 */
    size_t nbounds;                           /* 1..MTM_HISTOGRAM_MAX_BOUNDS */
    int64_t bounds[MTM_HISTOGRAM_MAX_BOUNDS]; /* upper bounds in units, strictly increasing, >= 0 */
};

struct mtm_histogram {
    const struct mtm_histogram_layout *layout; /* borrowed; must outlive the histogram */
    atomic_ullong
        buckets[MTM_HISTOGRAM_MAX_BOUNDS + 1]; /* per bucket, not cumulative; last: +Inf */
    atomic_ullong sum;                         /* in units */
};

/* 0 when layout is usable, MTM_EINVAL (reason in err) when not. */
int mtm_histogram_layout_check(const struct mtm_histogram_layout *layout, char *err,
                               size_t errlen) MTM_MUST_CHECK;

/*
 * Empties h and ties it to layout. A layout that fails
 * mtm_histogram_layout_check is a programming error (layouts are constants):
 * init says so on stderr and aborts. Nothing to clean up afterwards.
 */
void mtm_histogram_init(struct mtm_histogram *h, const struct mtm_histogram_layout *layout);

/* Counts one value (in the layout's unit); a negative value counts as 0. */
void mtm_histogram_observe(struct mtm_histogram *h, int64_t value);

/* Observations so far. */
unsigned long long mtm_histogram_count(const struct mtm_histogram *h);

/* The # HELP and # TYPE lines of histogram `name`. */
int mtm_histogram_header(struct mtm_buf *out, const char *name, const char *help) MTM_MUST_CHECK;

/* Appends h's samples (see above); MTM_ETOOBIG when out is full. */
int mtm_histogram_render(const struct mtm_histogram *h, const char *name, const char *labels,
                         struct mtm_buf *out) MTM_MUST_CHECK;

#endif
