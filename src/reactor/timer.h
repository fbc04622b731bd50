// Per-shard timers: an intrusive binary heap keyed by deadline.
//
// Arming and cancelling are O(log n) and allocate nothing once the heap has
// grown to its working size. A timer belongs to the shard that armed it and
// must be cancelled (or have fired) before it is destroyed; `timer` does that
// in its destructor.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

#include <absl/functional/any_invocable.h>

#include "base/assert.h"
#include "base/clock.h"

namespace tl::reactor {

class timer_queue;

class timer_node {
public:
    virtual void fire() noexcept = 0;
    bool armed() const noexcept { return _heap_index != not_armed; }
    steady_time deadline() const noexcept { return _deadline; }

protected:
    ~timer_node() { TL_ASSERT(!armed(), "timer destroyed while armed"); }

private:
    friend class timer_queue;
    static constexpr size_t not_armed = std::numeric_limits<size_t>::max();
    steady_time _deadline{};
    uint64_t _sequence = 0;  // FIFO order among equal deadlines
    size_t _heap_index = not_armed;
};

class timer_queue {
public:
    static constexpr size_t max_timers = size_t{1} << 24;
    static constexpr size_t max_fired_per_call = 1024;

    void arm(timer_node* node, steady_time deadline);
    void cancel(timer_node* node) noexcept;
    // Fires the timers whose deadline is <= now, at most max_fired_per_call;
    // returns how many fired.
    size_t fire_due(steady_time now);
    std::optional<steady_time> next_deadline() const noexcept;
    size_t size() const noexcept { return _heap.size(); }

private:
    static bool before(const timer_node* a, const timer_node* b) noexcept;
    void sift_up(size_t index) noexcept;
    void sift_down(size_t index) noexcept;
    void place(size_t index, timer_node* node) noexcept;
    void remove_at(size_t index) noexcept;

    std::vector<timer_node*> _heap;
    uint64_t _next_sequence = 0;
};

// A timer with a callback, on the current shard's queue.
class timer final : public timer_node {
public:
    explicit timer(absl::AnyInvocable<void()> callback) : _callback(std::move(callback)) {}
    timer(const timer&) = delete;
    timer& operator=(const timer&) = delete;
    ~timer() { cancel(); }

    void arm_at(steady_time deadline);
    void arm_after(duration_ns delay);
    void cancel() noexcept;

private:
    void fire() noexcept override { _callback(); }
    absl::AnyInvocable<void()> _callback;
};

}  // namespace tl::reactor
