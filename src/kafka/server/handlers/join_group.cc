// JoinGroup: a member joins (or rejoins) a group and waits, on this shard,
// until the coordinator completes the rebalance (group.h has the rules).
// v0 has no rebalance timeout: the session timeout stands in, as in Kafka.
// v4+ with an empty member id gets MEMBER_ID_REQUIRED and its id, and joins
// again with it. A closed connection ends the wait without an answer.
#include "kafka/messages/join_group.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

std::vector<std::byte> copy_of(bytes_view b) { return {b.span().begin(), b.span().end()}; }

}  // namespace

task<response> handle_join_group(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<join_group_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const join_group_request& req = *decoded;
    const int16_t version = request.api_version();

    join_group_response body;
    body.member_id = req.member_id;
    body.protocol_name = version >= 7 ? std::nullopt : std::optional<std::string_view>("");
    const auto fail = [&](int16_t error) {
        body.error_code = error;
        body.generation_id = -1;
        return make_response(request, body);
    };
    const auto where = route_group(context, req.group_id);
    if (!where) co_return fail(group_error::coordinator_not_available);

    groups::join_args args;
    args.member_id = std::string(req.member_id);
    if (req.group_instance_id) args.group_instance_id = std::string(*req.group_instance_id);
    args.client_id = std::string(request.frame.header.client_id.value_or(""));
    args.client_host = client_host_of(request.conn);
    args.session_timeout_ms = req.session_timeout_ms;
    args.rebalance_timeout_ms = version >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
    args.protocol_type = std::string(req.protocol_type);
    for (const auto& p : req.protocols) {
        args.protocols.push_back({std::string(p.name), copy_of(p.metadata)});
    }
    args.require_known_member_id = version >= 4;

    group_wait wait(context, request.conn);
    const groups::reply_address reply = wait.address();
    const std::string group_id(req.group_id);
    const bool sent = co_await reactor::submit_to(where->shard, [&]() {
        groups::group_coordinator* c = context.coordinator(where->shard);
        if (c == nullptr) return false;
        c->join(group_id, where->partition, std::move(args), reply);
        return true;
    });
    if (!sent) co_return fail(group_error::coordinator_not_available);
    if (!co_await wait.join()) co_return response::no_response();

    const groups::join_result& r = wait.join_result();
    body.error_code = r.error;
    body.generation_id = r.generation;
    body.member_id = r.member_id;
    body.leader = r.leader;
    if (r.error == 0) {
        body.protocol_type = r.protocol_type;
        body.protocol_name = r.protocol_name;
    }
    body.skip_assignment = r.skip_assignment && version >= 9;
    for (const groups::join_member& m : r.members) {
        auto& out = body.members.emplace_back();
        out.member_id = m.member_id;
        out.group_instance_id = m.group_instance_id;
        out.metadata = bytes_view(std::span<const std::byte>(m.metadata));
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
