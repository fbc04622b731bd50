// submit_to(shard, fn): the one way work crosses between shards.
//
//   int n = co_await submit_to(owner, [&] { return partitions.size(); });
//   auto r = co_await submit_to(owner, [&]() -> task<append_result> { ... });
//
// `fn` runs on `target` (inline when target is the calling shard) and its
// result comes back to the caller's shard. `fn` stays in the caller's frame,
// so a coroutine lambda's captures live until it finishes. Results are
// constructed on the target inside the caller's frame: values that own
// shard-local memory should travel as foreign_ptr.
//
// Backpressure: at most reactor_options::mailbox_capacity calls from one
// shard to another are in flight; more callers wait (FIFO) for a reply.
#pragma once

#include <coroutine>
#include <optional>
#include <type_traits>
#include <utility>

#include "base/task.h"
#include "reactor/shard.h"

namespace tl::reactor {

template <typename T>
struct unwrap_task {
    using type = T;
    static constexpr bool is_task = false;
};
template <typename T>
struct unwrap_task<task<T>> {
    using type = T;
    static constexpr bool is_task = true;
};

template <typename F>
using call_result_t = typename unwrap_task<std::invoke_result_t<F&>>::type;
template <typename F>
inline constexpr bool returns_task_v = unwrap_task<std::invoke_result_t<F&>>::is_task;

// Runs `fn` here as a task, whether it returns a value or a task.
template <typename F>
task<call_result_t<F>> invoke_as_task(F& fn) {
    if constexpr (returns_task_v<F>) {
        co_return co_await fn();
    } else if constexpr (std::is_void_v<call_result_t<F>>) {
        fn();
    } else {
        co_return fn();
    }
}

namespace detail {

template <typename F>
class cross_call_state final : public cross_call {
public:
    using value_type = call_result_t<F>;

    cross_call_state(F& fn, unsigned source, unsigned target) noexcept : _fn(fn) {
        source_shard = source;
        target_shard = target;
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) noexcept {
        _waiter = waiter;
        shard::local().send_request(this);
    }
    auto await_resume() {
        if constexpr (!std::is_void_v<value_type>) return std::move(*_value);
    }

    void run_on_target() noexcept override {
        if constexpr (returns_task_v<F>) {
            shard::local().spawn(run_async());
        } else {
            if constexpr (std::is_void_v<value_type>) {
                _fn();
            } else {
                _value.emplace(_fn());
            }
            shard::local().send_reply(this);
        }
    }
    void complete_on_source() noexcept override { _waiter.resume(); }

private:
    task<void> run_async() {
        if constexpr (std::is_void_v<value_type>) {
            co_await _fn();
        } else {
            _value.emplace(co_await _fn());
        }
        shard::local().send_reply(this);
    }

    struct empty {};
    F& _fn;
    std::coroutine_handle<> _waiter;
    std::conditional_t<std::is_void_v<value_type>, empty, std::optional<value_type>> _value;
};

}  // namespace detail

template <typename F>
task<call_result_t<F>> submit_to(unsigned target, F fn) {
    shard& here = shard::local();
    if (target == here.id()) co_return co_await invoke_as_task(fn);
    co_await here.acquire_credit(target);
    detail::cross_call_state<F> call(fn, here.id(), target);
    co_return co_await call;
}

}  // namespace tl::reactor
