// task<T>: the lazily started C++20 coroutine used for control flow.
//
// A task does nothing until it is awaited (or handed to reactor::spawn);
// awaiting it runs it on the awaiting thread and resumes the awaiter by
// symmetric transfer when it finishes, so chains of awaits never grow the
// stack. A task is owned by exactly one awaiter and must be awaited at most
// once. Exceptions are not part of the contract: one escaping a coroutine is a
// programmer error and aborts.
//
// This lives in base/ (not reactor/) because drivers/ compose their own
// multi-step operations (short-write loops) out of tasks; the reactor adds
// scheduling (spawn, yield, timers) on top.
#pragma once

#include <coroutine>
#include <optional>
#include <utility>

#include "base/assert.h"

namespace tl {

template <typename T = void>
class task;

namespace detail {

struct task_final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
        auto continuation = self.promise().continuation;
        return continuation ? continuation : std::noop_coroutine();
    }
    void await_resume() const noexcept {}
};

struct task_promise_base {
    std::coroutine_handle<> continuation;

    std::suspend_always initial_suspend() const noexcept { return {}; }
    task_final_awaiter final_suspend() const noexcept { return {}; }
    [[noreturn]] void unhandled_exception() const noexcept {
        TL_UNREACHABLE("exception escaped a task coroutine");
    }
};

template <typename T>
struct task_promise final : task_promise_base {
    std::optional<T> value;

    task<T> get_return_object() noexcept;
    template <typename U>
    void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        value.emplace(std::forward<U>(v));
    }
};

template <>
struct task_promise<void> final : task_promise_base {
    task<void> get_return_object() noexcept;
    void return_void() const noexcept {}
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;

    task() = default;
    explicit task(handle_type handle) noexcept : _handle(handle) {}
    task(task&& other) noexcept : _handle(std::exchange(other._handle, nullptr)) {}
    task& operator=(task&& other) noexcept {
        if (this != &other) {
            destroy();
            _handle = std::exchange(other._handle, nullptr);
        }
        return *this;
    }
    task(const task&) = delete;
    task& operator=(const task&) = delete;
    ~task() { destroy(); }

    bool valid() const noexcept { return static_cast<bool>(_handle); }

    auto operator co_await() && noexcept {
        struct awaiter {
            handle_type handle;
            bool await_ready() const noexcept { return false; }
            std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
                handle.promise().continuation = awaiting;
                return handle;
            }
            T await_resume() {
                TL_ASSERT(handle.done(), "task resumed before it finished");
                if constexpr (!std::is_void_v<T>) {
                    return std::move(*handle.promise().value);
                }
            }
        };
        TL_ASSERT(_handle && !_handle.done(), "awaiting an empty or finished task");
        return awaiter{_handle};
    }

    // For the reactor: take ownership of the frame to run it detached.
    handle_type release() noexcept { return std::exchange(_handle, nullptr); }

private:
    void destroy() noexcept {
        if (_handle) {
            _handle.destroy();
            _handle = nullptr;
        }
    }

    handle_type _handle;
};

namespace detail {
template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>(std::coroutine_handle<task_promise<T>>::from_promise(*this));
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>(std::coroutine_handle<task_promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace tl
