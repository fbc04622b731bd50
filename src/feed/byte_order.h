// Big-endian loads and stores over std::byte, for the wire formats of src/feed.
// Internal to src/feed. The caller has checked that the bytes are there.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tl::feed::detail {

[[nodiscard]] inline uint16_t load_be16(const std::byte* p) noexcept {
    return static_cast<uint16_t>((std::to_integer<uint16_t>(p[0]) << 8) |
                                 std::to_integer<uint16_t>(p[1]));
}
[[nodiscard]] inline uint32_t load_be32(const std::byte* p) noexcept {
    return (std::to_integer<uint32_t>(p[0]) << 24) | (std::to_integer<uint32_t>(p[1]) << 16) |
           (std::to_integer<uint32_t>(p[2]) << 8) | std::to_integer<uint32_t>(p[3]);
}
[[nodiscard]] inline uint64_t load_be64(const std::byte* p) noexcept {
    return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be16(std::byte* p, uint16_t v) noexcept {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v);
}
inline void store_be32(std::byte* p, uint32_t v) noexcept {
    p[0] = static_cast<std::byte>(v >> 24);
    p[1] = static_cast<std::byte>(v >> 16);
    p[2] = static_cast<std::byte>(v >> 8);
    p[3] = static_cast<std::byte>(v);
}
inline void store_be64(std::byte* p, uint64_t v) noexcept {
    store_be32(p, static_cast<uint32_t>(v >> 32));
    store_be32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace tl::feed::detail
