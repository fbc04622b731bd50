// Kafka's key hash: murmur2 exactly as Java's Utils.murmur2 and librdkafka's
// rd_murmur2 (seed 0x9747b28c), so keyed records land on the partition every
// Kafka client would choose for the same key. Pure; no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tl {

[[nodiscard]] int32_t murmur2(std::span<const std::byte> key) noexcept;

// Kafka's default partitioner for a non-null key: toPositive(murmur2(key)) %
// partition_count. partition_count must be >= 1 (asserted).
[[nodiscard]] int32_t murmur2_partition(std::span<const std::byte> key,
                                        int32_t partition_count) noexcept;

}  // namespace tl
