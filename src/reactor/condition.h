// Shard-local waiting: a condition that tasks wait on (optionally with a
// deadline) and that notify_all() wakes, and a gate that tracks spawned tasks
// so that their owner can wait for all of them to finish.
//
// Both belong to the shard that created them; waiters, notifiers and the
// tasks a gate tracks all run there. Waking never resumes a waiter inline: it
// is scheduled on the shard's ready queue, so notify_all() is safe to call
// from anywhere on the shard, including from a waiter's own callers.
#pragma once

#include <coroutine>
#include <cstddef>

#include "base/clock.h"
#include "base/task.h"
#include "reactor/shard.h"
#include "reactor/timer.h"

namespace tl::reactor {

class condition {
public:
    class awaiter;

    condition() = default;
    condition(const condition&) = delete;
    condition& operator=(const condition&) = delete;
    ~condition() { TL_ASSERT(_head == nullptr, "condition destroyed with waiters"); }

    // Suspends until notify_all(). co_await yields true.
    awaiter wait() noexcept;
    // Suspends until notify_all() or `deadline`, whichever comes first;
    // co_await yields true if notified, false on the deadline.
    awaiter wait_until(steady_time deadline) noexcept;

    // Wakes every task waiting now (not the ones that start waiting later).
    void notify_all() noexcept;
    bool has_waiters() const noexcept { return _head != nullptr; }

private:
    friend class awaiter;
    void link(awaiter* w) noexcept;
    void unlink(awaiter* w) noexcept;
    awaiter* _head = nullptr;
    awaiter* _tail = nullptr;
};

class condition::awaiter final : private timer_node {
public:
    awaiter(condition& c, std::optional<steady_time> deadline) noexcept
        : _condition(c), _deadline(deadline) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    ~awaiter() {
        if (_linked) _condition.unlink(this);
        if (armed()) shard::local().timers().cancel(this);
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> handle) noexcept {
        _handle = handle;
        _condition.link(this);
        if (_deadline) shard::local().timers().arm(this, *_deadline);
    }
    bool await_resume() const noexcept { return _notified; }

private:
    friend class condition;
    void fire() noexcept override;  // the deadline passed
    void wake(bool notified) noexcept;

    condition& _condition;
    std::optional<steady_time> _deadline;
    std::coroutine_handle<> _handle;
    awaiter* _prev = nullptr;
    awaiter* _next = nullptr;
    bool _linked = false;
    bool _notified = false;
};

inline condition::awaiter condition::wait() noexcept { return awaiter(*this, std::nullopt); }
inline condition::awaiter condition::wait_until(steady_time deadline) noexcept {
    return awaiter(*this, deadline);
}

// Tracks background tasks: spawn() runs one on this shard, wait() completes
// once every task spawned so far (and any spawned while waiting) is done.
//
//   gate g;
//   for (auto& p : partitions) g.spawn(append_one(p));
//   co_await g.wait();
class gate {
public:
    gate() = default;
    gate(const gate&) = delete;
    gate& operator=(const gate&) = delete;
    ~gate() { TL_ASSERT(_running == 0, "gate destroyed with tasks running"); }

    void spawn(task<void> work);
    task<void> wait();
    size_t running() const noexcept { return _running; }

private:
    task<void> run(task<void> work);
    size_t _running = 0;
    condition _idle;
};

}  // namespace tl::reactor
