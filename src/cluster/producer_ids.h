// Idempotent-producer ids, handed out on every shard without a hop per id:
// each shard's producer_id_allocator serves ids from a block the controller
// issued it (controller::allocate_producer_ids, durable before it answers)
// and asks for the next block of producer_id_block_size when that one is
// used up, as Kafka's brokers do with their controller.
//
//   producer_id_allocator ids(producer_id_allocator::from_controller(&controller_instance));
//   auto id = co_await ids.next();   // InitProducerId
//
// Only one refill is in flight per shard: callers that find the block empty
// while one is under way wait for it and share its outcome — a block to draw
// from, or its error (nothing is retried here; the client retries).
//
// Ids are unique across shards and restarts because blocks are: the
// allocator only draws from its current block, in order. Ids left in a block
// when the broker stops are never used.
//
// One per shard; next() runs on that shard only (it waits on a
// reactor::condition). The allocator must outlive every next() in flight.
#pragma once

#include <cstdint>
#include <functional>

#include "base/result.h"
#include "base/task.h"
#include "cluster/controller.h"
#include "reactor/condition.h"

namespace tl::cluster {

// Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE.
inline constexpr int32_t producer_id_block_size = 1000;

// Issues the next block of `count` ids, durably (the controller, or a test's
// stand-in).
using producer_id_source =
    std::function<task<result<producer_id_block, controller_error>>(int32_t count)>;

class producer_id_allocator {
public:
    explicit producer_id_allocator(producer_id_source source,
                                   int32_t block_size = producer_id_block_size);
    producer_id_allocator(const producer_id_allocator&) = delete;
    producer_id_allocator& operator=(const producer_id_allocator&) = delete;

    // Blocks from the controller on controller_shard (reached with
    // submit_to); `controller` points at the pointer the cluster service
    // sets, read on that shard.
    [[nodiscard]] static producer_id_source from_controller(controller* const* controller);

    // An id no caller on any shard has had or will have.
    task<result<int64_t, controller_error>> next();

    // Ids left in the current block (for tests and metrics).
    [[nodiscard]] int64_t remaining() const noexcept { return _end - _next; }
    // Blocks asked for so far, including failed requests.
    [[nodiscard]] uint64_t refills() const noexcept { return _refills; }

private:
    task<result<void, controller_error>> refill();

    producer_id_source _source;
    const int32_t _block_size;
    int64_t _next = 0;  // [_next, _end): the current block's unused ids
    int64_t _end = 0;
    bool _refilling = false;
    uint64_t _refills = 0;         // refills started; the one in flight is number _refills
    uint64_t _failed_refill = 0;   // the number of the last refill that failed (0: none)
    controller_error _failure;     // its error, for the callers that waited on it
    reactor::condition _refilled;  // a refill finished, well or not
};

}  // namespace tl::cluster
