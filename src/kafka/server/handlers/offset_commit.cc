// OffsetCommit: offsets are stored in the group's __consumer_offsets
// partition and acknowledged once the append is durable.
//
// Kafka's rules: v0 (and generation -1 with no member id) is a simple
// consumer's commit, accepted while the group has no members (the group is
// created if needed); otherwise member, instance id and generation must
// match the group (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION;
// REBALANCE_IN_PROGRESS while the group waits for its assignment). Unknown
// topics or partitions get UNKNOWN_TOPIC_OR_PARTITION, metadata longer than
// offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE. v2-4 retention_time_ms
// (-1: the broker's offsets.retention.minutes) sets an explicit expiry.
#include "kafka/messages/offset_commit.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<response> handle_offset_commit(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<offset_commit_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const offset_commit_request& req = *decoded;
    const int16_t version = request.api_version();
    auto image = context.image();

    std::vector<groups::commit_entry> entries;
    for (const auto& t : req.topics) {
        const cluster::topic_metadata* topic = image->find(t.name);
        for (const auto& p : t.partitions) {
            groups::commit_entry e;
            e.topic = std::string(t.name);
            e.partition = p.partition_index;
            e.offset = p.committed_offset;
            e.leader_epoch = p.committed_leader_epoch;
            if (p.committed_metadata) e.metadata = std::string(*p.committed_metadata);
            if (topic == nullptr || p.partition_index < 0 ||
                p.partition_index >= topic->partition_count) {
                e.error = code(error_code::unknown_topic_or_partition);
            }
            entries.push_back(std::move(e));
        }
    }
    const int32_t generation = version >= 1 ? req.generation_id_or_member_epoch : -1;
    groups::member_identity who{version >= 1 ? std::string(req.member_id) : std::string(),
                                std::nullopt};
    if (req.group_instance_id) who.group_instance_id = std::string(*req.group_instance_id);
    std::optional<int64_t> retention_ms;
    if (version >= 2 && version <= 4 && req.retention_time_ms >= 0) {
        retention_ms = req.retention_time_ms;
    }

    std::vector<int16_t> errors;
    const auto where = route_group(context, req.group_id);
    if (!where) {
        errors.assign(entries.size(), group_error::coordinator_not_available);
    } else {
        const std::string group_id(req.group_id);
        const size_t count = entries.size();
        errors = co_await reactor::submit_to(
            where->shard, [&]() -> task<std::vector<int16_t>> {
                groups::group_coordinator* c = context.coordinator(where->shard);
                if (c == nullptr) {
                    co_return std::vector<int16_t>(count, group_error::coordinator_not_available);
                }
                co_return co_await c->commit(group_id, where->partition, std::move(who),
                                             generation, std::move(entries), retention_ms);
            });
    }

    offset_commit_response body;
    size_t i = 0;
    for (const auto& t : req.topics) {
        auto& topic_out = body.topics.emplace_back();
        topic_out.name = t.name;
        for (const auto& p : t.partitions) {
            auto& out = topic_out.partitions.emplace_back();
            out.partition_index = p.partition_index;
            out.error_code = i < errors.size() ? errors[i] : int16_t{0};
            ++i;
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
