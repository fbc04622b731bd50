// OffsetDelete: removes a group's committed offsets for some partitions.
// GROUP_ID_NOT_FOUND without the group; a consumer group with members keeps
// the offsets of topics it subscribes to (GROUP_SUBSCRIBED_TO_TOPIC per
// partition); a non-empty group of another protocol type: NON_EMPTY_GROUP.
#include "kafka/messages/offset_delete.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<response> handle_offset_delete(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<offset_delete_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const offset_delete_request& req = *decoded;
    auto image = context.image();

    std::vector<std::pair<std::string, int32_t>> partitions;
    std::vector<int16_t> unknown;  // per partition, before the coordinator sees it
    for (const auto& t : req.topics) {
        const cluster::topic_metadata* topic = image->find(t.name);
        for (const auto& p : t.partitions) {
            partitions.emplace_back(std::string(t.name), p.partition_index);
            const bool known = topic != nullptr && p.partition_index >= 0 &&
                               p.partition_index < topic->partition_count;
            unknown.push_back(known ? int16_t{0}
                                    : code(error_code::unknown_topic_or_partition));
        }
    }
    offset_delete_response body;
    std::vector<int16_t> errors;
    const std::string group_id(req.group_id);
    const auto where = route_group(context, group_id);
    if (!where) {
        body.error_code = group_error::coordinator_not_available;
    } else {
        body.error_code = co_await reactor::submit_to(where->shard, [&]() -> task<int16_t> {
            groups::group_coordinator* c = context.coordinator(where->shard);
            if (c == nullptr) co_return group_error::coordinator_not_available;
            co_return co_await c->delete_offsets(group_id, where->partition, partitions, errors);
        });
    }
    if (body.error_code == 0) {
        size_t i = 0;
        for (const auto& t : req.topics) {
            auto& topic_out = body.topics.emplace_back();
            topic_out.name = t.name;
            for (const auto& p : t.partitions) {
                auto& out = topic_out.partitions.emplace_back();
                out.partition_index = p.partition_index;
                out.error_code = unknown[i] != 0 ? unknown[i]
                                                 : (i < errors.size() ? errors[i] : int16_t{0});
                ++i;
            }
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
