// The production executor: the calling shard's ready queue, timers and clocks.
// One per shard; use it only on that shard.
#pragma once

#include <chrono>

#include "base/executor.h"
#include "reactor/shard.h"

namespace tl::reactor {

class shard_executor final : public executor {
public:
    shard_executor() : _shard(shard::local()) {}

    void spawn(task<void> work) override {
        TL_ASSERT(&shard::local() == &_shard, "executor used off its shard");
        _shard.spawn(std::move(work));
    }
    void schedule(std::coroutine_handle<> handle) override { _shard.schedule(handle); }
    steady_time now() const noexcept override { return _shard.now(); }
    int64_t wall_time_ms() const noexcept override {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    task<void> sleep(duration_ns delay) override { co_await sleep_for(delay); }

private:
    shard& _shard;
};

}  // namespace tl::reactor
