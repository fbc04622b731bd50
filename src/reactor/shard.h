// A shard: one thread pinned to one core, running a fixed loop.
//
//   loop: poll io_uring -> drain inbound mailboxes -> fire timers
//         -> run ready tasks -> (idle) spin or sleep in io_uring
//
// Everything a shard owns (its ring, timers, tasks, partitions) is touched
// only by its own thread. Other threads reach it through submit_to()
// (submit_to.h) over the bounded mailbox mesh, or, for control-plane threads
// that are not shards, through smp::run_on(). Nothing in the loop blocks
// except the idle sleep, which any mailbox push interrupts.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include <absl/functional/any_invocable.h>

#include "base/assert.h"
#include "base/clock.h"
#include "base/task.h"
#include "metrics/metric.h"
#include "reactor/spsc_ring.h"
#include "reactor/timer.h"
#include "uring/ring.h"

namespace tl::reactor {

enum class poll_mode : uint8_t {
    busy,      // never sleep: lowest latency, burns the core
    adaptive,  // spin for idle_spin, then sleep in io_uring until woken
};

enum class cpu_pinning : uint8_t { pinned, floating };

struct reactor_options {
    static constexpr unsigned max_shards = 256;
    static constexpr unsigned max_mailbox_capacity = 65536;

    unsigned shard_count = 1;
    poll_mode polling = poll_mode::adaptive;
    cpu_pinning pinning = cpu_pinning::pinned;
    // Requests in flight from one shard to another (power of two). A sender
    // that has this many unanswered waits: backpressure, never loss.
    unsigned mailbox_capacity = 1024;
    duration_ns idle_spin = std::chrono::microseconds(50);
    // A loop iteration that works longer than this counts as a stall.
    duration_ns stall_threshold = std::chrono::microseconds(500);
    uring::ring_options ring;
};

// One cross-shard call, as seen by the reactor. Lives in the caller's frame.
class cross_call {
public:
    virtual void run_on_target() noexcept = 0;
    virtual void complete_on_source() noexcept = 0;

    unsigned source_shard = 0;
    unsigned target_shard = 0;

protected:
    ~cross_call() = default;
};

// Counters for the metrics subsystem; written only by the owning shard.
struct shard_stats {
    uint64_t loop_iterations = 0;
    uint64_t sleeps = 0;
    uint64_t tasks_run = 0;
    uint64_t requests_received = 0;
    uint64_t replies_received = 0;
    uint64_t backpressure_waits = 0;
    uint64_t timers_fired = 0;
};

// What the loop measures for /metrics: written by the shard's thread only,
// readable from any thread (metrics/metric.h). The app registers them.
struct shard_metrics {
    // Share of wall time spent in iterations that did work, over the last
    // busy_window (an idle shard wakes at least once per window to update it).
    static constexpr duration_ns busy_window = std::chrono::seconds(1);

    metrics::gauge busy_ratio;
    metrics::counter stalls;                // iterations longer than stall_threshold
    metrics::counter backpressure_events;  // submit_to calls that found no credit
};

class smp;

// Work the loop polls on every iteration: devices that raise no completion
// of their own (DPDK RX queues). Registered and removed on the owning shard.
class poller {
public:
    // Polls once; returns whether it did work. Must not block.
    virtual bool poll() noexcept = 0;
    // How long the shard may sleep while this poller has nothing to do
    // (0 = never sleep: the shard spins while the poller is registered).
    virtual duration_ns max_idle_sleep() const noexcept = 0;

protected:
    ~poller() = default;
};

class shard {
public:
    static constexpr size_t max_ready_tasks = size_t{1} << 22;
    static constexpr size_t max_messages_per_mailbox_poll = 128;

    // The shard of the calling thread; asserts when called off-shard.
    static shard& local() noexcept;
    static shard* try_local() noexcept;

    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    unsigned id() const noexcept { return _id; }
    unsigned count() const noexcept;
    uring::ring& io() noexcept { return *_ring; }
    timer_queue& timers() noexcept { return _timers; }
    steady_time now() const noexcept { return _clock.now(); }
    const shard_stats& stats() const noexcept { return _stats; }
    const shard_metrics& metrics() const noexcept { return _metrics; }
    // Cross-shard requests and replies waiting in this shard's inbound rings.
    // Any thread (the rings' indexes are atomics); a snapshot.
    size_t inbound_queue_depth() const noexcept;

