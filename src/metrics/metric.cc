// See metric.h.
#include "metrics/metric.h"

namespace tl::metrics {

histogram::histogram(const histogram_layout& layout) : _layout(layout) {
    TL_ASSERT(_layout.valid(), "histogram layout out of bounds");
}

histogram_snapshot histogram::snapshot() const {
    histogram_snapshot out;
    const unsigned buckets = _layout.bucket_count() + 1;
    out.buckets.reserve(buckets);
    for (unsigned i = 0; i < buckets; ++i) {
        out.buckets.push_back(_buckets[i].load(std::memory_order_relaxed));
    }
    out.sum = _sum.load(std::memory_order_relaxed);
    return out;
}

}  // namespace tl::metrics
