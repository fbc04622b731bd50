// The production executor: the calling shard's ready queue, timers and clocks.
// One per shard; use it only on that shard.
#pragma once

#include <chrono>

#include "base/executor.h"
#include "reactor/shard.h"

namespace tl::reactor {

// A timer-driven sleep that wakeup::fire() can end early.
class interruptible_sleep final : private timer_node {
public:
    interruptible_sleep(shard& s, duration_ns delay, wakeup& early) noexcept
        : _shard(s), _delay(delay), _early(early) {}
    ~interruptible_sleep() { _early.disarm(); }
    bool await_ready() const noexcept { return _delay.count() <= 0; }
    void await_suspend(std::coroutine_handle<> handle) {
        _handle = handle;
        _shard.timers().arm(this, _shard.now() + _delay);
        _early.arm([this] {
            _shard.timers().cancel(this);
            _shard.schedule(_handle);
        });
    }
    void await_resume() const noexcept {}

private:
    void fire() noexcept override {
        _early.disarm();
        _handle.resume();
    }
    shard& _shard;
    duration_ns _delay;
    wakeup& _early;
    std::coroutine_handle<> _handle;
};

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
    task<void> sleep(duration_ns delay, wakeup& early) override {
        if (early.fired()) co_return;
        co_await interruptible_sleep(_shard, delay, early);
    }

private:
    shard& _shard;
};

}  // namespace tl::reactor
