// Big-endian stores and loads for the wire formats the feed generator writes
// (IPv4, UDP, MoldUDP64 and ITCH are all network byte order).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tl::feedgen {

template <size_t width>
inline void store_be(std::byte* out, uint64_t value) noexcept {
    static_assert(width >= 1 && width <= 8);
    for (size_t i = 0; i < width; ++i)
        out[i] = static_cast<std::byte>(value >> (8 * (width - 1 - i)));
}

template <size_t width>
inline uint64_t load_be(const std::byte* in) noexcept {
    static_assert(width >= 1 && width <= 8);
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) value = (value << 8) | static_cast<uint8_t>(in[i]);
    return value;
}

inline std::span<const std::byte> as_bytes_of(const std::string_view text) noexcept {
    return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

}  // namespace tl::feedgen
