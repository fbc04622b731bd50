// Wall-clock time from the TSC, for receive timestamps without a syscall.
//
// now_ns() is realtime (ns since the Unix epoch) computed as
// anchor_ns + (rdtsc() - anchor_tsc) × ns_per_tick, the rate held as a
// 32.32 fixed-point number: a few ns per call, no syscall, no DPDK. The rate
// comes from CLOCK_MONOTONIC (no steps) over the longest baseline seen, the
// phase from CLOCK_REALTIME at each recalibrate().
//
// Contract: never goes backwards. recalibrate() steps forward to realtime when
// the clock is behind; when it is ahead (realtime stepped back, or the rate
// estimate ran fast) it keeps running from where it is, slowed by up to half,
// so that it meets realtime over the next second (a large backward step of
// realtime therefore takes about as long again to absorb).
//
// Threads: any thread may call now_ns()/at() concurrently (a seqlock; readers
// retry only while a recalibration is being published); recalibrate() is
// called by one thread at a time, about once a second, off the hot path.
// Assumes an invariant TSC synchronised across cores (tsc_is_invariant()).
#pragma once

#include <atomic>
#include <cstdint>

namespace tl::dpdk {

class tsc_clock {
public:
    // The TSC read together with both clocks (the TSC value is the midpoint
    // around the CLOCK_REALTIME read; the monotonic read follows it).
    struct sample {
        uint64_t tsc = 0;
        uint64_t realtime_ns = 0;
        uint64_t monotonic_ns = 0;
    };
    // How long the constructor measures the rate when not told it.
    static constexpr uint64_t calibration_ns = 10'000'000;
    // An error of realtime ahead of us is absorbed over this long.
    static constexpr uint64_t slew_ns = 1'000'000'000;

    // Measures the TSC rate (blocks ~calibration_ns), or takes `tsc_hz` when
    // it is non-zero (e.g. dpdk::tsc_hz()); either way the first
    // recalibrate() replaces it with a rate over a longer baseline.
    explicit tsc_clock(uint64_t tsc_hz = 0) noexcept;
    // Deterministic: the rate between two samples, anchored at `anchor`
    // (for tests and the simulator).
    tsc_clock(const sample& origin, const sample& anchor) noexcept;

    tsc_clock(const tsc_clock&) = delete;
    tsc_clock& operator=(const tsc_clock&) = delete;

    uint64_t now_ns() const noexcept;
    // Realtime ns at TSC value `tsc` (clamped to the anchor for earlier values).
    uint64_t at(uint64_t tsc) const noexcept;

    void recalibrate() noexcept;
    void recalibrate(const sample& now) noexcept;

    // The current rate estimate (ticks per second), before any slew.
    double tsc_hz() const noexcept;

    static uint64_t read_tsc() noexcept;
    static sample take_sample() noexcept;
    // CPUID says the TSC runs at a constant rate in every power state.
    static bool tsc_is_invariant() noexcept;

private:
    struct line {
        uint64_t anchor_tsc;
        uint64_t anchor_ns;
        uint64_t mult;  // ns per tick × 2^32
    };
    static uint64_t convert(const line& l, uint64_t tsc) noexcept;
    line load() const noexcept;
    void publish_locked(const sample& now) noexcept;

    // Seqlock: odd while a recalibration is being written.
    alignas(64) std::atomic<uint64_t> _sequence{0};
    std::atomic<uint64_t> _anchor_tsc{0};
    std::atomic<uint64_t> _anchor_ns{0};
    std::atomic<uint64_t> _mult{0};
    // Written only by recalibrate()'s thread.
    sample _origin;
    uint64_t _base_mult = 0;  // the unslewed rate
};

}  // namespace tl::dpdk
