// co_await-able io_uring operations.
//
//   int32_t res = co_await uring::operation(ring, [&](uring::completion* c) {
//       ring.read(fd, buffer, offset, c);
//   });
//
// The awaiter is the completion: it lives in the awaiting coroutine's frame,
// queues its SQE when the coroutine suspends and resumes the coroutine from
// ring::poll()/wait() with the CQE's result. A frame must not be destroyed
// while its operation is in flight: cancel it (ring::cancel) and await it.
#pragma once

#include <coroutine>
#include <cstdint>
#include <utility>

#include "uring/io_error.h"
#include "uring/ring.h"

namespace tl::uring {

template <typename Start>
class operation final : public completion {
public:
    operation(ring& r, Start start) : _ring(r), _start(std::move(start)) {}

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiter) {
        _waiter = waiter;
        _start(static_cast<completion*>(this));
    }
    // The CQE's res: >= 0 on success, -errno on failure.
    int32_t await_resume() const noexcept { return _result; }

    void complete(int32_t result, uint32_t flags) noexcept override {
        _result = result;
        _flags = flags;
        _waiter.resume();
    }

    // The completion to hand to ring::cancel() while suspended.
    completion* as_completion() noexcept { return this; }

private:
    ring& _ring;
    Start _start;
    std::coroutine_handle<> _waiter;
    int32_t _result = 0;
    uint32_t _flags = 0;
};

template <typename Start>
operation(ring&, Start) -> operation<Start>;

// Converts a CQE result to an io_result<uint32_t>.
[[nodiscard]] inline io_result<uint32_t> to_result(int32_t cqe_result) noexcept {
    if (cqe_result < 0) return failure{error_from_errno(-cqe_result)};
    return static_cast<uint32_t>(cqe_result);
}

}  // namespace tl::uring
