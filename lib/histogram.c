/* histogram: see histogram.h. */
#include "histogram.h"

#include <stdio.h>
#include <stdlib.h>

/* Decimals of one unit in seconds: 3 for 1000 (ms); -1 unless a power of ten. */
static int unit_decimals(int64_t units_per_s)
{
    int d = 0;
    for (int64_t u = 1; u <= 1000000000; u *= 10, d++)
        if (u == units_per_s)
            return d;
    return -1;
}

int mtm_histogram_layout_check(const struct mtm_histogram_layout *layout, char *err, size_t errlen)
{
    if (unit_decimals(layout->units_per_s) < 0) {
        snprintf(err, errlen,
                 "histogram: units per second must be a power of ten up to 10^9 (got %lld)",
                 (long long)layout->units_per_s);
        return MTM_EINVAL;
    }
    if (layout->nbounds < 1 || layout->nbounds > MTM_HISTOGRAM_MAX_BOUNDS) {
        snprintf(err, errlen, "histogram: must have 1 to %d bounds (got %zu)",
                 MTM_HISTOGRAM_MAX_BOUNDS, layout->nbounds);
        return MTM_EINVAL;
    }
    for (size_t b = 0; b < layout->nbounds; b++) {
        if (layout->bounds[b] < 0 || (b > 0 && layout->bounds[b] <= layout->bounds[b - 1])) {
            snprintf(err, errlen,
                     "histogram: bounds must be >= 0 and strictly increasing (bound %zu is %lld)",
                     b, (long long)layout->bounds[b]);
            return MTM_EINVAL;
        }
    }
    return 0;
}

void mtm_histogram_init(struct mtm_histogram *h, const struct mtm_histogram_layout *layout)
{
    char err[160];
    if (mtm_histogram_layout_check(layout, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    h->layout = layout;
    for (size_t b = 0; b <= MTM_HISTOGRAM_MAX_BOUNDS; b++)
        atomic_init(&h->buckets[b], 0);
    atomic_init(&h->sum, 0);
}

void mtm_histogram_observe(struct mtm_histogram *h, int64_t value)
{
    if (value < 0)
        value = 0; /* a clock stepped back, or another host's clock disagrees */
    size_t b = 0;
    while (b < h->layout->nbounds && value > h->layout->bounds[b])
        b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, (unsigned long long)value, memory_order_relaxed);
}

unsigned long long mtm_histogram_count(const struct mtm_histogram *h)
{
    unsigned long long n = 0;
    for (size_t b = 0; b <= h->layout->nbounds; b++)
        n += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
    return n;
}

int mtm_histogram_header(struct mtm_buf *out, const char *name, const char *help)
{
    return mtm_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
}

int mtm_histogram_render(const struct mtm_histogram *h, const char *name, const char *labels,
                         struct mtm_buf *out)
{
    const struct mtm_histogram_layout *l = h->layout;
    const char *sep = labels[0] ? "," : "";
    double unit = (double)l->units_per_s;
    unsigned long long cumulative = 0;
    int rc = 0;
    for (size_t b = 0; !rc && b <= l->nbounds; b++) {
        cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        char le[32] = "+Inf";
        if (b < l->nbounds)
            snprintf(le, sizeof(le), "%g", (double)l->bounds[b] / unit);
        rc = mtm_buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le,
                            cumulative);
    }
    if (rc)
        return rc;
    /* Braces only around a label list: `N_sum 1.5`, not `N_sum{} 1.5`. */
    const char *open = labels[0] ? "{" : "", *close = labels[0] ? "}" : "";
    double sum = (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / unit;
    return mtm_buf_printf(out, "%s_sum%s%s%s %.*f\n%s_count%s%s%s %llu\n", name, open, labels,
                          close, unit_decimals(l->units_per_s), sum, name, open, labels, close,
                          cumulative);
}
