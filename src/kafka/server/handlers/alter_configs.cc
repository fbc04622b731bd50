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
#include "reactor/submit_to.h"

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
        cluster::controller* c = &context.controller();
        std::string name(in.resource_name);
        cluster::config_edit edit = replace_with(std::move(configs));
        const bool validate_only = req.validate_only;
        auto altered = co_await reactor::submit_to(cluster::controller_shard, [&]() {
            return c->alter_config(std::move(name), std::move(edit), validate_only);
        });
        errors[i] = {to_error_code(altered.code), std::move(altered.message)};
    }

    alter_configs_response body;
    body.responses.resize(req.resources.size());
    for (size_t i = 0; i < req.resources.size(); ++i) {
        auto& out = body.responses[i];
        out.resource_type = req.resources[i].resource_type;
        out.resource_name = req.resources[i].resource_name;
        out.error_code = code(errors[i].error);
        if (errors[i].ok()) {
            out.error_message = std::nullopt;
        } else {
            out.error_message = errors[i].message;
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
