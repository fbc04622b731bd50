// What background work in a subsystem may ask of its environment: start a
// detached task, read the clocks, wait. Subsystems that must run inside the
// deterministic simulator (storage, raft) take an executor& instead of
// calling the reactor, so the simulator can substitute its own.
//
// Implementations: reactor::shard_executor (production, one per shard) and
// the simulator's single-threaded executor with virtual time.
#pragma once

#include <coroutine>
#include <cstdint>
#include <utility>

#include <absl/functional/any_invocable.h>

#include "base/clock.h"
#include "base/task.h"

namespace tl {

// Ends one sleep early (for shutdown). fire() wakes the sleeper waiting on it
// now, or makes the next sleep on it return at once.
class wakeup {
public:
    void fire() {
        _fired = true;
        if (_on_fire) std::exchange(_on_fire, nullptr)();
    }
    bool fired() const noexcept { return _fired; }

    // For executors: what fire() must do while a sleep waits on this.
    void arm(absl::AnyInvocable<void()> on_fire) { _on_fire = std::move(on_fire); }
    void disarm() noexcept { _on_fire = nullptr; }

private:
    absl::AnyInvocable<void()> _on_fire;
    bool _fired = false;
};

class executor {
public:
    virtual ~executor() = default;

    // Runs `work` to completion in the background on this executor.
    virtual void spawn(task<void> work) = 0;
    // Resumes a suspended coroutine soon (never inline).
    virtual void schedule(std::coroutine_handle<> handle) = 0;
    // Monotonic time, for timeouts and intervals.
    virtual steady_time now() const noexcept = 0;
    // Wall-clock milliseconds since the Unix epoch, for record timestamps
    // and time-based retention.
    virtual int64_t wall_time_ms() const noexcept = 0;
    // Completes after `delay` has passed on now()'s clock.
    virtual task<void> sleep(duration_ns delay) = 0;
    // The same, or earlier if `early` fires (at once if it already has).
    virtual task<void> sleep(duration_ns delay, wakeup& early) = 0;
};

}  // namespace tl
