#include "cluster/producer_ids.h"

#include <utility>

#include "base/assert.h"
#include "reactor/submit_to.h"

namespace tl::cluster {
namespace {

task<result<producer_id_block, controller_error>> block_from_controller(controller* const* instance,
                                                                        int32_t count) {
    co_return co_await reactor::submit_to(controller_shard, [instance, count]() {
        return (*instance)->allocate_producer_ids(count);
    });
}

}  // namespace

producer_id_allocator::producer_id_allocator(producer_id_source source, int32_t block_size)
    : _source(std::move(source)), _block_size(block_size) {
    TL_ASSERT(_source != nullptr);
    TL_ASSERT(block_size > 0);
}

producer_id_source producer_id_allocator::from_controller(controller* const* instance) {
    TL_ASSERT(instance != nullptr);
    return [instance](int32_t count) { return block_from_controller(instance, count); };
}

task<result<int64_t, controller_error>> producer_id_allocator::next() {
    while (_next == _end) {
        if (!_refilling) {
            auto refilled = co_await refill();
            if (!refilled) co_return failure{refilled.error()};
            continue;
        }
        // Share the refill in flight: its block, or its error.
        const uint64_t awaited = _refills;
        co_await _refilled.wait();
        if (_failed_refill == awaited) co_return failure{_failure};
    }
    TL_ASSERT(_next < _end);
    co_return _next++;
}

task<result<void, controller_error>> producer_id_allocator::refill() {
    TL_ASSERT(!_refilling);
    _refilling = true;
    const uint64_t number = ++_refills;
    auto block = co_await _source(_block_size);
    _refilling = false;
    if (!block) {
        _failed_refill = number;
        _failure = block.error();
        _refilled.notify_all();
        co_return failure{block.error()};
    }
    TL_ASSERT(block->count > 0 && block->first >= 0, "an empty or negative producer id block");
    TL_ASSERT(block->first >= _end, "producer id blocks must only move forward");
    _next = block->first;
    _end = block->end();
    _refilled.notify_all();
    co_return result<void, controller_error>{};
}

}  // namespace tl::cluster
