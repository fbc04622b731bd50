// The vocabulary of topic changes, shared by the controller (controller.h),
// its frontend (controller_frontend.h), the metadata log's state machine
// (metadata_state_machine.h) and the Kafka handlers: what a change asks for
// and how it ended. Plain values; any shard may use them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cluster/metadata_store.h"
#include "cluster/topic_config.h"

namespace tl::cluster {

// Kafka's internal topic of consumer groups and committed offsets. The
// controller creates it at start-up when it is missing (compacted, with
// controller_settings::offsets_topic_partitions partitions) and refuses to
// delete it: every group's coordinator lives on one of its partitions.
inline constexpr std::string_view offsets_topic_name = "__consumer_offsets";
[[nodiscard]] inline bool is_internal_topic(std::string_view name) noexcept {
    return name == offsets_topic_name;
}

// Kafka error codes are mapped at the edge (kafka/server/errors.cc).
enum class controller_errc : uint8_t {
    none,
    topic_already_exists,
    unknown_topic,
    invalid_topic_name,
    invalid_partitions,
    invalid_replication_factor,
    invalid_config,
    internal_topic,              // deleting __consumer_offsets
    storage_failure,             // the snapshot could not be persisted
    producer_ids_exhausted,      // the block would pass INT64_MAX
    invalid_replica_assignment,  // a replica on an unregistered broker, or twice
    // The change was not committed (no controller leader, leadership lost,
    // timed out) or raced another and was refused on apply: retriable.
    not_controller,
};

struct controller_error {
    controller_errc code = controller_errc::none;
    std::string message;  // for the client's error_message

    friend bool operator==(const controller_error&, const controller_error&) = default;
};

struct new_topic {
    std::string name;
    int32_t partitions = 1;
    int16_t replication_factor = 1;
    std::map<std::string, std::string, std::less<>> configs;
};

struct topic_change_outcome {
    controller_error error;
    topic_id id;  // of the topic created or deleted
};

struct partition_increase {
    std::string name;
    int32_t count = 0;
};

// Producer ids [first, first + count), issued to one shard's allocator.
struct producer_id_block {
    int64_t first = 0;
    int32_t count = 0;

    [[nodiscard]] int64_t end() const noexcept { return first + count; }
    friend bool operator==(const producer_id_block&, const producer_id_block&) = default;
};

// Edits a topic's config for AlterConfigs / IncrementalAlterConfigs: given
// the current config, returns the next one (or the error to answer).
using config_edit = std::function<result<topic_config, config_error>(const topic_config&)>;

}  // namespace tl::cluster
