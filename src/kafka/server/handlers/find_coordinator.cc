// FindCoordinator: every group's coordinator is this broker (the shard that
// owns the group's __consumer_offsets partition is an internal matter; any
// connection reaches it). v0-3 ask for one key, v4+ for a batch.
//
// key_type 0 (group) answers this broker's advertised address, or
// COORDINATOR_NOT_AVAILABLE while __consumer_offsets does not exist; key_type
// 1 (transactional id) is COORDINATOR_NOT_AVAILABLE until transactions
// exist; other key types are INVALID_REQUEST, as in Kafka.
#include "kafka/messages/find_coordinator.h"
#include "kafka/server/handlers/group_support.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {
namespace {

struct answer {
    int16_t error = 0;
    std::optional<std::string_view> message;
};

answer look_up(const broker_context& context, std::string_view key, int8_t key_type) {
    if (key_type == 1) {
        return {group_error::coordinator_not_available, "Transactions are not supported."};
    }
    if (key_type != 0) return {code(error_code::invalid_request), "Unknown key type."};
    if (!route_group(context, key).has_value()) {
        return {group_error::coordinator_not_available, "The coordinator is not available."};
    }
    return {};
}

}  // namespace

task<response> handle_find_coordinator(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<find_coordinator_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const find_coordinator_request& req = *decoded;
    const kafka_settings& settings = context.settings();
    find_coordinator_response body;
    if (request.api_version() < 4) {
        const answer a = look_up(context, req.key, req.key_type);
        body.error_code = a.error;
        body.error_message = a.message;
        body.node_id = a.error == 0 ? settings.node_id : -1;
        body.host = a.error == 0 ? std::string_view(settings.advertised_host) : "";
        body.port = a.error == 0 ? settings.advertised_port : -1;
        co_return make_response(request, body);
    }
    for (std::string_view key : req.coordinator_keys) {
        const answer a = look_up(context, key, req.key_type);
        auto& out = body.coordinators.emplace_back();
        out.key = key;
        out.error_code = a.error;
        out.error_message = a.message;
        out.node_id = a.error == 0 ? settings.node_id : -1;
        out.host = a.error == 0 ? std::string_view(settings.advertised_host) : "";
        out.port = a.error == 0 ? settings.advertised_port : -1;
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
