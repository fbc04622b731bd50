// A bounded single-producer/single-consumer ring of trivially copyable items.
//
// Exactly one thread pushes and exactly one thread pops. Capacity is a power
// of two fixed at construction; push() on a full ring returns false (callers
// hold credits so that this never happens on the cross-shard path). Head and
// tail live on separate cache lines, each side caches the other's index to
// avoid touching the shared line on every operation.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>

#include "base/assert.h"

namespace tl::reactor {

inline constexpr size_t cache_line_bytes = 64;

template <typename T>
class spsc_ring {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    static constexpr size_t max_capacity = size_t{1} << 20;

    explicit spsc_ring(size_t capacity)
        : _mask(capacity - 1), _slots(std::make_unique<T[]>(capacity)) {
        TL_ASSERT(capacity >= 2 && capacity <= max_capacity && (capacity & _mask) == 0,
                  "capacity must be a power of two within bounds");
    }
    spsc_ring(const spsc_ring&) = delete;
    spsc_ring& operator=(const spsc_ring&) = delete;

    size_t capacity() const noexcept { return _mask + 1; }

    // Producer side.
    [[nodiscard]] bool push(T item) noexcept {
        const size_t tail = _producer.tail.load(std::memory_order_relaxed);
        if (tail - _producer.cached_head > _mask) {
            _producer.cached_head = _consumer.head.load(std::memory_order_acquire);
            if (tail - _producer.cached_head > _mask) return false;
        }
        _slots[tail & _mask] = item;
        _producer.tail.store(tail + 1, std::memory_order_release);
        return true;
    }

    // Consumer side.
    [[nodiscard]] bool pop(T& item) noexcept {
        const size_t head = _consumer.head.load(std::memory_order_relaxed);
        if (head == _consumer.cached_tail) {
            _consumer.cached_tail = _producer.tail.load(std::memory_order_acquire);
            if (head == _consumer.cached_tail) return false;
        }
        item = _slots[head & _mask];
        _consumer.head.store(head + 1, std::memory_order_release);
        return true;
    }

    // Either side; a snapshot that may be stale by the time it is used.
    bool empty() const noexcept {
        return _consumer.head.load(std::memory_order_acquire) ==
               _producer.tail.load(std::memory_order_acquire);
    }
    size_t size() const noexcept {
        return _producer.tail.load(std::memory_order_acquire) -
               _consumer.head.load(std::memory_order_acquire);
    }

private:
    struct alignas(cache_line_bytes) producer_side {
        std::atomic<size_t> tail{0};
        size_t cached_head = 0;
    };
    struct alignas(cache_line_bytes) consumer_side {
        std::atomic<size_t> head{0};
        size_t cached_tail = 0;
    };

    const size_t _mask;
    const std::unique_ptr<T[]> _slots;
    producer_side _producer;
    consumer_side _consumer;
};

}  // namespace tl::reactor