    // Starts `work` from the ready queue; it runs to completion detached.
    void spawn(task<void> work);
    // Resumes `handle` from the ready queue.
    void schedule(std::coroutine_handle<> handle);

    // ---- used by submit_to() ----
    class credit_awaiter;
    credit_awaiter acquire_credit(unsigned target) noexcept;
    void send_request(cross_call* call) noexcept;
    void send_reply(cross_call* call) noexcept;

    // Called from any thread: interrupts the idle sleep.
    void wake() noexcept;

    // Polled every iteration until removed; on this shard only. The poller
    // must outlive its registration.
    static constexpr size_t max_pollers = 64;
    void add_poller(poller* p);
    void remove_poller(poller* p) noexcept;

private:
    friend class smp;
    struct credit_waiter {
        std::coroutine_handle<> handle;
    };

    shard(smp& owner, unsigned id, const reactor_options& options, clock_source& clock);
    ~shard();

    // Thread body. Returns when stopped and drained.
    void run();
    uring::io_result<void> start_on_thread();
    bool poll_io();
    bool run_pollers() noexcept;
    bool drain_mailboxes();
    bool drain_external();
    bool run_ready();
    // Returns whether the shard slept (completions may have run meanwhile).
    bool idle(steady_time idle_since);
    bool has_pending_messages() const noexcept;
    // Accounts the iteration that began at `started` and ended at `now`.
    void account_iteration(steady_time started, steady_time now, bool did_work) noexcept;
    bool can_exit() const noexcept;
    void arm_wake_read();
    void release_credit(unsigned target) noexcept;
    void post_external(absl::AnyInvocable<void()> work);

    smp& _owner;
    const unsigned _id;
    const reactor_options& _options;
    clock_source& _clock;
    std::unique_ptr<uring::ring> _ring;
    timer_queue _timers;
    std::vector<poller*> _pollers;
    std::vector<std::coroutine_handle<>> _ready;
    std::vector<std::coroutine_handle<>> _running;
    uint64_t _live_tasks = 0;
    std::vector<unsigned> _credits;                      // per target shard
    std::vector<std::deque<credit_waiter>> _waiters;     // per target shard
    uint64_t _calls_in_flight = 0;
    shard_stats _stats;
    shard_metrics _metrics;
    // The busy-ratio window (see shard_metrics).
    steady_time _window_start{};
    duration_ns _busy_in_window{0};

    // Wake-up: an eventfd read armed in the ring while sleeping.
    class wake_completion;
    std::unique_ptr<wake_completion> _wake;
    int _wake_fd = -1;
    bool _wake_armed = false;
    alignas(cache_line_bytes) std::atomic<bool> _sleeping{false};
    std::atomic<bool> _stop_requested{false};

    // Work posted by threads that are not shards (control plane only).
    std::mutex _external_mutex;
    std::vector<absl::AnyInvocable<void()>> _external;
    std::atomic<bool> _external_pending{false};
};

class shard::credit_awaiter {
public:
    credit_awaiter(shard& s, unsigned target) noexcept : _shard(s), _target(target) {}
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> handle);
    void await_resume() const noexcept {}

private:
    shard& _shard;
    unsigned _target;
};

// Suspends the calling task until `delay` has passed on this shard's clock.
class sleep_for final : private timer_node {
public:
    explicit sleep_for(duration_ns delay) noexcept : _delay(delay) {}
    bool await_ready() const noexcept { return _delay.count() <= 0; }
    void await_suspend(std::coroutine_handle<> handle);
    void await_resume() const noexcept {}

private:
    void fire() noexcept override { _handle.resume(); }
    duration_ns _delay;
    std::coroutine_handle<> _handle;
};

// Lets the other ready tasks of this shard run first.
struct yield {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> handle) { shard::local().schedule(handle); }
    void await_resume() const noexcept {}
};

// Debug guard for objects that belong to one shard.
class shard_owned {
public:
    shard_owned() noexcept : _owner_shard(shard::local().id()) {}
    unsigned owner_shard() const noexcept { return _owner_shard; }
    void assert_owner() const noexcept {
        TL_ASSERT(shard::try_local() != nullptr && shard::local().id() == _owner_shard,
                  "shard-owned object touched from another shard");
    }

private:
    unsigned _owner_shard;
};

}  // namespace tl::reactor
