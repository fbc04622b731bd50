#include "reactor/shard.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "reactor/smp.h"

namespace tl::reactor {
namespace {

thread_local shard* local_shard = nullptr;

// The frame of a spawned task: starts suspended on the ready queue, frees
// itself when done and tells its shard.
struct detached {
    struct promise_type {
        detached get_return_object() noexcept {
            return {std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_never final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        [[noreturn]] void unhandled_exception() const noexcept {
            TL_UNREACHABLE("exception escaped a spawned task");
        }
    };
    std::coroutine_handle<promise_type> handle;
};

detached run_detached(task<void> work, uint64_t& live_tasks) {
    co_await std::move(work);
    --live_tasks;
}

}  // namespace

class shard::wake_completion final : public uring::completion {
public:
    explicit wake_completion(shard& s) : _shard(s) {}
    void complete(int32_t, uint32_t) noexcept override { _shard._wake_armed = false; }
    uint64_t value = 0;

private:
    shard& _shard;
};

shard& shard::local() noexcept {
    TL_ASSERT(local_shard != nullptr, "not on a shard thread");
    return *local_shard;
}

shard* shard::try_local() noexcept { return local_shard; }

shard::shard(smp& owner, unsigned id, const reactor_options& options, clock_source& clock)
    : _owner(owner),
      _id(id),
      _options(options),
      _clock(clock),
      _credits(options.shard_count, options.mailbox_capacity),
      _waiters(options.shard_count) {
    _ready.reserve(1024);
    _running.reserve(1024);
}

shard::~shard() {
    if (_wake_fd >= 0) ::close(_wake_fd);
}

unsigned shard::count() const noexcept { return _owner.shard_count(); }

uring::io_result<void> shard::start_on_thread() {
    auto created = uring::ring::create(_options.ring);
    if (!created) return failure{created.error()};
    _ring = std::move(*created);
    _wake_fd = ::eventfd(0, EFD_CLOEXEC);
    if (_wake_fd < 0) return failure{uring::error_from_errno(errno)};
    _wake = std::make_unique<wake_completion>(*this);
    return {};
}

void shard::spawn(task<void> work) {
    ++_live_tasks;
    schedule(run_detached(std::move(work), _live_tasks).handle);
}

void shard::schedule(std::coroutine_handle<> handle) {
    TL_ASSERT(_ready.size() < max_ready_tasks, "ready queue bound exceeded");
    _ready.push_back(handle);
}

// ---- cross-shard calls ----

bool shard::credit_awaiter::await_ready() noexcept {
    auto& credits = _shard._credits[_target];
    if (credits > 0 && _shard._waiters[_target].empty()) {
        --credits;
        return true;
    }
    ++_shard._stats.backpressure_waits;
    _shard._metrics.backpressure_events.add();
    return false;
}

void shard::credit_awaiter::await_suspend(std::coroutine_handle<> handle) {
    // The credit is handed over by release_credit() before this resumes.
    _shard._waiters[_target].push_back(credit_waiter{handle});
}

shard::credit_awaiter shard::acquire_credit(unsigned target) noexcept {
    TL_ASSERT(target < count() && target != _id);
    return credit_awaiter(*this, target);
}

void shard::release_credit(unsigned target) noexcept {
    auto& waiters = _waiters[target];
    if (!waiters.empty()) {
        schedule(waiters.front().handle);  // the credit passes to it
        waiters.pop_front();
        return;
    }
    TL_ASSERT(_credits[target] < _options.mailbox_capacity, "credit released twice");
    ++_credits[target];
}

void shard::send_request(cross_call* call) noexcept {
    TL_ASSERT(call->source_shard == _id);
    const unsigned target = call->target_shard;
    const bool pushed = _owner.requests(_id, target).push(call);
    TL_ASSERT(pushed, "request ring full although a credit was held");
    ++_calls_in_flight;
    _owner.shard_at(target).wake();
}

void shard::send_reply(cross_call* call) noexcept {
    TL_ASSERT(call->target_shard == _id);
    // Once pushed, the call belongs to its source shard, which may complete
    // and free it at once: nothing of it may be read after the push.
    const unsigned source = call->source_shard;
    const bool pushed = _owner.replies(_id, source).push(call);
    TL_ASSERT(pushed, "reply ring full: more requests in flight than credits");
    _owner.shard_at(source).wake();
}

void shard::wake() noexcept {
    // Pairs with the fence in idle(): either the sleeper sees our message, or
    // we see it sleeping and kick the eventfd.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (_sleeping.load(std::memory_order_relaxed) && _sleeping.exchange(false)) {
        const uint64_t one = 1;
        [[maybe_unused]] auto written = ::write(_wake_fd, &one, sizeof(one));
    }
}

void shard::post_external(absl::AnyInvocable<void()> work) {
    {
        std::lock_guard lock(_external_mutex);
        _external.push_back(std::move(work));
    }
    _external_pending.store(true, std::memory_order_release);
    wake();
}

// ---- the loop ----

bool shard::poll_io() { return _ring->poll() > 0; }

void shard::add_poller(poller* p) {
    TL_ASSERT(&local() == this, "add_poller off its shard");
    TL_ASSERT(_pollers.size() < max_pollers, "too many pollers on one shard");
    TL_ASSERT(std::find(_pollers.begin(), _pollers.end(), p) == _pollers.end(),
              "poller registered twice");
    _pollers.push_back(p);
}

void shard::remove_poller(poller* p) noexcept {
    TL_ASSERT(&local() == this, "remove_poller off its shard");
    std::erase(_pollers, p);
}

bool shard::run_pollers() noexcept {
    bool did_work = false;
    // By index: a poller may remove itself (or another) while polled.
    for (size_t i = 0; i < _pollers.size(); ++i) did_work |= _pollers[i]->poll();
    return did_work;
}

bool shard::drain_mailboxes() {
    bool did_work = false;
    const unsigned shards = count();
    for (unsigned other = 0; other < shards; ++other) {
        if (other == _id) continue;
        auto& inbound = _owner.requests(other, _id);
        cross_call* call;
        for (size_t i = 0; i < max_messages_per_mailbox_poll && inbound.pop(call); ++i) {
            ++_stats.requests_received;
            call->run_on_target();
            did_work = true;
        }
        auto& answers = _owner.replies(other, _id);
        for (size_t i = 0; i < max_messages_per_mailbox_poll && answers.pop(call); ++i) {
            ++_stats.replies_received;
            --_calls_in_flight;
            release_credit(call->target_shard);
            call->complete_on_source();
            did_work = true;
        }
    }
    return did_work;
}

bool shard::drain_external() {
    if (!_external_pending.load(std::memory_order_acquire)) return false;
    std::vector<absl::AnyInvocable<void()>> work;
    {
        std::lock_guard lock(_external_mutex);
        work.swap(_external);
        _external_pending.store(false, std::memory_order_relaxed);
    }
    for (auto& item : work) item();
    return !work.empty();
}

bool shard::run_ready() {
    if (_ready.empty()) return false;
    // Tasks scheduled while running wait for the next iteration: the work
    // per iteration is bounded by what was ready when it started.
    _running.swap(_ready);
    for (auto handle : _running) {
        ++_stats.tasks_run;
        handle.resume();
    }
    _running.clear();
    return true;
}

bool shard::has_pending_messages() const noexcept {
    if (!_ready.empty() || _external_pending.load(std::memory_order_acquire)) return true;
    const unsigned shards = count();
    for (unsigned other = 0; other < shards; ++other) {
        if (other == _id) continue;
        if (!_owner.requests(other, _id).empty() || !_owner.replies(other, _id).empty()) {
            return true;
        }
    }
    return false;
}

size_t shard::inbound_queue_depth() const noexcept {
    size_t depth = 0;
    const unsigned shards = count();
    for (unsigned other = 0; other < shards; ++other) {
        if (other == _id) continue;
        depth += _owner.requests(other, _id).size() + _owner.replies(other, _id).size();
    }
    return depth;
}

void shard::account_iteration(steady_time started, steady_time now, bool did_work) noexcept {
    if (did_work) {
        const duration_ns spent = now - started;
        _busy_in_window += spent;
        if (spent > _options.stall_threshold) _metrics.stalls.add();
    }
    const duration_ns window = now - _window_start;
    if (window >= shard_metrics::busy_window) {
        _metrics.busy_ratio.set(std::min(1.0, static_cast<double>(_busy_in_window.count()) /
                                                  static_cast<double>(window.count())));
        _window_start = now;
        _busy_in_window = duration_ns{0};
    }
}

bool shard::can_exit() const noexcept {
    const unsigned idle_ops = _wake_armed ? 1 : 0;
    return _stop_requested.load(std::memory_order_acquire) && _live_tasks == 0 &&
           _calls_in_flight == 0 && _ready.empty() && _ring->in_flight() <= idle_ops &&
           !has_pending_messages();
}

void shard::arm_wake_read() {
    if (_wake_armed) return;
    _wake_armed = true;
    _ring->read(_wake_fd, std::as_writable_bytes(std::span(&_wake->value, 1)), 0, _wake.get());
}

bool shard::idle(steady_time idle_since) {
    if (_options.polling == poll_mode::busy) return false;
    const steady_time now = _clock.now();
    if (now - idle_since < _options.idle_spin) return false;
    for (const poller* p : _pollers) {
        if (p->max_idle_sleep() <= duration_ns::zero()) return false;
    }

    arm_wake_read();
    _sleeping.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (has_pending_messages() || _stop_requested.load(std::memory_order_acquire)) {
        _sleeping.store(false, std::memory_order_relaxed);
        return false;
    }
    // At most one busy-ratio window, so an idle shard still reports 0.
    std::optional<duration_ns> timeout = shard_metrics::busy_window;
    if (auto deadline = _timers.next_deadline()) timeout = std::min(*timeout, *deadline - now);
    // Polled devices raise nothing that would wake the ring: sleep no longer
    // than the most impatient of them allows.
    for (const poller* p : _pollers) timeout = std::min(*timeout, p->max_idle_sleep());
    ++_stats.sleeps;
    _ring->wait(timeout);
    _sleeping.store(false, std::memory_order_relaxed);
    return true;
}

void shard::run() {
    local_shard = this;
    steady_time idle_since = _clock.now();
    _window_start = idle_since;
    for (;;) {
        ++_stats.loop_iterations;
        const steady_time started = _clock.now();
        bool did_work = poll_io();
        did_work |= run_pollers();
        did_work |= drain_mailboxes();
        did_work |= drain_external();
        did_work |= _timers.fire_due(_clock.now()) > 0;
        did_work |= run_ready();
        if (did_work) {
            idle_since = _clock.now();
            account_iteration(started, idle_since, true);
            continue;
        }
        account_iteration(started, started, false);
        if (can_exit()) break;
        // Completions handled inside the sleep are work: spin again before
        // the next sleep, or a shard waiting on its own I/O sleeps on every
        // completion whatever idle_spin says.
        if (idle(idle_since)) idle_since = _clock.now();
    }
    // Retire the wake read so the ring closes with nothing in flight.
    if (_wake_armed) {
        _ring->cancel(_wake.get());
        while (_ring->in_flight() > 0) _ring->wait(std::nullopt);
    }
    _ring.reset();
    local_shard = nullptr;
}

// ---- sleep ----

void sleep_for::await_suspend(std::coroutine_handle<> handle) {
    _handle = handle;
    shard& here = shard::local();
    here.timers().arm(this, here.now() + _delay);
}

}  // namespace tl::reactor
