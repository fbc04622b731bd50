// The rules a topic change must pass, in one place: the frontend checks a
// request against the current snapshot before proposing it (controller.cc
// and controller_frontend.cc), and the state machine re-checks the
// state-dependent ones when the record is applied, because another change
// may have been committed in between (metadata_state_machine.cc). Both give
// the same error, with Kafka's message.
//
// Pure functions of their arguments: any shard may call them.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cluster/controller_types.h"
#include "cluster/metadata_store.h"
#include "cluster/topic_config.h"

namespace tl::cluster {

// nullptr when absent.
[[nodiscard]] const topic_record* find_topic(const metadata_snapshot& s,
                                             std::string_view name) noexcept;
[[nodiscard]] const topic_record* find_topic(const metadata_snapshot& s,
                                             const topic_id& id) noexcept;

// ---- state-dependent: checked before proposing and again on apply ----

// topic_already_exists when `name` is taken.
[[nodiscard]] controller_error check_topic_absent(std::string_view name,
                                                  const metadata_snapshot& s);
// unknown_topic (DeleteTopics' message) or internal_topic.
[[nodiscard]] controller_error check_deletable(const topic_record* topic, std::string_view name);
// unknown_topic (CreatePartitions' message) or invalid_partitions when
// `count` does not grow the topic.
[[nodiscard]] controller_error check_partition_growth(const topic_record* topic,
                                                      std::string_view name, int32_t count);
// producer_ids_exhausted when [next, next + count) would pass INT64_MAX.
[[nodiscard]] controller_error check_producer_ids(int64_t next, int64_t count);
// invalid_replica_assignment unless every list names registered brokers
// only, each once, `replication_factor` of them.
[[nodiscard]] controller_error check_assignments(std::span<const replica_list> assignments,
                                                 int16_t replication_factor,
                                                 const metadata_snapshot& s);

// ---- whole requests, before proposing ----

// CreateTopics: name, existence, partition count, replication factor, configs.
[[nodiscard]] controller_error check_new_topic(const new_topic& t, const metadata_snapshot& base,
                                               int32_t max_partitions_per_topic);
// CreatePartitions: existence, growth, the per-topic limit.
[[nodiscard]] controller_error check_partition_increase(const partition_increase& change,
                                                        const metadata_snapshot& base,
                                                        int32_t max_partitions_per_topic);
// AlterConfigs: the topic's current config and the edited one.
struct config_change {
    topic_config current;
    topic_config next;
};
[[nodiscard]] result<config_change, controller_error> edit_config(std::string_view name,
                                                                  const metadata_snapshot& base,
                                                                  const config_edit& edit);

// The overrides __consumer_offsets is created with, as Kafka creates it.
// Segments are small because our logs preallocate whole segments: 50
// partitions of 1 GiB would take 50 GiB before the first commit (Kafka's
// segments grow as written).
[[nodiscard]] std::map<std::string, std::string, std::less<>> offsets_topic_configs(
    uint64_t segment_bytes);

// ---- placement ----

// Replica lists for partitions [first_partition, first_partition + count)
// of a topic: round-robin over `brokers` (sorted by node id), partition p
// led by broker p mod n, its followers the next ones. With no broker
// registered (the local controller), every partition goes to `fallback_node`.
// `replication_factor` must be at most the number of brokers (or 1).
[[nodiscard]] std::vector<replica_list> place_partitions(std::span<const broker_record> brokers,
                                                         int32_t first_partition, int32_t count,
                                                         int16_t replication_factor,
                                                         int32_t fallback_node);

}  // namespace tl::cluster
