// DeleteGroups: an empty group and its offsets go (tombstones in
// __consumer_offsets); NON_EMPTY_GROUP while it has members,
// GROUP_ID_NOT_FOUND when there is no such group.
#include "kafka/messages/delete_groups.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<response> handle_delete_groups(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<delete_groups_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const delete_groups_request& req = *decoded;
    delete_groups_response body;
    for (std::string_view name : req.groups_names) {
        const std::string group_id(name);
        auto& out = body.results.emplace_back();
        out.group_id = name;
        const auto where = route_group(context, group_id);
        if (!where) {
            out.error_code = group_error::coordinator_not_available;
            continue;
        }
        out.error_code = co_await reactor::submit_to(where->shard, [&]() -> task<int16_t> {
            groups::group_coordinator* c = context.coordinator(where->shard);
            if (c == nullptr) co_return group_error::coordinator_not_available;
            co_return co_await c->delete_group(group_id, where->partition);
        });
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
