// AlterConfigs (the legacy, non-incremental API): replaces a topic's whole
// set of overrides with the configs given — any override not given goes
// back to its default — or only checks them (validate_only).
//
// Kafka's rules (ConfigAdminManager.preprocess, then the controller), one
// result per resource:
//   - a resource named twice, a key named twice, a null value:
//     INVALID_REQUEST;
//   - TOPIC (2) only: the empty name is INVALID_REQUEST, an invalid name
//     INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION;
//     BROKER (4) and BROKER_LOGGER (8): INVALID_REQUEST — Tidelog has no
//     dynamic broker configs; other types INVALID_REQUEST;
//   - every config must be a known topic config with a valid value
//     (INVALID_CONFIG, with the message naming the key and the rule).
// The new set replaces the old one in one controller change, serialised
// with every other config edit.
#include <map>
#include <string>
#include <vector>

#include "kafka/messages/alter_configs.h"
#include "kafka/server/handlers/config_resources.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {
namespace {

using overrides_map = std::map<std::string, std::string, std::less<>>;

// Replaces the whole set, whatever the topic had.
cluster::config_edit replace_with(overrides_map configs) {
    return
        [configs = std::move(configs)](
            const cluster::topic_config&) -> result<cluster::topic_config, cluster::config_error> {
            return cluster::topic_config::from_overrides(configs);
        };
}

}  // namespace

task<response> handle_alter_configs(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<alter_configs_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const alter_configs_request& req = *decoded;
    const auto image = context.image();

    std::vector<resource_error> errors =
        check_alter_resources(req.resources, [](const auto&) { return false; });
    for (size_t i = 0; i < req.resources.size(); ++i) {
        const auto& in = req.resources[i];
        if (!errors[i].ok()) continue;
        errors[i] = check_alter_target(in.resource_type, in.resource_name, *image);
        if (!errors[i].ok()) continue;
        overrides_map configs;
        for (const auto& config : in.configs) {
            configs.emplace(std::string(config.name), std::string(*config.value));
        }
        errors[i] = co_await alter_topic_config(
            context, in.resource_name, replace_with(std::move(configs)), req.validate_only);
    }

    alter_configs_response body;
    answer_alter_resources(body, req, errors);
    co_return make_response(request, body);
}

}  // namespace tl::kafka
