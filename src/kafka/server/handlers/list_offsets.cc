// ListOffsets: offsets by timestamp, and the special timestamps
//   -1 latest (the high watermark; also the last stable offset, as long as
//      there are no transactions), -2 earliest (the log start offset),
//   -3 max timestamp (v7+: the first record with the largest timestamp),
//   -4 earliest local (v8+: the log start; all data is local),
//   -5 latest tiered (no tiered storage: offset -1).
// A timestamp no record reaches answers offset -1, timestamp -1 (v1+) or an
// empty offset list (v0).
#include <vector>

#include "kafka/messages/list_offsets.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using partition_response = list_offsets_response::list_offsets_partition_response;

constexpr int64_t latest_timestamp = -1;
constexpr int64_t earliest_timestamp = -2;
constexpr int64_t max_timestamp = -3;
constexpr int64_t earliest_local_timestamp = -4;
constexpr int64_t latest_tiered_timestamp = -5;

task<void> lookup(broker_context& context, const cluster::topic_metadata& topic, int32_t partition,
                  int64_t timestamp, partition_response& out) {
    const unsigned owner = topic.owners[static_cast<size_t>(partition)];
    cluster::partition_manager* manager = &context.manager(owner);
    std::string_view name = topic.name;
    out.leader_epoch = 0;
    if (timestamp == latest_timestamp || timestamp == earliest_timestamp ||
        timestamp == earliest_local_timestamp || timestamp == latest_tiered_timestamp) {
        auto offsets = co_await reactor::submit_to(
            owner, [&]() { return manager->offsets(name, partition); });
        if (!offsets) {
            out.error_code = code(to_error_code(offsets.error()));
            co_return;
        }
        out.timestamp = -1;
        if (timestamp == latest_timestamp) {
            out.offset = offsets->high_watermark;
        } else if (timestamp == latest_tiered_timestamp) {
            out.offset = -1;
        } else {
            out.offset = offsets->log_start_offset;
        }
        co_return;
    }
    auto found = co_await reactor::submit_to(owner, [&]() {
        return timestamp == max_timestamp ? manager->max_timestamp(name, partition)
                                          : manager->offset_for_timestamp(name, partition,
                                                                          timestamp);
    });
    if (!found) {
        out.error_code = code(to_error_code(found.error()));
        co_return;
    }
    if (found->has_value()) {
        out.offset = (*found)->offset;
        out.timestamp = (*found)->timestamp_ms;
    } else {
        out.offset = -1;
        out.timestamp = -1;
    }
}

}  // namespace

task<response> handle_list_offsets(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<list_offsets_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const list_offsets_request& req = *decoded;
    const int16_t version = request.api_version();

    auto image = context.image();
    list_offsets_response body;
    body.topics.resize(req.topics.size());
    reactor::gate lookups;
    for (size_t t = 0; t < req.topics.size(); ++t) {
        const auto& topic_in = req.topics[t];
        auto& topic_out = body.topics[t];
        topic_out.name = topic_in.name;
        topic_out.partitions.resize(topic_in.partitions.size());
        const cluster::topic_metadata* topic = image->find(topic_in.name);
        for (size_t i = 0; i < topic_in.partitions.size(); ++i) {
            const auto& in = topic_in.partitions[i];
            auto& out = topic_out.partitions[i];
            out.partition_index = in.partition_index;
            if (topic == nullptr || in.partition_index < 0 ||
                in.partition_index >= topic->partition_count) {
                out.error_code = code(error_code::unknown_topic_or_partition);
                continue;
            }
            if (in.current_leader_epoch > 0) {
                out.error_code = code(error_code::unknown_leader_epoch);
                continue;
            }
            const bool special_unsupported =
                (in.timestamp == max_timestamp && version < 7) ||
                (in.timestamp == earliest_local_timestamp && version < 8) ||
                (in.timestamp == latest_tiered_timestamp && version < 9) ||
                (in.timestamp < latest_tiered_timestamp);
            if (special_unsupported) {
                out.error_code = code(error_code::unsupported_version);
                continue;
            }
            lookups.spawn(lookup(context, *topic, in.partition_index, in.timestamp, out));
        }
    }
    co_await lookups.wait();
    if (version < 4) {
        for (auto& topic_out : body.topics) {
            for (auto& out : topic_out.partitions) out.leader_epoch = -1;  // not in v0-3
        }
    }
    if (version == 0) {
        // v0 answers a list of offsets (at most max_num_offsets; we have one).
        for (size_t t = 0; t < req.topics.size(); ++t) {
            for (size_t i = 0; i < req.topics[t].partitions.size(); ++i) {
                auto& out = body.topics[t].partitions[i];
                if (out.error_code == 0 && out.offset >= 0 &&
                    req.topics[t].partitions[i].max_num_offsets > 0) {
                    out.old_style_offsets = {out.offset};
                }
                out.offset = -1;
                out.timestamp = -1;
            }
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
