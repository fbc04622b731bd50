// Heartbeat: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it
// to rejoin. Answered on the coordinator shard at once.
#include "kafka/messages/heartbeat.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<response> handle_heartbeat(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<heartbeat_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const heartbeat_request& req = *decoded;
    heartbeat_response body;
    const auto where = route_group(context, req.group_id);
    if (!where) {
        body.error_code = group_error::coordinator_not_available;
        co_return make_response(request, body);
    }
    const std::string group_id(req.group_id);
    groups::member_identity who{std::string(req.member_id), std::nullopt};
    if (req.group_instance_id) who.group_instance_id = std::string(*req.group_instance_id);
    body.error_code = co_await reactor::submit_to(where->shard, [&]() -> int16_t {
        groups::group_coordinator* c = context.coordinator(where->shard);
        if (c == nullptr) return group_error::coordinator_not_available;
        return c->heartbeat(group_id, where->partition, who, req.generation_id);
    });
    co_return make_response(request, body);
}

}  // namespace tl::kafka
