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

#include "base/clock.h"
#include "base/task.h"

namespace tl {

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
};

}  // namespace tl
