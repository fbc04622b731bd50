// LeaveGroup: v0-2 one member by id; v3+ a batch, each by member id and/or
// group instance id (static members leave by instance id). v0-2 answer the
// member's error at the top; v3+ per member, with group errors at the top.
#include "kafka/messages/leave_group.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

task<response> handle_leave_group(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<leave_group_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const leave_group_request& req = *decoded;
    const int16_t version = request.api_version();

    std::vector<groups::member_identity> who;
    if (version < 3) {
        who.push_back({std::string(req.member_id), std::nullopt});
    } else {
        for (const auto& m : req.members) {
            groups::member_identity w{std::string(m.member_id), std::nullopt};
            if (m.group_instance_id) w.group_instance_id = std::string(*m.group_instance_id);
            who.push_back(std::move(w));
        }
    }
    leave_group_response body;
    const auto where = route_group(context, req.group_id);
    groups::leave_outcome outcome;
    if (!where) {
        outcome.error = group_error::coordinator_not_available;
    } else {
        const std::string group_id(req.group_id);
        outcome = co_await reactor::submit_to(where->shard, [&]() {
            groups::group_coordinator* c = context.coordinator(where->shard);
            if (c == nullptr) {
                return groups::leave_outcome{group_error::coordinator_not_available, {}};
            }
            return c->leave(group_id, where->partition, who);
        });
    }
    body.error_code = outcome.error;
    if (version < 3) {
        if (outcome.error == 0 && !outcome.members.empty()) body.error_code = outcome.members[0];
        co_return make_response(request, body);
    }
    if (outcome.error == 0) {
        for (size_t i = 0; i < who.size(); ++i) {
            auto& out = body.members.emplace_back();
            out.member_id = who[i].member_id;
            out.group_instance_id = who[i].group_instance_id;
            out.error_code = i < outcome.members.size() ? outcome.members[i] : int16_t{0};
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
