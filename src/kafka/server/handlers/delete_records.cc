// DeleteRecords: moves each partition's log start offset forward to the
// requested offset (one hop to the partition's owner; partitions run in
// parallel) and answers the new log start as low_watermark.
//
// Kafka's rules (Partition.deleteRecordsOnLeader, UnifiedLog):
//   - offset -1 means the high watermark;
//   - an offset below -1 or beyond the high watermark: OFFSET_OUT_OF_RANGE;
//   - an offset at or below the log start changes nothing and answers the
//     current log start;
//   - a topic whose cleanup.policy lacks "delete": POLICY_VIOLATION;
//   - an unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION.
// Failed partitions answer low_watermark -1. timeout_ms is ignored: the
// answer comes once the new start is persisted.
#include <string_view>

#include "kafka/messages/delete_records.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using partition_result = delete_records_response::delete_records_partition_result;

constexpr int64_t high_watermark_offset = -1;

// Runs on the owner: resolves -1, then truncates.
task<cluster::partition_result<int64_t>> delete_on_owner(cluster::partition_manager& manager,
                                                         std::string_view topic, int32_t partition,
                                                         int64_t offset) {
    if (offset == high_watermark_offset) {
        auto offsets = manager.offsets(topic, partition);
        if (!offsets) co_return failure{offsets.error()};
        offset = offsets->high_watermark;
    }
    co_return co_await manager.delete_records(topic, partition, offset);
}

task<void> delete_one(broker_context& context, const cluster::topic_metadata& topic,
                      int32_t partition, int64_t offset, partition_result& out) {
    const unsigned owner = topic.owners[static_cast<size_t>(partition)];
    cluster::partition_manager* manager = &context.manager(owner);
    std::string_view name = topic.name;
    auto moved = co_await reactor::submit_to(
        owner, [&]() { return delete_on_owner(*manager, name, partition, offset); });
    if (!moved) {
        out.error_code = code(to_error_code(moved.error()));
        co_return;
    }
    out.error_code = code(error_code::none);
    out.low_watermark = *moved;
}

}  // namespace

task<response> handle_delete_records(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<delete_records_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const delete_records_request& req = *decoded;
    const auto image = context.image();

    delete_records_response body;
    body.topics.resize(req.topics.size());
    reactor::gate deletions;
    for (size_t t = 0; t < req.topics.size(); ++t) {
        const auto& topic_in = req.topics[t];
        auto& topic_out = body.topics[t];
        topic_out.name = topic_in.name;
        topic_out.partitions.resize(topic_in.partitions.size());
        const cluster::topic_metadata* topic = image->find(topic_in.name);
        const bool deletable =
            topic != nullptr && cluster::deletes_by_retention(topic->config, image->defaults());
        for (size_t i = 0; i < topic_in.partitions.size(); ++i) {
            const auto& in = topic_in.partitions[i];
            auto& out = topic_out.partitions[i];
            out.partition_index = in.partition_index;
            out.low_watermark = -1;
            if (topic == nullptr || in.partition_index < 0 ||
                in.partition_index >= topic->partition_count) {
                out.error_code = code(error_code::unknown_topic_or_partition);
            } else if (!deletable) {
                out.error_code = code(error_code::policy_violation);
            } else if (in.offset < high_watermark_offset) {
                out.error_code = code(error_code::offset_out_of_range);
            } else {
                deletions.spawn(delete_one(context, *topic, in.partition_index, in.offset, out));
            }
        }
    }
    co_await deletions.wait();
    co_return make_response(request, body);
}

}  // namespace tl::kafka
