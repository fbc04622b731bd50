// Fetch: sessionless reads with long polling.
//
// Every partition is read on its owner (all at once); if together they hold
// fewer than min_bytes, each empty partition leaves a watch on its owner and
// the request sleeps until one of them grows, max_wait_ms passes or the
// connection goes away, then reads again. The answer holds, in request order,
// whole batches up to partition_max_bytes per partition and max_bytes in all
// — except that the first partition with data always gets its first batch,
// however large (KIP-74), so a consumer always progresses.
//
// Fetch sessions (KIP-227) are not kept: session id 0 in every answer tells
// clients to send full fetches, which all of them support.
#include <algorithm>
#include <vector>

#include "kafka/messages/fetch.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/condition.h"
#include "reactor/shard.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

struct fetch_slot {
    const cluster::topic_metadata* topic = nullptr;
    int32_t partition = 0;
    int64_t offset = 0;
    size_t max_bytes = 0;
    error_code error = error_code::none;
    cluster::partition_read read;
    bool has_read = false;
};

task<void> read_one(broker_context& context, fetch_slot& slot,
                    std::optional<cluster::fetch_watch> watch) {
    const unsigned owner = slot.topic->owners[static_cast<size_t>(slot.partition)];
    cluster::partition_manager* manager = &context.manager(owner);
    const storage::read_request request{.start_offset = slot.offset,
                                        .max_bytes = slot.max_bytes,
                                        .max_offset = std::nullopt};
    std::string_view topic = slot.topic->name;
    const int32_t partition = slot.partition;
    auto got = co_await reactor::submit_to(
        owner, [&]() { return manager->read(topic, partition, request, watch); });
    if (!got) {
        slot.error = to_error_code(got.error());
        slot.has_read = false;
        if (slot.error == error_code::offset_out_of_range) {
            // Tell the client where the log is, so it can reset.
            auto offsets = co_await reactor::submit_to(
                owner, [&]() { return manager->offsets(topic, partition); });
            if (offsets) {
                slot.read.high_watermark = offsets->high_watermark;
                slot.read.log_start_offset = offsets->log_start_offset;
            }
        }
        co_return;
    }
    slot.error = error_code::none;
    slot.read = std::move(*got);
    slot.has_read = true;
}

size_t bytes_of(const fetch_slot& slot) {
    return slot.has_read && slot.read.data ? slot.read.data->batches.size() : 0;
}

// Keeps the waiter registered with this shard's manager and the connection
// for as long as the fetch runs.
class fetch_waiter {
public:
    fetch_waiter(cluster::partition_manager& local, connection& conn)
        : _local(local), _conn(conn), _id(local.add_waiter(_wake)) {
        _conn.add_abort_listener(_wake);
    }
    ~fetch_waiter() {
        _conn.remove_abort_listener(_wake);
        _local.remove_waiter(_id);
    }
    fetch_waiter(const fetch_waiter&) = delete;
    fetch_waiter& operator=(const fetch_waiter&) = delete;
    uint64_t id() const noexcept { return _id; }
    reactor::condition& wake() noexcept { return _wake; }

private:
    reactor::condition _wake;
    cluster::partition_manager& _local;
    connection& _conn;
    uint64_t _id;
};

}  // namespace

