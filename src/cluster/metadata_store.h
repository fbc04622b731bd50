// The broker's topic metadata, persisted locally until the Raft controller
// replaces it: one file, DATA/cluster/metadata, replaced atomically on every
// save (written to metadata.tmp, fdatasync, rename, fsync of the directory),
// so a crash leaves either the old snapshot or the new one, never a mix.
//
// File format (all integers big-endian, as Kafka's):
//   header, 16 bytes:
//     magic            4  "TLMD"
//     format_version   2  3 (1 and 2 are still read, see below)
//     flags            2  0
//     content_length   4  bytes after the header; the file is exactly that long
//     crc              4  CRC-32C over format_version, flags, content_length
//                         and the content
//   content:
//     version          8  metadata_snapshot::version
//     cluster_id       2 + n (n == 22; since version 3 also 0: a controller
//                         log that has not yet applied its cluster id)
//     next_producer_id 8  (>= 0; absent in version 1, read as 0)
//     broker_count     4  (version 3+; absent before, read as none)
//     per broker, in increasing node id order (version 3+):
//       node_id        4  (>= 0)
//       host           2 + n (1..max_broker_host_bytes)
//       port           2  (> 0)
//       has_rack       1  0 or 1; then rack 2 + n (1..max_broker_host_bytes)
//       incarnation    8
//     topic_count      4
//     per topic:
//       name           2 + n (a valid Kafka topic name)
//       id             16   (not all zero)
//       partitions     4    (>= 1)
//       replication    2    (version 3+, >= 1; read as 1 before)
//       placed         1    (version 3+) 0: no replica assignment (written by
//                           versions 1 and 2, or by the local controller
//                           before any broker registered); 1: then
//                           partitions x replication node ids (4 each),
//                           distinct within a partition, leader first
//       config_count   4
//       per config, in increasing name order:
//                      name 2 + n (1..max_config_name_bytes),
//                      value 4 + n (<= max_config_value_bytes)
// One encoding per snapshot: decode accepts exactly what encode writes
// (version 3), and versions 1 and 2, which older builds wrote: version 2 is
// version 3 without brokers, replication and placement; version 1 is version
// 2 without next_producer_id (they never issued a producer id). Anything
// else — wrong magic, unknown format version, nonzero flags, a length that
// disagrees with the file, a CRC mismatch, trailing bytes, a bad name,
// duplicate topics or ids, a negative next_producer_id, a replica list of
// the wrong length — is an error naming the problem, never an empty topic
// list. Configs are stored as given (topic_config validates them when the
// broker builds its tables).
//
// load/save run on the shard that owns `d` (see storage/disk.h); the
// snapshot and strings are copied into the coroutine frames.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/task.h"
#include "storage/disk.h"

namespace tl::cluster {

// ---- names and ids ----

inline constexpr size_t max_topic_name_bytes = 249;

// Kafka's Topic.validate: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
// The error is Kafka's message (INVALID_TOPIC_EXCEPTION, 17, at the edge).
[[nodiscard]] result<void, std::string> validate_topic_name(std::string_view name);
// Kafka refuses a topic whose name equals an existing one once '.' and '_'
// are treated alike ("a.b" and "a_b": their metrics names would collide).
[[nodiscard]] bool topic_names_collide(std::string_view a, std::string_view b) noexcept;

// A Kafka UUID (topic ids, cluster ids): 16 bytes in wire order.
struct uuid {
    std::array<std::byte, 16> bytes{};

    // All zero: Kafka's Uuid.ZERO_UUID, "no id".
    [[nodiscard]] bool is_zero() const noexcept;
    // Kafka's Uuid.toString: base64url without padding, 22 characters.
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] static std::optional<uuid> from_string(std::string_view text);

    // A random version-4 UUID, as Kafka's Uuid.randomUuid: never zero, never
    // the reserved METADATA_TOPIC_ID (…01), never printed with a leading '-'.
    // `random` is any uniform random bit generator (std::mt19937_64 seeded
    // from std::random_device at the call site; the simulator's in tests).
    template <typename Generator>
    [[nodiscard]] static uuid random(Generator& generator) {
        while (true) {
            uuid out;
            for (size_t i = 0; i < out.bytes.size(); ++i) {
                out.bytes[i] = static_cast<std::byte>(generator() & 0xff);
            }
            out.bytes[6] = (out.bytes[6] & std::byte{0x0f}) | std::byte{0x40};  // version 4
            out.bytes[8] = (out.bytes[8] & std::byte{0x3f}) | std::byte{0x80};  // IETF variant
            if (out.acceptable_random()) return out;
        }
    }

