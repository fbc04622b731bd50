// What DescribeConfigs, AlterConfigs and IncrementalAlterConfigs share: the
// resource types (Kafka's ConfigResource.Type ids) and how a resource name
// is checked before its configs are looked at. Pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/task.h"
#include "cluster/controller.h"
#include "cluster/metadata_image.h"
#include "kafka/protocol/error_code.h"
#include "kafka/server/broker_context.h"
#include "reactor/submit_to.h"

namespace tl::kafka {

inline constexpr int8_t topic_resource = 2;
inline constexpr int8_t broker_resource = 4;
inline constexpr int8_t broker_logger_resource = 8;

// An error to answer for one resource; error none: go on.
struct resource_error {
    error_code error = error_code::none;
    std::string message;

    [[nodiscard]] bool ok() const noexcept { return error == error_code::none; }
};

// The message every alter API answers for a broker resource: Tidelog's
// broker settings are static (tidelog.yaml and flags), read at start-up.
inline constexpr std::string_view static_broker_configs_message =
    "Tidelog has no dynamic broker configs: set broker configs in tidelog.yaml or on the "
    "command line and restart the broker.";

// Kafka's ConfigAdminManager.preprocess for both alter APIs, one error per
// resource: a resource named twice (both copies: "Each resource must appear
// at most once."), a key named twice in one resource, a null value where
// `null_allowed(config)` says no — all INVALID_REQUEST.
template <typename Resource, typename NullAllowed>
[[nodiscard]] std::vector<resource_error> check_alter_resources(
    const std::vector<Resource>& resources, NullAllowed null_allowed) {
    std::vector<resource_error> out(resources.size());
    std::map<std::pair<int8_t, std::string_view>, int> uses;
    for (const Resource& r : resources) ++uses[{r.resource_type, r.resource_name}];
    for (size_t i = 0; i < resources.size(); ++i) {
        const Resource& r = resources[i];
        if (uses[{r.resource_type, r.resource_name}] > 1) {
            out[i] = {error_code::invalid_request, "Each resource must appear at most once."};
            continue;
        }
        std::set<std::string_view> keys;
        std::string nulls;
        for (const auto& config : r.configs) {
            if (!keys.insert(config.name).second) {
                out[i] = {error_code::invalid_request, "Error due to duplicate config keys"};
                break;
            }
            if (!config.value.has_value() && !null_allowed(config)) {
                nulls += nulls.empty() ? "" : ", ";
                nulls += config.name;
            }
        }
        if (out[i].ok() && !nulls.empty()) {
            out[i] = {error_code::invalid_request, "Null value not supported for : " + nulls};
        }
    }
    return out;
}

// Whether an alter API may change the resource's configs: a topic that
// exists (the controller checks again), never a broker.
[[nodiscard]] inline resource_error check_alter_target(int8_t type, std::string_view name,
                                                       const cluster::metadata_image& image) {
    switch (type) {
        case topic_resource:
            if (name.empty()) {
                return {error_code::invalid_request, "Default topic resources are not allowed."};
            }
            if (auto valid = cluster::validate_topic_name(name); !valid) {
                return {error_code::invalid_topic_exception, valid.error()};
            }
            if (image.find(name) == nullptr) {
                return {error_code::unknown_topic_or_partition,
                        fmt::format("The topic '{}' does not exist.", name)};
            }
            return {};
        case broker_resource:
        case broker_logger_resource:
            return {error_code::invalid_request, std::string(static_broker_configs_message)};
        default:
            return {error_code::invalid_request, fmt::format("Unknown resource type {}", type)};
    }
}

// Both alter APIs end the same way: the edit runs on the controller shard
// (edits of one topic serialise there), and each resource is answered with
// its error and message in request order.
inline task<resource_error> alter_topic_config(broker_context& context, std::string_view topic,
                                               cluster::config_edit edit, bool validate_only) {
    cluster::controller* c = &context.controller();
    std::string name(topic);
    auto altered = co_await reactor::submit_to(cluster::controller_shard, [&]() {
        return c->alter_config(std::move(name), std::move(edit), validate_only);
    });
    co_return resource_error{to_error_code(altered.code), std::move(altered.message)};
}

// `errors` views stay referenced by `body` until it is encoded.
template <typename Response, typename Request>
void answer_alter_resources(Response& body, const Request& request,
                            const std::vector<resource_error>& errors) {
    body.responses.resize(request.resources.size());
    for (size_t i = 0; i < request.resources.size(); ++i) {
        auto& out = body.responses[i];
        out.resource_type = request.resources[i].resource_type;
        out.resource_name = request.resources[i].resource_name;
        out.error_code = code(errors[i].error);
        if (errors[i].ok()) {
            out.error_message = std::nullopt;
        } else {
            out.error_message = errors[i].message;
        }
    }
}

}  // namespace tl::kafka
