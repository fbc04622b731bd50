#include "reactor/condition.h"

#include <utility>

namespace tl::reactor {

void condition::link(awaiter* w) noexcept {
    w->_prev = _tail;
    w->_next = nullptr;
    if (_tail != nullptr) {
        _tail->_next = w;
    } else {
        _head = w;
    }
    _tail = w;
    w->_linked = true;
}

void condition::unlink(awaiter* w) noexcept {
    if (w->_prev != nullptr) {
        w->_prev->_next = w->_next;
    } else {
        _head = w->_next;
    }
    if (w->_next != nullptr) {
        w->_next->_prev = w->_prev;
    } else {
        _tail = w->_prev;
    }
    w->_prev = w->_next = nullptr;
    w->_linked = false;
}

void condition::notify_all() noexcept {
    // Detach the current list first: a woken task may wait again before it
    // is resumed, and must not be woken twice by this call.
    awaiter* w = std::exchange(_head, nullptr);
    _tail = nullptr;
    while (w != nullptr) {
        awaiter* next = w->_next;
        w->_prev = w->_next = nullptr;
        w->_linked = false;
        w->wake(true);
        w = next;
    }
}

void condition::awaiter::wake(bool notified) noexcept {
    _notified = notified;
    if (armed()) shard::local().timers().cancel(this);
    shard::local().schedule(_handle);
}

void condition::awaiter::fire() noexcept {
    if (_linked) _condition.unlink(this);
    wake(false);
}

void gate::spawn(task<void> work) {
    ++_running;
    shard::local().spawn(run(std::move(work)));
}

task<void> gate::run(task<void> work) {
    co_await std::move(work);
    if (--_running == 0) _idle.notify_all();
}

task<void> gate::wait() {
    while (_running != 0) co_await _idle.wait();
}

}  // namespace tl::reactor
