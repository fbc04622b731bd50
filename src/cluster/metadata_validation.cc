#include "cluster/metadata_validation.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "base/assert.h"

namespace tl::cluster {

const topic_record* find_topic(const metadata_snapshot& s, std::string_view name) noexcept {
    const auto it = std::ranges::find(s.topics, name, &topic_record::name);
    return it == s.topics.end() ? nullptr : &*it;
}

const topic_record* find_topic(const metadata_snapshot& s, const topic_id& id) noexcept {
    const auto it = std::ranges::find(s.topics, id, &topic_record::id);
    return it == s.topics.end() ? nullptr : &*it;
}

controller_error check_topic_absent(std::string_view name, const metadata_snapshot& s) {
    if (find_topic(s, name) != nullptr) {
        return {controller_errc::topic_already_exists,
                fmt::format("Topic '{}' already exists.", name)};
    }
    return {};
}

controller_error check_deletable(const topic_record* topic, std::string_view name) {
    if (topic == nullptr) {
        return {controller_errc::unknown_topic, "This server does not host this topic-partition."};
    }
    if (is_internal_topic(topic->name)) {
        return {controller_errc::internal_topic,
                fmt::format("Topic {} is a kafka internal topic and is not allowed to be deleted.",
                            name)};
    }
    return {};
}

controller_error check_partition_growth(const topic_record* topic, std::string_view name,
                                        int32_t count) {
    if (topic == nullptr) {
        return {controller_errc::unknown_topic, fmt::format("Topic '{}' does not exist.", name)};
    }
    if (count <= topic->partition_count) {
        return {controller_errc::invalid_partitions,
                fmt::format("Topic currently has {} partitions, which is higher than or equal to "
                            "the requested {}.",
                            topic->partition_count, count)};
    }
    return {};
}

controller_error check_producer_ids(int64_t next, int64_t count) {
    TL_ASSERT(count > 0, "a producer id block holds at least one id");
    if (next > std::numeric_limits<int64_t>::max() - count) {
        return {controller_errc::producer_ids_exhausted,
                fmt::format("Cannot allocate {} producer ids after {}: they would pass {}.", count,
                            next, std::numeric_limits<int64_t>::max())};
    }
    return {};
}

controller_error check_assignments(std::span<const replica_list> assignments,
                                   int16_t replication_factor, const metadata_snapshot& s) {
    for (size_t p = 0; p < assignments.size(); ++p) {
        if (auto problem = check_replica_list(assignments[p], replication_factor)) {
            return {controller_errc::invalid_replica_assignment,
                    fmt::format("Partition {}: {}.", p, *problem)};
        }
        for (int32_t node : assignments[p]) {
            if (!std::ranges::binary_search(s.brokers, node, {}, &broker_record::node_id)) {
                return {controller_errc::invalid_replica_assignment,
                        fmt::format("Partition {}: broker {} is not registered.", p, node)};
            }
        }
    }
    return {};
}

controller_error check_new_topic(const new_topic& t, const metadata_snapshot& base,
                                 int32_t max_partitions_per_topic) {
    if (auto valid = validate_topic_name(t.name); !valid) {
        return {controller_errc::invalid_topic_name, valid.error()};
    }
    if (auto absent = check_topic_absent(t.name, base); absent.code != controller_errc::none) {
        return absent;
    }
    if (t.partitions <= 0 || t.partitions > max_partitions_per_topic) {
        return {controller_errc::invalid_partitions,
                fmt::format("Number of partitions must be between 1 and {}, got {}.",
                            max_partitions_per_topic, t.partitions)};
    }
    // Until partitions are replicated (the next issue), whatever the number
    // of brokers.
    if (t.replication_factor != 1) {
        return {controller_errc::invalid_replication_factor,
                fmt::format("Replication factor must be 1 on a single-node cluster, got {}.",
                            t.replication_factor)};
    }
    if (auto config = topic_config::from_overrides(t.configs); !config) {
        return {controller_errc::invalid_config, config.error().message};
    }
    return {};
}

controller_error check_partition_increase(const partition_increase& change,
                                          const metadata_snapshot& base,
                                          int32_t max_partitions_per_topic) {
    const controller_error growth =
        check_partition_growth(find_topic(base, change.name), change.name, change.count);
    if (growth.code != controller_errc::none) return growth;
    if (change.count > max_partitions_per_topic) {
        return {controller_errc::invalid_partitions,
                fmt::format("Number of partitions must be at most {}, got {}.",
                            max_partitions_per_topic, change.count)};
    }
    return {};
}

result<config_change, controller_error> edit_config(std::string_view name,
                                                    const metadata_snapshot& base,
                                                    const config_edit& edit) {
    const topic_record* topic = find_topic(base, name);
    if (topic == nullptr) {
        return failure{controller_error{controller_errc::unknown_topic,
                                        fmt::format("Topic '{}' does not exist.", name)}};
    }
    auto current = topic_config::from_overrides(topic->configs);
    TL_ASSERT(current.ok(), "stored topic config no longer validates");
    auto edited = edit(*current);
    if (!edited) {
        return failure{controller_error{controller_errc::invalid_config, edited.error().message}};
    }
    return config_change{.current = std::move(*current), .next = std::move(*edited)};
}

std::map<std::string, std::string, std::less<>> offsets_topic_configs(uint64_t segment_bytes) {
    return {{"cleanup.policy", "compact"},
            {"compression.type", "producer"},
            {"segment.bytes", std::to_string(segment_bytes)}};
}

std::vector<replica_list> place_partitions(std::span<const broker_record> brokers,
                                           int32_t first_partition, int32_t count,
                                           int16_t replication_factor, int32_t fallback_node) {
    TL_ASSERT(first_partition >= 0 && count >= 0 && replication_factor >= 1);
    TL_ASSERT(brokers.empty() ? replication_factor == 1
                              : static_cast<size_t>(replication_factor) <= brokers.size(),
              "more replicas than brokers");
    std::vector<replica_list> out(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) {
        replica_list& replicas = out[static_cast<size_t>(i)];
        if (brokers.empty()) {
            replicas.push_back(fallback_node);
            continue;
        }
        const auto p = static_cast<size_t>(first_partition) + static_cast<size_t>(i);
        for (int16_t k = 0; k < replication_factor; ++k) {
            replicas.push_back(brokers[(p + static_cast<size_t>(k)) % brokers.size()].node_id);
        }
    }
    return out;
}

}  // namespace tl::cluster