task<response> handle_fetch(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<fetch_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const fetch_request& req = *decoded;
    const int16_t version = request.api_version();
    const bool by_id = version >= 13;

    fetch_response body;
    body.session_id = 0;
    if (req.session_id != 0) {
        // We never hand out sessions: the client must start over sessionless.
        body.error_code = code(error_code::fetch_session_id_not_found);
        co_return make_response(request, body);
    }

    auto image = context.image();
    const size_t response_max = static_cast<size_t>(std::max(req.max_bytes, 0));
    std::vector<fetch_slot> slots;
    for (const auto& topic_in : req.topics) {
        const cluster::topic_metadata* topic =
            by_id ? image->find(to_topic_id(topic_in.topic_id)) : image->find(topic_in.topic);
        for (const auto& p : topic_in.partitions) {
            fetch_slot& slot = slots.emplace_back();
            slot.topic = topic;
            slot.partition = p.partition;
            slot.offset = p.fetch_offset;
            slot.max_bytes = std::min(static_cast<size_t>(std::max(p.partition_max_bytes, 0)),
                                      response_max);
            if (topic == nullptr) {
                slot.error = by_id ? error_code::unknown_topic_id
                                   : error_code::unknown_topic_or_partition;
            } else if (p.partition < 0 || p.partition >= topic->partition_count) {
                slot.error = error_code::unknown_topic_or_partition;
            } else if (p.current_leader_epoch > 0) {
                slot.error = error_code::unknown_leader_epoch;  // ours is 0
            }
        }
    }

    const steady_time deadline = reactor::shard::local().now() +
                                 std::chrono::milliseconds(std::max(req.max_wait_ms, 0));
    const size_t min_bytes = static_cast<size_t>(std::max(req.min_bytes, 0));
    fetch_waiter waiter(context.local(), request.conn);
    for (;;) {
        const bool may_wait = reactor::shard::local().now() < deadline && min_bytes > 0;
        std::optional<cluster::fetch_watch> watch;
        if (may_wait) {
            watch = cluster::fetch_watch{
                .shard = context.shard_id(), .waiter = waiter.id(), .deadline = deadline};
        }
        reactor::gate reads;
        for (fetch_slot& slot : slots) {
            if (slot.topic == nullptr ||
                (slot.error != error_code::none && slot.error != error_code::offset_out_of_range &&
                 slot.error != error_code::not_leader_or_follower)) {
                continue;
            }
            reads.spawn(read_one(context, slot, watch));
        }
        co_await reads.wait();
        size_t total = 0;
        bool any_error = false;
        for (const fetch_slot& slot : slots) {
            total += bytes_of(slot);
            any_error = any_error || slot.error != error_code::none;
        }
        if (!may_wait || total >= min_bytes || any_error || request.conn.aborted()) break;
        if (!co_await waiter.wake().wait_until(deadline)) {
            // The deadline passed: one last read answers with what there is.
            if (request.conn.aborted()) break;
            continue;
        }
        if (request.conn.aborted()) break;
    }
    if (request.conn.aborted()) co_return response::no_response();

    // Answer in request order, grouping consecutive partitions of a topic.
    size_t remaining = response_max;
    bool first_data = true;
    size_t i = 0;
    for (const auto& topic_in : req.topics) {
        auto& topic_out = body.responses.emplace_back();
        topic_out.topic = topic_in.topic;
        topic_out.topic_id = topic_in.topic_id;
        topic_out.partitions.reserve(topic_in.partitions.size());
        for (size_t k = 0; k < topic_in.partitions.size(); ++k, ++i) {
            const fetch_slot& slot = slots[i];
            auto& out = topic_out.partitions.emplace_back();
            out.partition_index = slot.partition;
            out.error_code = code(slot.error);
            out.high_watermark = slot.read.high_watermark;
            out.last_stable_offset = slot.read.high_watermark;  // no transactions yet
            out.log_start_offset = slot.read.log_start_offset;
            out.aborted_transactions.emplace();  // empty: kafka-python iterates it
            out.preferred_read_replica = -1;
            out.records = bytes_view{};
            if (slot.error != error_code::none) {
                if (slot.error != error_code::offset_out_of_range) {
                    out.high_watermark = -1;
                    out.last_stable_offset = -1;
                    out.log_start_offset = -1;
                }
                continue;
            }
            const size_t size = bytes_of(slot);
            if (size == 0) continue;
            if (first_data || size <= remaining) {
                out.records = bytes_view(std::span<const std::byte>(slot.read.data->batches));
                remaining -= std::min(remaining, size);
                first_data = false;
            }
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
