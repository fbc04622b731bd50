#include "dpdk/tsc_clock.h"

#include <time.h>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "base/assert.h"

namespace tl::dpdk {
namespace {

__extension__ using uint128 = unsigned __int128;

uint64_t clock_ns(clockid_t clock) noexcept {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// ns per tick × 2^32 from a span of ns over a span of ticks.
uint64_t rate(uint64_t elapsed_ns, uint64_t elapsed_ticks) noexcept {
    TL_ASSERT(elapsed_ticks > 0);
    return static_cast<uint64_t>((static_cast<uint128>(elapsed_ns) << 32) / elapsed_ticks);
}

// Shortest rate baseline recalibrate() trusts (shorter: keep the old rate).
constexpr uint64_t min_baseline_ns = 1'000'000;

}  // namespace

uint64_t tsc_clock::read_tsc() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    return clock_ns(CLOCK_MONOTONIC_RAW);  // "ticks" are ns where there is no TSC
#endif
}

bool tsc_clock::tsc_is_invariant() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx) == 0) return false;
    return (edx & (1u << 8)) != 0;
#else
    return false;
#endif
}

tsc_clock::sample tsc_clock::take_sample() noexcept {
    // Keep the read whose TSC bracket around clock_gettime is tightest.
    sample best;
    uint64_t best_width = UINT64_MAX;
    for (int attempt = 0; attempt < 4; ++attempt) {
        const uint64_t before = read_tsc();
        const uint64_t realtime = clock_ns(CLOCK_REALTIME);
        const uint64_t after = read_tsc();
        const uint64_t monotonic = clock_ns(CLOCK_MONOTONIC);
        if (after - before < best_width) {
            best_width = after - before;
            best = {before + (after - before) / 2, realtime, monotonic};
        }
    }
    return best;
}

tsc_clock::tsc_clock(uint64_t tsc_hz) noexcept {
    _origin = take_sample();
    if (tsc_hz != 0) {
        _base_mult = rate(1'000'000'000u, tsc_hz);
    } else {
        const timespec pause{0, static_cast<long>(calibration_ns)};
        nanosleep(&pause, nullptr);
        const sample second = take_sample();
        _base_mult = rate(second.monotonic_ns - _origin.monotonic_ns, second.tsc - _origin.tsc);
    }
    _anchor_tsc.store(_origin.tsc, std::memory_order_relaxed);
    _anchor_ns.store(_origin.realtime_ns, std::memory_order_relaxed);
    _mult.store(_base_mult, std::memory_order_release);
}

tsc_clock::tsc_clock(const sample& origin, const sample& anchor) noexcept : _origin(origin) {
    TL_ASSERT(anchor.tsc > origin.tsc && anchor.monotonic_ns > origin.monotonic_ns);
    _base_mult = rate(anchor.monotonic_ns - origin.monotonic_ns, anchor.tsc - origin.tsc);
    _anchor_tsc.store(anchor.tsc, std::memory_order_relaxed);
    _anchor_ns.store(anchor.realtime_ns, std::memory_order_relaxed);
    _mult.store(_base_mult, std::memory_order_release);
}

uint64_t tsc_clock::convert(const line& l, uint64_t tsc) noexcept {
    if (tsc <= l.anchor_tsc) return l.anchor_ns;
    return l.anchor_ns +
           static_cast<uint64_t>((static_cast<uint128>(tsc - l.anchor_tsc) * l.mult) >> 32);
}

tsc_clock::line tsc_clock::load() const noexcept {
    for (;;) {
        const uint64_t before = _sequence.load(std::memory_order_acquire);
        const line l{_anchor_tsc.load(std::memory_order_relaxed),
                     _anchor_ns.load(std::memory_order_relaxed),
                     _mult.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if ((before & 1) == 0 && before == _sequence.load(std::memory_order_relaxed)) return l;
    }
}

uint64_t tsc_clock::at(uint64_t tsc) const noexcept { return convert(load(), tsc); }

uint64_t tsc_clock::now_ns() const noexcept {
    // The TSC is read inside the seqlock: a reader that got the old line read
    // it before the writer took its sample, which keeps time monotonic.
    for (;;) {
        const uint64_t before = _sequence.load(std::memory_order_acquire);
        const uint64_t tsc = read_tsc();
        const line l{_anchor_tsc.load(std::memory_order_relaxed),
                     _anchor_ns.load(std::memory_order_relaxed),
                     _mult.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if ((before & 1) == 0 && before == _sequence.load(std::memory_order_relaxed)) {
            return convert(l, tsc);
        }
    }
}

double tsc_clock::tsc_hz() const noexcept {
    return 1e9 * 4294967296.0 / static_cast<double>(_base_mult);
}

void tsc_clock::publish_locked(const sample& now) noexcept {
    const line old{_anchor_tsc.load(std::memory_order_relaxed),
                   _anchor_ns.load(std::memory_order_relaxed),
                   _mult.load(std::memory_order_relaxed)};
    if (now.tsc > _origin.tsc && now.monotonic_ns >= _origin.monotonic_ns + min_baseline_ns) {
        _base_mult = rate(now.monotonic_ns - _origin.monotonic_ns, now.tsc - _origin.tsc);
    }
    const uint64_t current = convert(old, now.tsc);
    line next{std::max(now.tsc, old.anchor_tsc), 0, _base_mult};
    if (now.realtime_ns >= current) {
        next.anchor_ns = now.realtime_ns;  // behind (or exact): step forward
    } else {
        // Ahead: continue from `current`, slower, to meet realtime in slew_ns.
        const uint64_t ahead_ns = std::min(current - now.realtime_ns, slew_ns / 2);
        next.anchor_ns = current;
        next.mult = static_cast<uint64_t>(
            static_cast<uint128>(_base_mult) * (slew_ns - ahead_ns) / slew_ns);
    }
    _anchor_tsc.store(next.anchor_tsc, std::memory_order_relaxed);
    _anchor_ns.store(next.anchor_ns, std::memory_order_relaxed);
    _mult.store(next.mult, std::memory_order_relaxed);
}

void tsc_clock::recalibrate(const sample& now) noexcept {
    const uint64_t sequence = _sequence.load(std::memory_order_relaxed);
    _sequence.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    publish_locked(now);
    _sequence.store(sequence + 2, std::memory_order_release);
}

void tsc_clock::recalibrate() noexcept {
    const uint64_t sequence = _sequence.load(std::memory_order_relaxed);
    _sequence.store(sequence + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    // Sampled inside the write section: see now_ns().
    publish_locked(take_sample());
    _sequence.store(sequence + 2, std::memory_order_release);
}

}  // namespace tl::dpdk
