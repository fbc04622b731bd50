// SyncGroup: the leader hands out the generation's assignments; everyone
// (the leader too) waits, on this shard, for its own, which the coordinator
// sends once the group with its assignments is stored in __consumer_offsets.
#include "kafka/messages/sync_group.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<response> handle_sync_group(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<sync_group_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const sync_group_request& req = *decoded;

    sync_group_response body;
    const auto where = route_group(context, req.group_id);
    if (!where) {
        body.error_code = group_error::coordinator_not_available;
        co_return make_response(request, body);
    }
    groups::sync_args args;
    args.member_id = std::string(req.member_id);
    if (req.group_instance_id) args.group_instance_id = std::string(*req.group_instance_id);
    args.generation = req.generation_id;
    if (req.protocol_type) args.protocol_type = std::string(*req.protocol_type);
    if (req.protocol_name) args.protocol_name = std::string(*req.protocol_name);
    for (const auto& a : req.assignments) {
        args.assignments.emplace_back(
            std::string(a.member_id),
            std::vector<std::byte>(a.assignment.span().begin(), a.assignment.span().end()));
    }

    group_wait wait(context, request.conn);
    const groups::reply_address reply = wait.address();
    const std::string group_id(req.group_id);
    const bool sent = co_await reactor::submit_to(where->shard, [&]() {
        groups::group_coordinator* c = context.coordinator(where->shard);
        if (c == nullptr) return false;
        c->sync(group_id, where->partition, std::move(args), reply);
        return true;
    });
    if (!sent) {
        body.error_code = group_error::coordinator_not_available;
        co_return make_response(request, body);
    }
    if (!co_await wait.sync()) co_return response::no_response();
    const groups::sync_result& r = wait.sync_result();
    body.error_code = r.error;
    body.protocol_type = r.protocol_type;
    body.protocol_name = r.protocol_name;
    body.assignment = bytes_view(std::span<const std::byte>(r.assignment));
    co_return make_response(request, body);
}

}  // namespace tl::kafka
