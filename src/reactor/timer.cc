#include "reactor/timer.h"

#include "reactor/shard.h"

namespace tl::reactor {

bool timer_queue::before(const timer_node* a, const timer_node* b) noexcept {
    if (a->_deadline != b->_deadline) return a->_deadline < b->_deadline;
    return a->_sequence < b->_sequence;
}

void timer_queue::place(size_t index, timer_node* node) noexcept {
    _heap[index] = node;
    node->_heap_index = index;
}

void timer_queue::sift_up(size_t index) noexcept {
    timer_node* node = _heap[index];
    while (index > 0) {
        const size_t parent = (index - 1) / 2;
        if (!before(node, _heap[parent])) break;
        place(index, _heap[parent]);
        index = parent;
    }
    place(index, node);
}

void timer_queue::sift_down(size_t index) noexcept {
    timer_node* node = _heap[index];
    const size_t count = _heap.size();
    for (;;) {
        size_t child = 2 * index + 1;
        if (child >= count) break;
        if (child + 1 < count && before(_heap[child + 1], _heap[child])) ++child;
        if (!before(_heap[child], node)) break;
        place(index, _heap[child]);
        index = child;
    }
    place(index, node);
}

void timer_queue::arm(timer_node* node, steady_time deadline) {
    TL_ASSERT(!node->armed(), "timer armed twice");
    TL_ASSERT(_heap.size() < max_timers, "too many timers");
    node->_deadline = deadline;
    node->_sequence = _next_sequence++;
    _heap.push_back(node);
    node->_heap_index = _heap.size() - 1;
    sift_up(_heap.size() - 1);
}

void timer_queue::remove_at(size_t index) noexcept {
    timer_node* removed = _heap[index];
    timer_node* last = _heap.back();
    _heap.pop_back();
    removed->_heap_index = timer_node::not_armed;
    if (index == _heap.size()) return;
    place(index, last);
    if (index > 0 && before(last, _heap[(index - 1) / 2])) {
        sift_up(index);
    } else {
        sift_down(index);
    }
}

void timer_queue::cancel(timer_node* node) noexcept {
    if (!node->armed()) return;
    TL_ASSERT(node->_heap_index < _heap.size() && _heap[node->_heap_index] == node,
              "timer belongs to another queue");
    remove_at(node->_heap_index);
}

size_t timer_queue::fire_due(steady_time now) {
    size_t fired = 0;
    // Bounded: a callback that re-arms itself at `now` waits for the next
    // loop iteration instead of spinning here.
    while (!_heap.empty() && _heap.front()->_deadline <= now && fired < max_fired_per_call) {
        timer_node* node = _heap.front();
        remove_at(0);
        ++fired;
        node->fire();  // may arm or cancel other timers
    }
    return fired;
}

std::optional<steady_time> timer_queue::next_deadline() const noexcept {
    if (_heap.empty()) return std::nullopt;
    return _heap.front()->_deadline;
}

void timer::arm_at(steady_time deadline) {
    cancel();
    shard::local().timers().arm(this, deadline);
}

void timer::arm_after(duration_ns delay) { arm_at(shard::local().now() + delay); }

void timer::cancel() noexcept {
    if (armed()) shard::local().timers().cancel(this);
}

}  // namespace tl::reactor
