// DescribeCluster: the cluster id, the controller and the brokers — this
// one, at its advertised address (the admin client's view of the cluster).
//
// Kafka's rules (AuthHelper.computeDescribeClusterResponse on a broker):
//   - endpoint_type (v1) 1 (brokers) is served; 2 (controllers) is a
//     mismatch: MISMATCHED_ENDPOINT_TYPE; any other value:
//     UNSUPPORTED_ENDPOINT_TYPE; in v0 (no endpoint_type on the wire) both
//     would be INVALID_REQUEST. Tidelog is also its own controller, but it
//     has no separate controller listener, so it answers as a broker does.
//   - cluster_authorized_operations: INT32_MIN unless asked for; asked, with
//     no authorizer, every operation a cluster resource supports.
#include <string>

#include <fmt/format.h>

#include "kafka/messages/describe_cluster.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {
namespace {

constexpr int8_t brokers_endpoint = 1;
constexpr int8_t controllers_endpoint = 2;

// Kafka's AclOperation codes that a CLUSTER resource supports (AclEntry
// .supportedOperations): CREATE 5, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12, as a bit field.
constexpr int32_t cluster_operations =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

}  // namespace

task<response> handle_describe_cluster(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<describe_cluster_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const describe_cluster_request& req = *decoded;
    const int16_t version = request.api_version();
    const kafka_settings& settings = context.settings();
    const auto image = context.image();

    describe_cluster_response body;
    body.endpoint_type = brokers_endpoint;
    std::string message;
    if (req.endpoint_type != brokers_endpoint) {
        const bool mismatch = req.endpoint_type == controllers_endpoint;
        body.error_code = code(version == 0 ? error_code::invalid_request
                               : mismatch   ? error_code::mismatched_endpoint_type
                                            : error_code::unsupported_endpoint_type);
        message = mismatch ? "The request was sent to an endpoint of type BROKER, but we wanted "
                             "an endpoint of type CONTROLLER"
                           : fmt::format("Unsupported endpoint type {}", req.endpoint_type);
        body.error_message = message;
        co_return make_response(request, body);
    }
    body.cluster_id = image->cluster_id();
    // As Metadata: the Raft leader is the controller, the brokers are those
    // registered in the metadata log (this one until its registration commits).
    const int32_t leader = context.controller().leader_id();
    body.controller_id = leader >= 0 ? leader : settings.node_id;
    bool self_listed = false;
    for (const cluster::broker_record& b : image->brokers()) {
        self_listed = self_listed || b.node_id == settings.node_id;
        body.brokers.push_back({.broker_id = b.node_id, .host = b.host, .port = b.port,
                                .rack = b.rack});
    }
    if (!self_listed) {
        body.brokers.push_back({.broker_id = settings.node_id,
                                .host = settings.advertised_host,
                                .port = settings.advertised_port,
                                .rack = std::nullopt});
    }
    if (req.include_cluster_authorized_operations) {
        body.cluster_authorized_operations = cluster_operations;
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
