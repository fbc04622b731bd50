// Consumer groups and committed offsets as records of __consumer_offsets, in
// Kafka's own format (GroupCoordinator's OffsetCommitKey/Value and
// GroupMetadataKey/Value schemas), so a log written by Tidelog reads like
// Kafka's and the other way round.
//
//   key version 0/1 [group, topic, partition]  -> offset commit value v0-v3
//   key version 2   [group]                    -> group metadata value v0-v3
//   a null value (tombstone) deletes what the key names.
//
// We write key v1 with value v3 (v1 when a commit carries an explicit expiry,
// as Kafka does for OffsetCommit v2-4 retention_time_ms), and key v2 with
// value v3. Every version is big-endian and non-flexible (classic strings:
// int16 length; bytes: int32 length; arrays: int32 count).
//
// Pure functions over bytes: any shard may call them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace tl::kafka::groups {

struct offset_key {
    std::string group;
    std::string topic;
    int32_t partition = 0;
    friend bool operator==(const offset_key&, const offset_key&) = default;
};

struct group_key {
    std::string group;
    friend bool operator==(const group_key&, const group_key&) = default;
};

using record_key = std::variant<offset_key, group_key>;

struct offset_value {
    int64_t offset = 0;
    int32_t leader_epoch = -1;
    std::string metadata;
    int64_t commit_timestamp_ms = 0;
    // Set by OffsetCommit v2-4 with retention_time_ms (value v1 only).
    std::optional<int64_t> expire_timestamp_ms;
    friend bool operator==(const offset_value&, const offset_value&) = default;
};

struct member_record {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string client_id;
    std::string client_host;
    int32_t rebalance_timeout_ms = 0;
    int32_t session_timeout_ms = 0;
    std::vector<std::byte> subscription;  // the chosen protocol's metadata
    std::vector<std::byte> assignment;
    friend bool operator==(const member_record&, const member_record&) = default;
};

struct group_value {
    std::string protocol_type;
    int32_t generation = 0;
    std::optional<std::string> protocol;
    std::optional<std::string> leader;
    int64_t current_state_timestamp_ms = -1;
    std::vector<member_record> members;
    friend bool operator==(const group_value&, const group_value&) = default;
};

enum class record_errc : uint8_t {
    truncated,            // fewer bytes than the fields need
    unknown_key_version,  // not 0-2: a transaction marker or something newer
    unknown_value_version,
    trailing_bytes,
};

[[nodiscard]] std::vector<std::byte> encode_key(const record_key& key);
[[nodiscard]] std::vector<std::byte> encode_offset_value(const offset_value& value);
[[nodiscard]] std::vector<std::byte> encode_group_value(const group_value& value);

[[nodiscard]] result<record_key, record_errc> decode_key(std::span<const std::byte> bytes);
[[nodiscard]] result<offset_value, record_errc> decode_offset_value(
    std::span<const std::byte> bytes);
[[nodiscard]] result<group_value, record_errc> decode_group_value(
    std::span<const std::byte> bytes);

// What replaying a partition leaves: the last value of every key, tombstones
// having removed theirs.
struct replayed_partition {
    std::map<std::string, group_value, std::less<>> groups;
    std::map<std::pair<std::string, std::pair<std::string, int32_t>>, offset_value> offsets;
    uint64_t skipped_records = 0;  // keys or values we do not know (logged by the caller)
};
// Applies the records of one batch (compressed or not) at offsets >=
// `from_offset`; control batches (transaction markers) are skipped. Fails only
// on a batch that cannot be decoded.
[[nodiscard]] bool replay_batch(std::span<const std::byte> batch, int64_t from_offset,
                                replayed_partition& state);

// Which __consumer_offsets partition holds `group`: Kafka's
// Utils.abs(groupId.hashCode()) % partitions, with Java's String.hashCode
// over the UTF-16 code units of the id and Utils.abs = (h & 0x7fffffff).
[[nodiscard]] int32_t java_string_hash(std::string_view utf8) noexcept;
[[nodiscard]] int32_t partition_for_group(std::string_view group, int32_t partitions) noexcept;

}  // namespace tl::kafka::groups
