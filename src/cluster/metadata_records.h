// The records of the controller's metadata log (DESIGN.md §6) and their
// binary encoding. A frontend validates a request, builds one record and
// proposes it; every broker's metadata_state_machine applies the committed
// records in log order.
//
// Deterministic to apply: a record carries everything its effect depends on.
// Whatever is random or local (topic ids, the cluster id, placement, the
// first producer id of a block) is chosen by the proposer and written into
// the record; applying it reads nothing but the record and the state.
//
// Every record carries a request_id (the proposing node and its sequence),
// under which the state machine files the outcome of applying it, so the
// proposer can answer its client with the exact error even when another
// change won a race (see metadata_state_machine.h).
//
// Encoding (integers big-endian):
//   format_version  1  1
//   type            1  metadata_record_type
//   origin_node     4  (>= 0)
//   sequence        8
//   body, by type:
//     register_broker       node_id 4 (>= 0), host 2 + n (1..255), port 2 (> 0),
//                           has_rack 1 (0/1) [rack 2 + n (1..255)], incarnation 8
//     set_cluster_id        cluster_id 2 + n (a Kafka UUID, 22 characters)
//     create_topic          name 2 + n (a valid topic name), id 16 (not zero),
//                           partitions 4 (>= 1), replication 2 (>= 1),
//                           partitions x replication node ids 4 (distinct per
//                           partition), configs
//     delete_topic          id 16 (not zero)
//     create_partitions     id 16, new count 4, replication 2 (>= 1),
//                           added 4 (1..count), added x replication node ids
//     alter_topic_config    id 16, configs (the whole new set of overrides)
//     allocate_producer_ids node_id 4 (>= 0), first 8 (>= 0), count 4 (> 0;
//                           first + count <= INT64_MAX)
//   configs: count 4, then per config in strictly increasing name order:
//     name 2 + n (1..max_config_name_bytes), value 4 + n (<= max_config_value_bytes)
// Raft frames and checksums entries, so there is no CRC here; but decoding
// is strict: one encoding per record (encode(decode(b)) == b), and anything
// else — truncation, trailing bytes, an unknown version or type, a value out
// of its range — is an error naming the problem, never undefined behaviour.
// Configs are checked for shape only; their values are validated by the
// frontend and again on apply (topic_config).
//
// Pure values; any shard may call anything here.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "cluster/metadata_store.h"

namespace tl::cluster {

inline constexpr uint8_t metadata_record_format_version = 1;
inline constexpr size_t max_metadata_record_bytes = 64 * 1024 * 1024;

// Which request of which node a record carries. A node numbers its requests
// from 1, never reusing a sequence within one incarnation of its frontend;
// sequences start above anything it has in the log after a restart (see
// metadata_state_machine::last_sequence).
struct request_id {
    int32_t origin_node = 0;
    uint64_t sequence = 0;

    friend bool operator==(const request_id&, const request_id&) = default;
    friend auto operator<=>(const request_id&, const request_id&) = default;
};

using config_map = std::map<std::string, std::string, std::less<>>;

enum class metadata_record_type : uint8_t {
    register_broker = 1,
    set_cluster_id = 2,
    create_topic = 3,
    delete_topic = 4,
    create_partitions = 5,
    alter_topic_config = 6,
    allocate_producer_ids = 7,
};

// A broker announces itself (at every start, with a new incarnation).
struct register_broker_record {
    broker_record broker;
    friend bool operator==(const register_broker_record&, const register_broker_record&) = default;
};

// The first record of a new cluster's log; later ones are refused on apply.
struct set_cluster_id_record {
    std::string cluster_id;
    friend bool operator==(const set_cluster_id_record&, const set_cluster_id_record&) = default;
};

struct create_topic_record {
    std::string name;
    topic_id id;
    int32_t partitions = 0;
    int16_t replication_factor = 1;
    std::vector<replica_list> assignments;  // one per partition
    config_map configs;                     // canonical overrides
    friend bool operator==(const create_topic_record&, const create_topic_record&) = default;
};

struct delete_topic_record {
    topic_id id;
    friend bool operator==(const delete_topic_record&, const delete_topic_record&) = default;
};

struct create_partitions_record {
    topic_id id;
    int32_t count = 0;                      // the new total
    int16_t replication_factor = 1;         // of each new partition
    std::vector<replica_list> assignments;  // the new partitions only
    friend bool operator==(const create_partitions_record&,
                           const create_partitions_record&) = default;
};

struct alter_topic_config_record {
    topic_id id;
    config_map configs;  // the whole new set of overrides
    friend bool operator==(const alter_topic_config_record&,
                           const alter_topic_config_record&) = default;
};

// Producer ids [first, first + count) for `node_id`; applied only when
// `first` is the state's next_producer_id (else a racing block won).
struct allocate_producer_ids_record {
    int32_t node_id = 0;
    int64_t first = 0;
    int32_t count = 0;
    friend bool operator==(const allocate_producer_ids_record&,
                           const allocate_producer_ids_record&) = default;
};

// In metadata_record_type order (index + 1 == type).
using metadata_record_body =
    std::variant<register_broker_record, set_cluster_id_record, create_topic_record,
                 delete_topic_record, create_partitions_record, alter_topic_config_record,
                 allocate_producer_ids_record>;

struct metadata_record {
    request_id request;
    metadata_record_body body;

    [[nodiscard]] metadata_record_type type() const noexcept {
        return static_cast<metadata_record_type>(body.index() + 1);
    }
    friend bool operator==(const metadata_record&, const metadata_record&) = default;
};

// Why `r` cannot be encoded (a value out of its range), or nullopt.
[[nodiscard]] std::optional<std::string> check_record(const metadata_record& r);
// `r` must pass check_record (a programmer error otherwise: asserts).
[[nodiscard]] std::vector<std::byte> encode_record(const metadata_record& r);
// Strict: see the top of this file.
[[nodiscard]] result<metadata_record, std::string> decode_record(std::span<const std::byte> bytes);

}  // namespace tl::cluster
