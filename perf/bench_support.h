// Helpers shared by the perf/ benchmark programs (not part of the product).
//
// Benchmarks time work on a shard with std::chrono::steady_clock directly:
// they measure the real machine, so the clock-injection rule of src/ does not
// apply here. Everything in this file runs on one shard thread unless said.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "base/assert.h"
#include "reactor/shard.h"
#include "reactor/smp.h"

namespace tl::perf {

using bench_clock = std::chrono::steady_clock;

inline int64_t elapsed_ns(bench_clock::time_point since) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(bench_clock::now() - since)
        .count();
}

// Waits on one shard for `count` spawned tasks to call arrive(). The waiter
// resumes through the ready queue, never from inside the last arriver.
class countdown {
public:
    explicit countdown(size_t count) noexcept : _remaining(count) {}
    countdown(const countdown&) = delete;
    countdown& operator=(const countdown&) = delete;

    void arrive() noexcept {
        TL_ASSERT(_remaining > 0, "more arrivals than announced");
        if (--_remaining == 0 && _waiter) {
            reactor::shard::local().schedule(std::exchange(_waiter, nullptr));
        }
    }

    auto wait() noexcept {
        struct awaiter {
            countdown& latch;
            bool await_ready() const noexcept { return latch._remaining == 0; }
            void await_suspend(std::coroutine_handle<> handle) noexcept {
                latch._waiter = handle;
            }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }

private:
    size_t _remaining;
    std::coroutine_handle<> _waiter;
};

inline const char* poll_mode_name(reactor::poll_mode mode) noexcept {
    return mode == reactor::poll_mode::busy ? "busy" : "adaptive";
}

// Starts shards for one benchmark run; on failure marks the run skipped and
// returns null (the caller returns without iterating).
inline std::unique_ptr<reactor::smp> start_shards(benchmark::State& state,
                                                  const reactor::reactor_options& options) {
    auto started = reactor::smp::start(options);
    if (!started) {
        state.SkipWithError(("smp::start: " + started.error()).c_str());
        return nullptr;
    }
    return std::move(*started);
}

// A counter whose reported value is the mean over the iterations of one run.
inline benchmark::Counter per_iteration_mean(double sum) {
    return benchmark::Counter(sum, benchmark::Counter::kAvgIterations);
}

}  // namespace tl::perf
