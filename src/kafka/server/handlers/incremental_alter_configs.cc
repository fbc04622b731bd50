// IncrementalAlterConfigs: edits single topic configs — SET (0), DELETE (1),
// APPEND (2) and SUBTRACT (3) — or only checks the edits (validate_only).
//
// Kafka's rules (ConfigAdminManager.preprocess, ControllerApis, then the
// controller's ConfigurationControlManager), one result per resource:
//   - a resource named twice, a key named twice, a null value for anything
//     but DELETE, an unknown operation: INVALID_REQUEST;
//   - TOPIC (2) only, as for AlterConfigs (config_resources.h); BROKER (4)
//     and BROKER_LOGGER (8): INVALID_REQUEST — no dynamic broker configs;
//   - SET needs a known topic config and a valid value; DELETE of a config
//     that is not set changes nothing; APPEND and SUBTRACT only apply to list
//     configs and start from the current value (override, else default);
//     any failure is INVALID_CONFIG with the message naming key and rule, and
//     leaves the topic unchanged.
// A resource's edits run in order inside one controller change
// (cluster::config_edit), so concurrent edits of one topic serialise.
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kafka/messages/incremental_alter_configs.h"
#include "kafka/server/handlers/config_resources.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {
namespace {

enum class config_operation : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

struct config_change {
    config_operation operation = config_operation::set;
    std::string name;
    std::string value;  // empty for DELETE
};

// Applies `changes` in order to a copy of the topic's config.
cluster::config_edit apply_changes(std::vector<config_change> changes,
                                   cluster::topic_defaults defaults) {
    return [changes = std::move(changes),
            defaults = std::move(defaults)](const cluster::topic_config& current)
               -> result<cluster::topic_config, cluster::config_error> {
        cluster::topic_config next = current;
        for (const config_change& change : changes) {
            result<void, cluster::config_error> done{};
            switch (change.operation) {
                case config_operation::set:
                    done = next.set(change.name, change.value);
                    break;
                case config_operation::remove:
                    next.remove(change.name);
                    break;
                case config_operation::append:
                    done = next.append(change.name, change.value, defaults);
                    break;
                case config_operation::subtract:
                    done = next.subtract(change.name, change.value, defaults);
                    break;
            }
            if (!done) return failure{done.error()};
        }
        return next;
    };
}

// The request's edits of one resource, or the error for an unknown operation.
std::optional<std::vector<config_change>> read_changes(
    const incremental_alter_configs_request::alter_configs_resource& in, resource_error& error) {
    std::vector<config_change> changes;
    for (const auto& config : in.configs) {
        if (config.config_operation < 0 || config.config_operation > 3) {
            error = {error_code::invalid_request,
                     fmt::format("Unknown operation type {}", config.config_operation)};
            return std::nullopt;
        }
        changes.push_back({.operation = static_cast<config_operation>(config.config_operation),
                           .name = std::string(config.name),
                           .value = std::string(config.value.value_or(""))});
    }
    return changes;
}

}  // namespace

task<response> handle_incremental_alter_configs(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<incremental_alter_configs_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const incremental_alter_configs_request& req = *decoded;
    const auto image = context.image();

    std::vector<resource_error> errors =
        check_alter_resources(req.resources, [](const auto& config) {
            return config.config_operation == static_cast<int8_t>(config_operation::remove);
        });
    for (size_t i = 0; i < req.resources.size(); ++i) {
        const auto& in = req.resources[i];
        if (!errors[i].ok()) continue;
        auto changes = read_changes(in, errors[i]);
        if (!changes.has_value()) continue;
        errors[i] = check_alter_target(in.resource_type, in.resource_name, *image);
        if (!errors[i].ok()) continue;
        errors[i] = co_await alter_topic_config(
            context, in.resource_name, apply_changes(std::move(*changes), image->defaults()),
            req.validate_only);
    }

    incremental_alter_configs_response body;
    answer_alter_resources(body, req, errors);
    co_return make_response(request, body);
}

}  // namespace tl::kafka
