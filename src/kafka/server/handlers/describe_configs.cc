// DescribeConfigs: the configs of topics and of this broker, each with its
// value, source and flags; synonyms (v1+, when asked), type and
// documentation (v3+, documentation when asked).
//
// Kafka's rules (ConfigHelper.describeConfigs), one result per resource:
//   - TOPIC (2): Topic.validate (INVALID_TOPIC_EXCEPTION), then the topic must
//     exist (UNKNOWN_TOPIC_OR_PARTITION). Every topic config, or only the
//     requested keys (null or empty: all; unknown keys are skipped), in name
//     order. Sources: DYNAMIC_TOPIC_CONFIG for overrides, STATIC_BROKER_CONFIG
//     for values the operator set, DEFAULT_CONFIG otherwise. Topic configs are
//     never read-only or sensitive.
//   - BROKER (4): the name must be our node id ("Unexpected broker id..." and
//     "Broker id must be an integer..." are INVALID_REQUEST). The node's
//     configs: the broker-level names of topic defaults (log.retention.ms,
//     log.segment.bytes, message.max.bytes, ...) and num.partitions,
//     auto.create.topics.enable, default.replication.factor, broker.id and
//     node.id — all read-only, since Tidelog has no dynamic broker configs.
//     The empty name means the cluster-wide dynamic defaults: none here, so an
//     empty list, as Kafka answers without dynamic configs.
//   - BROKER_LOGGER (8): not served (INVALID_REQUEST); other types:
//     INVALID_REQUEST ("Unsupported resource type").
// v0 has is_default (source DEFAULT_CONFIG) instead of the source.
#include <algorithm>
#include <charconv>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kafka/messages/describe_configs.h"
#include "kafka/server/handlers/config_resources.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {
namespace {

using resource_result = describe_configs_response::describe_configs_result;
using entry_result = describe_configs_response::describe_configs_resource_result;
using cluster::config_entry;
using cluster::config_source;

// One resource's answer before it is viewed into the response.
struct described_resource {
    resource_error error;
    std::vector<config_entry> entries;
};

config_entry broker_entry(std::string name, std::string value, bool operator_set,
                          std::string_view default_value, cluster::config_type type,
                          std::string_view documentation, cluster::describe_options options) {
    config_entry entry{
        .name = std::move(name),
        .value = std::move(value),
        .source = operator_set ? config_source::broker_default : config_source::built_in_default,
        .type = type,
        .read_only = true};
    if (options.include_documentation) entry.documentation = std::string(documentation);
    if (options.include_synonyms) {
        if (operator_set) {
            entry.synonyms.push_back({entry.name, entry.value, config_source::broker_default});
        }
        entry.synonyms.push_back(
            {entry.name, std::string(default_value), config_source::built_in_default});
    }
    return entry;
}

// The node's own configs: what the operator set (or Kafka's defaults), sorted.
std::vector<config_entry> broker_entries(const cluster::topic_defaults& defaults,
                                         const kafka_settings& settings,
                                         cluster::describe_options options) {
    using cluster::config_type;
    std::vector<config_entry> out;
    std::set<std::string_view> seen;
    for (const cluster::config_definition& d : cluster::topic_config_definitions()) {
        if (d.broker_synonym.empty() || !seen.insert(d.broker_synonym).second) continue;
        out.push_back(broker_entry(std::string(d.broker_synonym),
                                   std::string(defaults.value(d.name)), defaults.is_set(d.name),
                                   d.default_value, d.type, d.documentation, options));
    }
    const std::string node_id = std::to_string(settings.node_id);
    out.push_back(broker_entry("broker.id", node_id, true, "-1", config_type::int_,
                               "The broker id for this server.", options));
    out.push_back(broker_entry("node.id", node_id, true, "-1", config_type::int_,
                               "The node ID associated with the roles this process is playing.",
                               options));
    // Tidelog's defaults equal Kafka's here; a different value was set.
    out.push_back(broker_entry("num.partitions", std::to_string(settings.num_partitions),
                               settings.num_partitions != 1, "1", config_type::int_,
                               "The default number of log partitions per topic.", options));
    out.push_back(broker_entry("auto.create.topics.enable",
                               settings.auto_create_topics ? "true" : "false",
                               !settings.auto_create_topics, "true", config_type::boolean,
                               "Enable auto creation of topic on the server.", options));
    out.push_back(broker_entry("default.replication.factor", "1", false, "1", config_type::int_,
                               "The replication factor for automatically created topics, and "
                               "for topics created with -1 as the replication factor.",
                               options));
    std::ranges::sort(out, {}, &config_entry::name);
    return out;
}

// Keeps the requested keys (null or empty: all), in the entries' order.
void keep_requested(std::vector<config_entry>& entries,
                    const std::optional<std::vector<std::string_view>>& keys) {
    if (!keys.has_value() || keys->empty()) return;
    const std::set<std::string_view> wanted(keys->begin(), keys->end());
    std::erase_if(entries, [&](const config_entry& e) { return !wanted.contains(e.name); });
}

described_resource describe_resource(const describe_configs_request::describe_configs_resource& in,
                                     const cluster::metadata_image& image,
                                     const kafka_settings& settings,
                                     cluster::describe_options options) {
    described_resource out;
    switch (in.resource_type) {
        case topic_resource: {
            if (auto valid = cluster::validate_topic_name(in.resource_name); !valid) {
                out.error = {error_code::invalid_topic_exception, valid.error()};
                return out;
            }
            const cluster::topic_metadata* topic = image.find(in.resource_name);
            if (topic == nullptr) {
                out.error = {error_code::unknown_topic_or_partition,
                             fmt::format("The topic '{}' does not exist.", in.resource_name)};
                return out;
            }
            out.entries = topic->config.describe(image.defaults(), options);
            break;
        }
        case broker_resource: {
            if (in.resource_name.empty()) return out;  // no dynamic cluster-wide defaults
            int32_t id = 0;
            const char* first = in.resource_name.data();
            const char* last = first + in.resource_name.size();
            const auto parsed = std::from_chars(first, last, id);
            if (parsed.ec != std::errc{} || parsed.ptr != last) {
                out.error = {
                    error_code::invalid_request,
                    fmt::format("Broker id must be an integer, but it is: {}", in.resource_name)};
                return out;
            }
            if (id != settings.node_id) {
                out.error = {error_code::invalid_request,
                             fmt::format("Unexpected broker id, expected {} or empty string, but "
                                         "received {}",
                                         settings.node_id, in.resource_name)};
                return out;
            }
            out.entries = broker_entries(image.defaults(), settings, options);
            break;
        }
        case broker_logger_resource:
            out.error = {error_code::invalid_request,
                         "Tidelog does not serve BROKER_LOGGER resources."};
            return out;
        default:
            out.error = {error_code::invalid_request,
                         fmt::format("Unsupported resource type: {}", in.resource_type)};
            return out;
    }
    keep_requested(out.entries, in.configuration_keys);
    return out;
}

entry_result view_entry(const config_entry& e, int16_t version, bool with_documentation) {
    entry_result out;
    out.name = e.name;
    out.value = e.sensitive ? std::nullopt : std::optional<std::string_view>(e.value);
    out.read_only = e.read_only;
    out.is_sensitive = e.sensitive;
    if (version == 0) {
        out.is_default = e.source == config_source::built_in_default;
        return out;
    }
    out.config_source = cluster::kafka_config_source(e.source);
    for (const cluster::config_synonym& s : e.synonyms) {
        out.synonyms.push_back(
            {.name = s.name, .value = s.value, .source = cluster::kafka_config_source(s.source)});
    }
    if (version >= 3) {
        out.config_type = cluster::kafka_config_type(e.type);
        out.documentation =
            with_documentation ? std::optional<std::string_view>(e.documentation) : std::nullopt;
    }
    return out;
}

}  // namespace

task<response> handle_describe_configs(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<describe_configs_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const describe_configs_request& req = *decoded;
    const int16_t version = request.api_version();
    const auto image = context.image();
    const cluster::describe_options options{
        .include_synonyms = version >= 1 && req.include_synonyms,
        .include_documentation = version >= 3 && req.include_documentation};

    // Sized up front: the response views these.
    std::vector<described_resource> described(req.resources.size());
    describe_configs_response body;
    body.results.resize(req.resources.size());
    for (size_t i = 0; i < req.resources.size(); ++i) {
        const auto& in = req.resources[i];
        described[i] = describe_resource(in, *image, context.settings(), options);
        resource_result& out = body.results[i];
        out.resource_type = in.resource_type;
        out.resource_name = in.resource_name;
        out.error_code = code(described[i].error.error);
        if (!described[i].error.ok()) {
            out.error_message = described[i].error.message;
            continue;
        }
        out.error_message = std::nullopt;
        out.configs.reserve(described[i].entries.size());
        for (const config_entry& e : described[i].entries) {
            out.configs.push_back(view_entry(e, version, options.include_documentation));
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
