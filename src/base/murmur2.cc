#include "base/murmur2.h"

#include "base/assert.h"

namespace tl {

int32_t murmur2(std::span<const std::byte> key) noexcept {
    constexpr uint32_t seed = 0x9747b28c;
    constexpr uint32_t m = 0x5bd1e995;
    constexpr unsigned r = 24;
    const size_t length = key.size();
    uint32_t h = seed ^ static_cast<uint32_t>(length);
    const std::byte* data = key.data();
    const size_t words = length / 4;
    for (size_t i = 0; i < words; ++i, data += 4) {
        // Little-endian words, whatever the host, as Java reads them.
        uint32_t k = std::to_integer<uint32_t>(data[0]) | (std::to_integer<uint32_t>(data[1]) << 8) |
                     (std::to_integer<uint32_t>(data[2]) << 16) |
                     (std::to_integer<uint32_t>(data[3]) << 24);
        k *= m;
        k ^= k >> r;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (length % 4) {
        case 3:
            h ^= std::to_integer<uint32_t>(data[2]) << 16;
            [[fallthrough]];
        case 2:
            h ^= std::to_integer<uint32_t>(data[1]) << 8;
            [[fallthrough]];
        case 1:
            h ^= std::to_integer<uint32_t>(data[0]);
            h *= m;
            break;
        default:
            break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return static_cast<int32_t>(h);
}

int32_t murmur2_partition(std::span<const std::byte> key, int32_t partition_count) noexcept {
    TL_ASSERT(partition_count >= 1, "partition count must be positive");
    return (murmur2(key) & 0x7fffffff) % partition_count;
}

}  // namespace tl
