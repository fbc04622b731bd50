// The three kinds of value a probe keeps: counter, gauge, histogram.
//
//   counter requests;            requests.add();              // owning shard only
//   gauge busy;                  busy.set(0.42);              // owning shard only
//   histogram latency(latency_layout);  latency.record(ns);   // owning shard only
//   requests.value(), latency.snapshot()                      // any thread
//
// Single writer, any reader: each value is written by exactly one thread (the
// shard that owns the probe) with a relaxed load and a relaxed store — no
// read-modify-write, no fence, on x86 the same instructions as a plain
// `+= n` — and read by the scrape thread with relaxed loads. A reader may see
// a histogram half-way through one record() (a bucket counted, the sum not
// yet): Prometheus tolerates that; it never sees a torn 64-bit value.
//
// Histograms are log-linear: each power of two between 2^min_exponent and
// 2^max_exponent is split into `sub_buckets` equal steps, so the relative
// error is at most 1/sub_buckets across many orders of magnitude, and
// record() is a count-leading-zeros and a shift, never a search.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/assert.h"

namespace tl::metrics {

// Adds `n` to a value only this thread writes.
inline void single_writer_add(std::atomic<uint64_t>& value, uint64_t n) noexcept {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

class counter {
public:
    void add(uint64_t n = 1) noexcept { single_writer_add(_value, n); }
    uint64_t value() const noexcept { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> _value{0};
};

class gauge {
public:
    void set(double v) noexcept { _value.store(v, std::memory_order_relaxed); }
    void set(int64_t v) noexcept { set(static_cast<double>(v)); }
    void set(uint64_t v) noexcept { set(static_cast<double>(v)); }
    double value() const noexcept { return _value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> _value{0.0};
    static_assert(std::atomic<double>::is_always_lock_free);
};

// Bucket layout of a histogram, in the unit it records (e.g. nanoseconds).
// Upper bounds: 2^min_exponent, then 2^e * (1 + s / sub_buckets) for each
// octave e in [min_exponent, max_exponent) and s in 1..sub_buckets; values
// above 2^max_exponent land in +Inf only.
struct histogram_layout {
    static constexpr unsigned max_buckets = 256;

    unsigned min_exponent = 10;  // 2^10 ns = 1.024 us
    unsigned max_exponent = 35;  // 2^35 ns = 34.4 s
    unsigned sub_buckets_log2 = 2;  // 4 steps per power of two
    double unit_seconds = 1e-9;     // exported in seconds: value * unit_seconds

    constexpr unsigned sub_buckets() const noexcept { return 1u << sub_buckets_log2; }
    // Finite buckets (the +Inf bucket is extra).
    constexpr unsigned bucket_count() const noexcept {
        return 1 + (max_exponent - min_exponent) * sub_buckets();
    }
    constexpr bool valid() const noexcept {
        return min_exponent >= sub_buckets_log2 && max_exponent > min_exponent &&
               max_exponent < 64 && bucket_count() + 1 <= max_buckets;
    }
    // The inclusive upper bound of finite bucket `index`, in the recorded unit.
    uint64_t upper_bound(unsigned index) const noexcept;
    // The bucket a value falls in; bucket_count() for +Inf.
    unsigned bucket_of(uint64_t value) const noexcept;
};

// Request latencies, flushes: 1 us to 34 s in nanoseconds, within 25%.
inline constexpr histogram_layout latency_layout{};

// What a scrape reads from a histogram: per-bucket (not cumulative) counts,
// the last one being +Inf, and the sum in the recorded unit.
struct histogram_snapshot {
    std::vector<uint64_t> buckets;
    uint64_t sum = 0;
};

class histogram {
public:
    explicit histogram(const histogram_layout& layout = latency_layout);
    histogram(const histogram&) = delete;
    histogram& operator=(const histogram&) = delete;

    void record(uint64_t value) noexcept {
        single_writer_add(_buckets[_layout.bucket_of(value)], 1);
        single_writer_add(_sum, value);
    }

    const histogram_layout& layout() const noexcept { return _layout; }
    histogram_snapshot snapshot() const;

private:
    const histogram_layout _layout;
    std::array<std::atomic<uint64_t>, histogram_layout::max_buckets> _buckets{};
    std::atomic<uint64_t> _sum{0};
};

inline uint64_t histogram_layout::upper_bound(unsigned index) const noexcept {
    TL_ASSERT(index < bucket_count());
    if (index == 0) return uint64_t{1} << min_exponent;
    const unsigned octave = min_exponent + (index - 1) / sub_buckets();
    const uint64_t step = (index - 1) % sub_buckets() + 1;
    const uint64_t base = uint64_t{1} << octave;
    return base + step * (base >> sub_buckets_log2);
}

inline unsigned histogram_layout::bucket_of(uint64_t value) const noexcept {
    if (value <= (uint64_t{1} << min_exponent)) return 0;
    // Bounds are inclusive: find the octave of value - 1.
    const uint64_t below = value - 1;
    const unsigned octave = 63 - static_cast<unsigned>(std::countl_zero(below));
    if (octave >= max_exponent) return bucket_count();
    const uint64_t step = (below - (uint64_t{1} << octave)) >> (octave - sub_buckets_log2);
    return 1 + (octave - min_exponent) * sub_buckets() + static_cast<unsigned>(step);
}

}  // namespace tl::metrics
