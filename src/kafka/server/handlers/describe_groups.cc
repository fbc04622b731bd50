// DescribeGroups: each group's state, protocol and members, from its
// coordinator shard. An unknown group is described as Dead with no error,
// as Kafka does. Members show metadata and assignment only while Stable.
// authorized_operations (v3+): INT32_MIN unless asked; asked, with no
// authorizer, every operation a group supports (READ, DELETE, DESCRIBE).
#include "kafka/messages/describe_groups.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

constexpr int32_t group_operations = (1 << 3) | (1 << 6) | (1 << 8);

}  // namespace

task<response> handle_describe_groups(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<describe_groups_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const describe_groups_request& req = *decoded;

    std::vector<groups::described_group> described;
    described.reserve(req.groups.size());
    for (std::string_view name : req.groups) {
        const std::string group_id(name);
        const auto where = route_group(context, group_id);
        if (!where) {
            groups::described_group d;
            d.group_id = group_id;
            d.error = group_error::coordinator_not_available;
            described.push_back(std::move(d));
            continue;
        }
        described.push_back(co_await reactor::submit_to(where->shard, [&]() {
            groups::group_coordinator* c = context.coordinator(where->shard);
            if (c == nullptr) {
                groups::described_group d;
                d.group_id = group_id;
                d.error = group_error::coordinator_not_available;
                return d;
            }
            return c->describe(group_id, where->partition);
        }));
    }
    describe_groups_response body;
    for (const groups::described_group& d : described) {
        auto& out = body.groups.emplace_back();
        out.error_code = d.error;
        out.group_id = d.group_id;
        out.group_state = d.state;
        out.protocol_type = d.protocol_type;
        out.protocol_data = d.protocol;
        out.authorized_operations =
            req.include_authorized_operations ? group_operations : INT32_MIN;
        for (const groups::described_member& m : d.members) {
            auto& member = out.members.emplace_back();
            member.member_id = m.member_id;
            member.group_instance_id = m.group_instance_id;
            member.client_id = m.client_id;
            member.client_host = m.client_host;
            member.member_metadata = bytes_view(std::span<const std::byte>(m.metadata));
            member.member_assignment = bytes_view(std::span<const std::byte>(m.assignment));
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