    friend bool operator==(const uuid&, const uuid&) = default;
    friend auto operator<=>(const uuid&, const uuid&) = default;

private:
    [[nodiscard]] bool acceptable_random() const;
};

using topic_id = uuid;

// A new cluster id: a random UUID as Kafka prints it (22 characters of base64url).
template <typename Generator>
[[nodiscard]] std::string make_cluster_id(Generator& generator) {
    return uuid::random(generator).to_string();
}

// ---- the snapshot ----

inline constexpr size_t max_config_name_bytes = 255;
inline constexpr size_t max_config_value_bytes = 1024 * 1024;
inline constexpr size_t max_metadata_file_bytes = 256 * 1024 * 1024;
// What save writes; load also reads every version from the oldest.
inline constexpr uint16_t metadata_format_version = 3;
inline constexpr uint16_t oldest_metadata_format_version = 1;

inline constexpr size_t max_broker_host_bytes = 255;

// A broker as registered with the controller (register_broker record).
struct broker_record {
    int32_t node_id = 0;
    std::string host;  // advertised
    uint16_t port = 0;
    std::optional<std::string> rack;
    // Bumped by the broker on every start: a registration with a newer
    // incarnation replaces the older one.
    int64_t incarnation = 0;

    friend bool operator==(const broker_record&, const broker_record&) = default;
};

// Node ids of one partition's replicas; the first is the preferred leader.
using replica_list = std::vector<int32_t>;

struct topic_record {
    std::string name;
    topic_id id;
    int32_t partition_count = 0;
    int16_t replication_factor = 1;
    // Empty (files of format 1 and 2): never placed, every partition is on
    // the only broker. Otherwise one list per partition, each of
    // replication_factor distinct node ids.
    std::vector<replica_list> assignments;
    std::map<std::string, std::string, std::less<>> configs;  // overrides only

    friend bool operator==(const topic_record&, const topic_record&) = default;
};

struct metadata_snapshot {
    int64_t version = 0;     // bumped by the writer on every change
    std::string cluster_id;  // created once, with the data directory
    // The first idempotent-producer id never handed out: every id below it
    // has been (or may have been) issued, so it only grows (see controller.h).
    int64_t next_producer_id = 0;
    std::vector<broker_record> brokers;  // sorted by node id
    std::vector<topic_record> topics;

    friend bool operator==(const metadata_snapshot&, const metadata_snapshot&) = default;
};

enum class store_errc : uint8_t {
    io_failure,           // the disk failed; `io` says how
    corrupt,              // bad magic, length, CRC or content: the file cannot be trusted
    unsupported_version,  // a format this build does not know (written by a newer one?)
    invalid_snapshot,     // save() was given a snapshot the format cannot hold
};

struct store_error {
    store_errc code = store_errc::io_failure;
    uring::io_error io{};  // for io_failure
    std::string detail;    // path and what was wrong

    // One line: "corrupt: DATA/cluster/metadata: CRC mismatch (stored ..., computed ...)"
    [[nodiscard]] std::string message() const;
};

template <typename T>
using store_result = result<T, store_error>;

// Why `replicas` is not a valid replica list for a topic of
// `replication_factor` (wrong length, a negative or repeated node id).
[[nodiscard]] std::optional<std::string> check_replica_list(std::span<const int32_t> replicas,
                                                            int16_t replication_factor);

// The bytes of the file; `s` must be well formed (else invalid_snapshot).
// `format_version` below the current one writes what an older build wrote
// (tests of upgrades; a snapshot an older format cannot hold is refused).
[[nodiscard]] store_result<std::vector<std::byte>> encode_metadata(
    const metadata_snapshot& s, uint16_t format_version = metadata_format_version);
// Parses a whole file image (`where` names it in errors).
[[nodiscard]] store_result<metadata_snapshot> decode_metadata(std::span<const std::byte> file,
                                                              std::string_view where = "metadata");

// DIRECTORY/cluster/metadata. nullopt when there is none (a new data
// directory, or a crash during the very first save); a leftover
// metadata.tmp from a crash mid-save is removed, the old file stays
// authoritative.
task<store_result<std::optional<metadata_snapshot>>> load_metadata(storage::disk& d,
                                                                   std::string directory);
// Replaces DIRECTORY/cluster/metadata with `s` atomically, creating
// DIRECTORY/cluster if needed. Durable when it returns successfully.
task<store_result<void>> save_metadata(storage::disk& d, std::string directory,
                                       metadata_snapshot s);

}  // namespace tl::cluster
