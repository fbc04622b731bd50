// ListGroups: the groups of every shard's coordinator. v4+ filter by state
// (case-insensitive names; an unknown name matches nothing), v5+ by type:
// every group here is "classic". COORDINATOR_LOAD_IN_PROGRESS while some
// partition is still being replayed (with what is loaded so far).
#include "kafka/messages/list_groups.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
    return std::ranges::equal(a, b, [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    });
}

}  // namespace

task<response> handle_list_groups(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<list_groups_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const list_groups_request& req = *decoded;

    list_groups_response body;
    std::vector<groups::group_state> states;
    bool matches_nothing = false;
    for (std::string_view s : req.states_filter) {
        if (auto state = groups::parse_group_state(s)) {
            states.push_back(*state);
        } else if (req.states_filter.size() == 1) {
            matches_nothing = true;
        }
    }
    const auto classic = [](std::string_view t) { return equal_ignoring_case(t, "classic"); };
    if (!req.types_filter.empty() && std::ranges::none_of(req.types_filter, classic)) {
        matches_nothing = true;
    }
    std::vector<groups::listed_group> listed;
    if (!matches_nothing) {
        for (unsigned shard = 0; shard < context.image()->shard_count(); ++shard) {
            std::vector<groups::listed_group> part;
            const int16_t error = co_await reactor::submit_to(shard, [&]() -> int16_t {
                groups::group_coordinator* c = context.coordinator(shard);
                if (c == nullptr) return group_error::coordinator_not_available;
                return c->list(states, part);
            });
            if (error != 0) body.error_code = error;
            for (auto& g : part) listed.push_back(std::move(g));
        }
    }
    for (const groups::listed_group& g : listed) {
        auto& out = body.groups.emplace_back();
        out.group_id = g.group_id;
        out.protocol_type = g.protocol_type;
        out.group_state = g.state;
        out.group_type = "classic";
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
