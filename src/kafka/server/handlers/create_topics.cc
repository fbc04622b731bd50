// CreateTopics: creates topics through the controller, or only checks them
// (validate_only, v1+). Kafka's rules (KRaft ControllerApis and
// ReplicationControlManager), checked in this order, per topic:
//   - a name given twice in one request: INVALID_REQUEST for every copy;
//   - Topic.validate (1-249 of [a-zA-Z0-9._-]): INVALID_TOPIC_EXCEPTION, also
//     for a name that collides with an existing one once '.' and '_' match;
//   - a config with a null value: INVALID_CONFIG;
//   - explicit assignments exclude num_partitions/replication_factor (both
//     must be -1: INVALID_REQUEST); they must name partitions 0..n-1 with
//     non-empty replica lists of registered brokers, each once
//     (INVALID_REPLICA_ASSIGNMENT) — on one node: exactly [node_id];
//   - num_partitions -1 is num.partitions, else it must be positive
//     (INVALID_PARTITIONS); replication_factor -1 is 1, else it must be 1
//     here (INVALID_REPLICATION_FACTOR);
//   - configs must be known topic configs with valid values (INVALID_CONFIG);
//   - the name must be free (TOPIC_ALREADY_EXISTS; the controller decides).
// timeout_ms is ignored: the controller answers once every shard has the topic.
// v5+ answers the partition count, replication factor and every config with
// its source; v7 the topic id (zero for validate_only: nothing was created).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/assert.h"
#include "kafka/messages/create_topics.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using creatable_topic = create_topics_request::creatable_topic;
using topic_result = create_topics_response::creatable_topic_result;

// One requested topic: its error (if the request itself is wrong), else the
// topic to hand to the controller.
struct planned_topic {
    error_code error = error_code::none;
    std::string message;
    cluster::new_topic topic;
};

void refuse(planned_topic& plan, error_code error, std::string message) {
    plan.error = error;
    plan.message = std::move(message);
}

// Explicit assignments: partitions 0..n-1, each on this broker alone.
void plan_assignments(const creatable_topic& in, int32_t node_id, planned_topic& plan) {
    if (in.num_partitions != -1 || in.replication_factor != -1) {
        refuse(plan, error_code::invalid_request,
               "Both numPartitions or replicationFactor and replicasAssignments were set. Both "
               "cannot be used at the same time.");
        return;
    }
    std::vector<int32_t> indexes;
    indexes.reserve(in.assignments.size());
    for (const auto& assignment : in.assignments) {
        indexes.push_back(assignment.partition_index);
        if (assignment.broker_ids.empty()) {
            refuse(plan, error_code::invalid_replica_assignment,
                   "The manual partition assignment includes an empty replica list.");
            return;
        }
        std::set<int32_t> seen;
        for (int32_t broker : assignment.broker_ids) {
            if (broker != node_id) {
                refuse(plan, error_code::invalid_replica_assignment,
                       fmt::format("The manual partition assignment includes broker {}, but no "
                                   "such broker is registered.",
                                   broker));
                return;
            }
            if (!seen.insert(broker).second) {
                refuse(plan, error_code::invalid_replica_assignment,
                       fmt::format("The manual partition assignment includes the broker {} more "
                                   "than once.",
                                   broker));
                return;
            }
        }
    }
    std::ranges::sort(indexes);
    for (size_t i = 0; i < indexes.size(); ++i) {
        if (indexes[i] != static_cast<int32_t>(i)) {
            refuse(plan, error_code::invalid_replica_assignment,
                   "Partitions should be a consecutive 0-based integer sequence");
            return;
        }
    }
    plan.topic.partitions = static_cast<int32_t>(indexes.size());
    plan.topic.replication_factor = 1;
}

void plan_counts(const creatable_topic& in, const kafka_settings& settings, planned_topic& plan) {
    const int32_t partitions =
        in.num_partitions == -1 ? settings.num_partitions : in.num_partitions;
    if (partitions <= 0) {
        refuse(plan, error_code::invalid_partitions,
               "Number of partitions was set to an invalid non-positive value.");
        return;
    }
    const int16_t factor = in.replication_factor == -1 ? int16_t{1} : in.replication_factor;
    if (factor <= 0) {
        refuse(plan, error_code::invalid_replication_factor,
               "Replication factor must be larger than 0, or -1 to use the default value.");
        return;
    }
    if (factor != 1) {
        refuse(plan, error_code::invalid_replication_factor,
               fmt::format("Unable to replicate the partition {0} time(s): The target replication "
                           "factor of {0} cannot be reached because only 1 broker(s) are "
                           "registered.",
                           factor));
        return;
    }
    plan.topic.partitions = partitions;
    plan.topic.replication_factor = factor;
}

