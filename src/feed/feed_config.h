// The `feeds:` and `dpdk:` sections of tidelog.yaml, parsed and checked.
//
// Every rejected value names its full key path ("feeds[1].partitioning.key_offset")
// and why; an unknown key suggests the nearest known one. Parsing runs once at
// start-up (it allocates); the typed result is what the runtime reads.
//
// Decisions the runtime implements:
//   - partitioning `queue`: partition = RX queue % partitions; `session`:
//     murmur2 of the 10 session bytes (moldudp64 only); `key`: murmur2 of
//     key_length bytes at key_offset within each message (raw: within the UDP
//     payload), Kafka's default partitioner, so the same key lands where a
//     Kafka producer would put it. A message too short for its key is still
//     written (never silently lost): to partition 0, with a null key, counted
//     as short_key_messages (see extract_key).
//   - ports: "net_..." (a DPDK vdev, arguments after the first comma) or a PCI
//     address DDDD:BB:DD.F; the same device may serve one feed only.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "base/clock.h"
#include "base/result.h"
#include "feed/packet.h"

namespace tl::feed {

enum class decoder_kind : uint8_t { raw, moldudp64 };
enum class partition_rule : uint8_t { queue, session, key };

[[nodiscard]] std::string_view name(decoder_kind kind) noexcept;
[[nodiscard]] std::string_view name(partition_rule rule) noexcept;

// Named bounds of the settings below.
inline constexpr size_t max_feed_name_bytes = 64;
inline constexpr size_t max_ports_per_feed = 2;  // one line, or A/B
inline constexpr uint32_t max_queues_per_port = 64;
inline constexpr int32_t max_feed_partitions = 100'000;
inline constexpr uint32_t max_key_offset = 65'535;
inline constexpr uint32_t max_key_length = 64;
inline constexpr uint32_t default_batch_bytes = 256 * 1024;
inline constexpr uint32_t min_batch_bytes = 16 * 1024;
inline constexpr uint32_t max_batch_bytes = 1024 * 1024;
inline constexpr uint32_t default_max_in_flight = 4;
inline constexpr uint32_t max_in_flight_bound = 64;
inline constexpr uint32_t default_hold_us = 1000;
inline constexpr uint32_t max_hold_us = 1'000'000;

inline constexpr uint32_t min_memory_mb = 64;
inline constexpr uint32_t max_memory_mb = 1024 * 1024;
inline constexpr uint32_t min_mbufs_per_queue = 511;
inline constexpr uint32_t max_mbufs_per_queue = 1024 * 1024;
inline constexpr uint32_t min_rx_descriptors = 64;
inline constexpr uint32_t max_rx_descriptors = 16384;
inline constexpr uint32_t max_burst_size = 64;
inline constexpr uint32_t max_idle_sleep_us = 100'000;
inline constexpr size_t max_file_prefix_bytes = 64;

struct feed_config {
    std::string name;
    std::vector<std::string> ports;  // 1, or 2 for A/B (line A, then line B)
    uint32_t queues = 1;             // RX queues per port; queue q polled by shard q % shards
    std::optional<udp_filter> filter;
    decoder_kind decoder = decoder_kind::raw;
    std::string topic;
    std::optional<int32_t> partitions;  // absent: the broker's default
    partition_rule partitioning = partition_rule::queue;
    uint32_t key_offset = 0;  // with partition_rule::key
    uint32_t key_length = 0;  // with partition_rule::key: 1..max_key_length
    std::optional<duration_ns> arbitration_hold;  // set: A/B arbitration (two ports, moldudp64)
    uint32_t batch_bytes = default_batch_bytes;
    uint32_t max_in_flight = default_max_in_flight;

    [[nodiscard]] bool arbitrated() const noexcept { return arbitration_hold.has_value(); }
    friend bool operator==(const feed_config&, const feed_config&) = default;
};

struct dpdk_settings {
    uint32_t memory_mb = 512;
    bool hugepages = false;  // false: --no-huge --no-shconf
    std::string file_prefix;  // only with hugepages
    uint32_t mbufs_per_queue = 8191;
    uint32_t rx_descriptors = 1024;
    uint32_t burst_size = 32;
    uint32_t idle_sleep_us = 20;  // 0: never sleep
    friend bool operator==(const dpdk_settings&, const dpdk_settings&) = default;
};

struct feed_config_error {
    std::string key;  // full path, e.g. "feeds[1].partitioning.key_offset"
    std::string message;

    [[nodiscard]] std::string to_string() const { return key + ": " + message; }
};

// `feeds` is the value of the `feeds:` key: a sequence of maps (null or an
// empty sequence: no feeds).
[[nodiscard]] result<std::vector<feed_config>, feed_config_error> parse_feeds(
    const YAML::Node& feeds);

// `dpdk` is the value of the `dpdk:` key (null: all defaults).
[[nodiscard]] result<dpdk_settings, feed_config_error> parse_dpdk_settings(
    const YAML::Node& dpdk);

// The partitioning key of one message for partition_rule::key: the bytes at
// [key_offset, key_offset + key_length), or nullopt when the message is too
// short (the runtime writes it to partition 0 and counts short_key_messages).
[[nodiscard]] inline std::optional<std::span<const std::byte>> extract_key(
    std::span<const std::byte> message, uint32_t key_offset, uint32_t key_length) noexcept {
    if (message.size() < size_t{key_offset} + key_length) return std::nullopt;
    return message.subspan(key_offset, key_length);
}

}  // namespace tl::feed
