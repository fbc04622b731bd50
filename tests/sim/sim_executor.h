// A deterministic single-threaded executor with virtual time.
//
// Ready tasks run in an order chosen by a seeded generator, so one seed is
// one interleaving and replays exactly. Time moves only when nothing is
// ready: it jumps to the next sleeper's deadline.
#pragma once

#include <coroutine>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "base/assert.h"
#include "base/executor.h"

namespace tl::sim {

class sim_executor final : public executor {
public:
    explicit sim_executor(uint64_t seed) : _random(seed) {}
    ~sim_executor() override;

    void spawn(task<void> work) override;
    steady_time now() const noexcept override { return _now; }
    int64_t wall_time_ms() const noexcept override {
        return wall_epoch_ms + std::chrono::duration_cast<std::chrono::milliseconds>(
                                   _now.time_since_epoch())
                                   .count();
    }
    task<void> sleep(duration_ns delay) override;
    task<void> sleep(duration_ns delay, wakeup& early) override;

    // Resumes `handle` later, in a seeded order among the other ready tasks.
    void schedule(std::coroutine_handle<> handle) override { _ready.push_back(handle); }
    // An awaitable that gives the other ready tasks a chance to run first.
    auto yield() {
        struct awaiter {
            sim_executor& self;
            bool await_ready() const noexcept { return false; }
            void await_suspend(std::coroutine_handle<> h) { self.schedule(h); }
            void await_resume() const noexcept {}
        };
        return awaiter{*this};
    }

    // Runs ready tasks (advancing virtual time to sleepers when idle) until
    // nothing is ready or asleep, or `max_steps` resumptions; returns the
    // number of resumptions.
    uint64_t run(uint64_t max_steps = 100'000'000);
    // Runs until `done()` is true; asserts that it becomes true.
    template <typename Predicate>
    void run_until(Predicate done, uint64_t max_steps = 100'000'000) {
        uint64_t steps = 0;
        while (!done()) {
            TL_ASSERT(steps++ < max_steps, "simulation made no progress");
            TL_ASSERT(step(), "simulation idle before its condition held");
        }
    }
    // Spawns `work` and runs the simulation until it has finished; returns its
    // result (asserts that it finishes).
    template <typename T>
    T run_task(task<T> work) {
        std::optional<T> out;
        spawn([](task<T> w, std::optional<T>& o) -> task<void> {
            o.emplace(co_await std::move(w));
        }(std::move(work), out));
        run_until([&] { return out.has_value(); });
        return std::move(*out);
    }
    void run_task(task<void> work) {
        bool done = false;
        spawn([](task<void> w, bool& d) -> task<void> {
            co_await std::move(w);
            d = true;
        }(std::move(work), done));
        run_until([&] { return done; });
    }

    // Drops every task that is still suspended (after a simulated crash):
    // their frames are destroyed without being resumed.
    void abandon_all();

    std::mt19937_64& random() noexcept { return _random; }
    static constexpr int64_t wall_epoch_ms = 1'700'000'000'000;

private:
    bool step();

    std::mt19937_64 _random;
    steady_time _now{};
    std::vector<std::coroutine_handle<>> _ready;
    struct sleeper {
        std::coroutine_handle<> handle;
        wakeup* early = nullptr;
    };
    std::multimap<steady_time, sleeper> _sleepers;
    std::vector<std::coroutine_handle<>> _spawned;  // detached frames we own
};

}  // namespace tl::sim