planned_topic plan_topic(const creatable_topic& in, bool duplicate,
                         const cluster::metadata_image& image, const kafka_settings& settings) {
    planned_topic plan;
    plan.topic.name = std::string(in.name);
    if (duplicate) {
        refuse(plan, error_code::invalid_request, "Duplicate topic name.");
        return plan;
    }
    if (auto valid = cluster::validate_topic_name(in.name); !valid) {
        refuse(plan, error_code::invalid_topic_exception, valid.error());
        return plan;
    }
    for (const auto& existing : image.topics()) {
        if (existing->name != in.name && cluster::topic_names_collide(existing->name, in.name)) {
            refuse(plan, error_code::invalid_topic_exception,
                   fmt::format("Topic '{}' collides with existing topic: {}", in.name,
                               existing->name));
            return plan;
        }
    }
    for (const auto& config : in.configs) {
        if (!config.value.has_value()) {
            refuse(plan, error_code::invalid_config,
                   fmt::format("Null value not supported for topic configs: {}", config.name));
            return plan;
        }
        plan.topic.configs.insert_or_assign(std::string(config.name), std::string(*config.value));
    }
    if (!in.assignments.empty()) {
        plan_assignments(in, settings.node_id, plan);
    } else {
        plan_counts(in, settings, plan);
    }
    if (plan.error != error_code::none) return plan;
    if (auto config = cluster::topic_config::from_overrides(plan.topic.configs); !config) {
        refuse(plan, error_code::invalid_config, config.error().message);
    }
    return plan;
}

}  // namespace

task<response> handle_create_topics(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<create_topics_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const create_topics_request& req = *decoded;
    const int16_t version = request.api_version();
    const auto image = context.image();

    std::set<std::string_view> names;
    std::set<std::string_view> duplicates;
    for (const auto& in : req.topics) {
        if (!names.insert(in.name).second) duplicates.insert(in.name);
    }

    // Storage for the response's views, sized up front: never reallocated.
    const size_t count = req.topics.size();
    std::vector<planned_topic> plans(count);
    std::vector<std::vector<cluster::config_entry>> described(count);
    std::vector<cluster::topic_id> ids(count);

    std::vector<cluster::new_topic> to_create;
    std::vector<size_t> slots;
    for (size_t i = 0; i < count; ++i) {
        plans[i] = plan_topic(req.topics[i], duplicates.contains(req.topics[i].name), *image,
                              context.settings());
        if (plans[i].error != error_code::none) continue;
        to_create.push_back(plans[i].topic);
        slots.push_back(i);
    }
    if (!to_create.empty()) {
        cluster::controller* c = &context.controller();
        const bool validate_only = req.validate_only;
        auto outcomes = co_await reactor::submit_to(cluster::controller_shard, [&]() {
            return c->create_topics(std::move(to_create), validate_only);
        });
        for (size_t k = 0; k < slots.size(); ++k) {
            planned_topic& plan = plans[slots[k]];
            plan.error = to_error_code(outcomes[k].error.code);
            plan.message = std::move(outcomes[k].error.message);
            ids[slots[k]] = outcomes[k].id;
        }
    }

    create_topics_response body;
    body.topics.resize(count);
    const cluster::topic_defaults& defaults = image->defaults();
    for (size_t i = 0; i < count; ++i) {
        const planned_topic& plan = plans[i];
        topic_result& out = body.topics[i];
        out.name = req.topics[i].name;
        out.error_code = code(plan.error);
        if (plan.error != error_code::none) {
            out.error_message = plan.message;
            continue;
        }
        out.error_message = std::nullopt;
        out.topic_id = to_uuid(ids[i]);
        if (version < 5) continue;
        out.num_partitions = plan.topic.partitions;
        out.replication_factor = plan.topic.replication_factor;
        auto config = cluster::topic_config::from_overrides(plan.topic.configs);
        TL_ASSERT(config.ok(), "configs were validated before creating the topic");
        described[i] = config->describe(defaults);
        auto& configs = out.configs.emplace();
        configs.reserve(described[i].size());
        for (const cluster::config_entry& entry : described[i]) {
            configs.push_back({.name = entry.name,
                               .value = entry.sensitive
                                            ? std::nullopt
                                            : std::optional<std::string_view>(entry.value),
                               .read_only = entry.read_only,
                               .config_source = cluster::kafka_config_source(entry.source),
                               .is_sensitive = entry.sensitive});
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
