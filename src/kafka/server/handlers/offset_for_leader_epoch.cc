// OffsetForLeaderEpoch: the end offset of a leader epoch, with which
// consumers (and, later, followers) detect a log that diverged from theirs.
//
// Every partition has had one leader epoch, 0, since its first record (the
// broker stamps 0 into every batch). Kafka's LeaderEpochFileCache.endOffsetFor
// then gives, for the requested leader_epoch:
//   - -1 (UNDEFINED_EPOCH), an epoch above 0, or a log that never had a
//     record (no epoch yet): leader_epoch -1, end_offset -1, error NONE;
//   - 0: leader_epoch 0, end_offset = the log end offset (the high watermark
//     once appends are acknowledged);
//   - below -1: that epoch, and the start offset of epoch 0 (the log start).
// current_leader_epoch (v2+) fences as Partition.getLocalLog does: -1 skips
// the check, above 0 UNKNOWN_LEADER_EPOCH, below 0 FENCED_LEADER_EPOCH.
// replica_id (v3+) is ignored: there are no followers. Unknown topics and
// partitions: UNKNOWN_TOPIC_OR_PARTITION. One hop per partition, in parallel.
#include <string_view>

#include "kafka/messages/offset_for_leader_epoch.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using epoch_end_offset = offset_for_leader_epoch_response::epoch_end_offset;

constexpr int32_t current_epoch = 0;
constexpr int32_t undefined_epoch = -1;
constexpr int32_t no_epoch_check = -1;

task<void> look_up(broker_context& context, const cluster::topic_metadata& topic, int32_t partition,
                   int32_t leader_epoch, epoch_end_offset& out) {
    const unsigned owner = topic.owners[static_cast<size_t>(partition)];
    cluster::partition_manager* manager = &context.manager(owner);
    std::string_view name = topic.name;
    auto offsets =
        co_await reactor::submit_to(owner, [&]() { return manager->offsets(name, partition); });
    if (!offsets) {
        out.error_code = code(to_error_code(offsets.error()));
        co_return;
    }
    out.error_code = code(error_code::none);
    if (offsets->log_end_offset == 0 || leader_epoch > current_epoch) co_return;  // -1, -1
    if (leader_epoch == current_epoch) {
        out.leader_epoch = current_epoch;
        out.end_offset = offsets->log_end_offset;
    } else {
        out.leader_epoch = leader_epoch;
        out.end_offset = offsets->log_start_offset;
    }
}

}  // namespace

task<response> handle_offset_for_leader_epoch(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<offset_for_leader_epoch_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const offset_for_leader_epoch_request& req = *decoded;
    const auto image = context.image();

    offset_for_leader_epoch_response body;
    body.topics.resize(req.topics.size());
    reactor::gate lookups;
    for (size_t t = 0; t < req.topics.size(); ++t) {
        const auto& topic_in = req.topics[t];
        auto& topic_out = body.topics[t];
        topic_out.topic = topic_in.topic;
        topic_out.partitions.resize(topic_in.partitions.size());
        const cluster::topic_metadata* topic = image->find(topic_in.topic);
        for (size_t i = 0; i < topic_in.partitions.size(); ++i) {
            const auto& in = topic_in.partitions[i];
            auto& out = topic_out.partitions[i];
            out.partition = in.partition;
            out.leader_epoch = undefined_epoch;
            out.end_offset = -1;
            if (topic == nullptr || in.partition < 0 || in.partition >= topic->partition_count) {
                out.error_code = code(error_code::unknown_topic_or_partition);
            } else if (in.current_leader_epoch != no_epoch_check &&
                       in.current_leader_epoch > current_epoch) {
                out.error_code = code(error_code::unknown_leader_epoch);
            } else if (in.current_leader_epoch != no_epoch_check &&
                       in.current_leader_epoch < current_epoch) {
                out.error_code = code(error_code::fenced_leader_epoch);
            } else if (in.leader_epoch == undefined_epoch) {
                out.error_code = code(error_code::none);
            } else {
                lookups.spawn(look_up(context, *topic, in.partition, in.leader_epoch, out));
            }
        }
    }
    co_await lookups.wait();
    co_return make_response(request, body);
}

}  // namespace tl::kafka
