#include "sim/sim_executor.h"

#include <algorithm>

namespace tl::sim {
namespace {

// A spawned task's frame; destroyed by its own final_suspend when it
// finishes, or by abandon_all() when the simulation drops it.
struct detached {
    struct promise_type {
        bool* finished = nullptr;
        detached get_return_object() noexcept {
            return {std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always initial_suspend() const noexcept { return {}; }
        std::suspend_always final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        [[noreturn]] void unhandled_exception() const noexcept {
            TL_UNREACHABLE("exception escaped a simulated task");
        }
    };
    std::coroutine_handle<promise_type> handle;
};

detached run_detached(task<void> work) { co_await std::move(work); }

}  // namespace

sim_executor::~sim_executor() { abandon_all(); }

void sim_executor::spawn(task<void> work) {
    auto handle = run_detached(std::move(work)).handle;
    _spawned.push_back(handle);
    schedule(handle);
}

task<void> sim_executor::sleep(duration_ns delay) {
    struct awaiter {
        sim_executor& self;
        steady_time deadline;
        bool await_ready() const noexcept { return deadline <= self._now; }
        void await_suspend(std::coroutine_handle<> h) {
            self._sleepers.emplace(deadline, sleeper{h, nullptr});
        }
        void await_resume() const noexcept {}
    };
    co_await awaiter{*this, _now + delay};
}

task<void> sim_executor::sleep(duration_ns delay, wakeup& early) {
    if (early.fired()) co_return;
    struct awaiter {
        sim_executor& self;
        steady_time deadline;
        wakeup& early;
        bool await_ready() const noexcept { return deadline <= self._now; }
        void await_suspend(std::coroutine_handle<> h) {
            auto at = self._sleepers.emplace(deadline, sleeper{h, &early});
            early.arm([this, at, h] {
                self._sleepers.erase(at);
                self.schedule(h);
            });
        }
        void await_resume() const noexcept {}
    };
    co_await awaiter{*this, _now + delay, early};
}

bool sim_executor::step() {
    if (_ready.empty()) {
        if (_sleepers.empty()) return false;
        auto first = _sleepers.begin();
        _now = std::max(_now, first->first);
        while (!_sleepers.empty() && _sleepers.begin()->first <= _now) {
            const sleeper woken = _sleepers.begin()->second;
            if (woken.early != nullptr) woken.early->disarm();
            _ready.push_back(woken.handle);
            _sleepers.erase(_sleepers.begin());
        }
    }
    const size_t pick = _random() % _ready.size();
    std::swap(_ready[pick], _ready.back());
    auto handle = _ready.back();
    _ready.pop_back();
    handle.resume();
    // Reap spawned frames that finished (they stop at final_suspend).
    std::erase_if(_spawned, [](std::coroutine_handle<> h) {
        if (!h.done()) return false;
        h.destroy();
        return true;
    });
    return true;
}

uint64_t sim_executor::run(uint64_t max_steps) {
    uint64_t steps = 0;
    while (steps < max_steps && step()) ++steps;
    return steps;
}

void sim_executor::abandon_all() {
    _ready.clear();
    for (auto& [deadline, waiting] : _sleepers) {
        if (waiting.early != nullptr) waiting.early->disarm();
    }
    _sleepers.clear();
    // Destroying a spawned frame destroys the tasks it awaits (they are
    // owned by its frame); nested frames are not in _spawned.
    for (auto h : _spawned) h.destroy();
    _spawned.clear();
}

}  // namespace tl::sim
