// CreatePartitions: grows topics to `count` partitions through the
// controller (or only checks, validate_only). timeout_ms is ignored.
//
// Kafka's rules (KRaft ControllerApis and ReplicationControlManager):
//   - a topic named twice in one request: INVALID_REQUEST for every copy;
//   - an unknown topic: UNKNOWN_TOPIC_OR_PARTITION;
//   - count must exceed the current count (INVALID_PARTITIONS, with Kafka's
//     two messages for "equal" and "lower");
//   - assignments, when not null, give one replica list per new partition,
//     each of registered brokers, once each, as many as the existing
//     partitions have (INVALID_REPLICA_ASSIGNMENT) — on one node: [node_id].
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kafka/messages/create_partitions.h"
#include "kafka/server/handlers/handlers.h"
#include "reactor/submit_to.h"

namespace tl::kafka {
namespace {

using partitions_topic = create_partitions_request::create_partitions_topic;

struct check_result {
    error_code error = error_code::none;
    std::string message;
};

check_result check_assignments(const partitions_topic& in, int32_t current, int32_t node_id) {
    const auto& assignments = *in.assignments;
    const int32_t added = in.count - current;
    if (std::cmp_not_equal(assignments.size(), added)) {
        return {error_code::invalid_replica_assignment,
                fmt::format("Attempted to add {} additional partition(s), but only {} "
                            "assignment(s) were specified.",
                            added, assignments.size())};
    }
    for (const auto& assignment : assignments) {
        if (assignment.broker_ids.empty()) {
            return {error_code::invalid_replica_assignment,
                    "The manual partition assignment includes an empty replica list."};
        }
        std::set<int32_t> seen;
        for (int32_t broker : assignment.broker_ids) {
            if (broker != node_id) {
                return {error_code::invalid_replica_assignment,
                        fmt::format("The manual partition assignment includes broker {}, but "
                                    "no such broker is registered.",
                                    broker)};
            }
            if (!seen.insert(broker).second) {
                return {error_code::invalid_replica_assignment,
                        fmt::format("The manual partition assignment includes the broker {} "
                                    "more than once.",
                                    broker)};
            }
        }
    }
    return {};
}

check_result check_topic(const partitions_topic& in, bool duplicate,
                         const cluster::metadata_image& image, int32_t node_id) {
    if (duplicate) return {error_code::invalid_request, "Duplicate topic name."};
    const cluster::topic_metadata* topic = image.find(in.name);
    if (topic == nullptr) {
        return {error_code::unknown_topic_or_partition,
                fmt::format("The topic '{}' does not exist.", in.name)};
    }
    const int32_t current = topic->partition_count;
    if (in.count == current) {
        return {error_code::invalid_partitions,
                fmt::format("Topic already has {} partition(s).", current)};
    }
    if (in.count < current) {
        return {error_code::invalid_partitions,
                fmt::format("The topic {} currently has {} partition(s); {} would not be an "
                            "increase.",
                            in.name, current, in.count)};
    }
    if (in.assignments.has_value()) return check_assignments(in, current, node_id);
    return {};
}

}  // namespace

task<response> handle_create_partitions(broker_context& context, request_context& request) {
    auto decoded = decode_request_body<create_partitions_request>(request.frame);
    if (!decoded) co_return response::close_connection();
    const create_partitions_request& req = *decoded;
    const auto image = context.image();

    std::set<std::string_view> names;
    std::set<std::string_view> duplicates;
    for (const auto& in : req.topics) {
        if (!names.insert(in.name).second) duplicates.insert(in.name);
    }

    const size_t count = req.topics.size();
    std::vector<check_result> checks(count);
    std::vector<cluster::controller::partition_increase> changes;
    std::vector<size_t> slots;
    for (size_t i = 0; i < count; ++i) {
        const auto& in = req.topics[i];
        checks[i] =
            check_topic(in, duplicates.contains(in.name), *image, context.settings().node_id);
        if (checks[i].error != error_code::none) continue;
        changes.push_back({.name = std::string(in.name), .count = in.count});
        slots.push_back(i);
    }
    if (!changes.empty()) {
        // The controller checks again against its own, newest state.
        cluster::controller* c = &context.controller();
        const bool validate_only = req.validate_only;
        auto outcomes = co_await reactor::submit_to(cluster::controller_shard, [&]() {
            return c->create_partitions(std::move(changes), validate_only);
        });
        for (size_t k = 0; k < slots.size(); ++k) {
            checks[slots[k]] = {to_error_code(outcomes[k].code), std::move(outcomes[k].message)};
        }
    }

    create_partitions_response body;
    body.results.resize(count);
    for (size_t i = 0; i < count; ++i) {
        auto& out = body.results[i];
        out.name = req.topics[i].name;
        out.error_code = code(checks[i].error);
        if (checks[i].error != error_code::none) {
            out.error_message = checks[i].message;
        } else {
            out.error_message = std::nullopt;
        }
    }
    co_return make_response(request, body);
}

}  // namespace tl::kafka
