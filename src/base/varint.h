// Kafka variable-length integers.
//
// Unsigned varints (protobuf base-128, little-endian groups of 7 bits) carry
// compact lengths and tags in flexible message versions; zigzag varints and
// varlongs carry record fields inside record batches. Decoders never read
// past the end of their input and reject encodings that overflow the type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/result.h"

namespace tl {

enum class varint_errc : uint8_t {
    truncated,  // input ended inside the varint
    overflow,   // more significant bits than the type holds
};

inline constexpr size_t varint_max_bytes_32 = 5;
inline constexpr size_t varint_max_bytes_64 = 10;

template <typename T>
struct decoded {
    T value;
    size_t bytes_read;
};

// Bytes that encode_unsigned_varint will write for `value`.
[[nodiscard]] constexpr size_t unsigned_varint_size(uint64_t value) noexcept {
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        ++size;
    }
    return size;
}

[[nodiscard]] constexpr uint32_t zigzag_encode_32(int32_t value) noexcept {
    return (static_cast<uint32_t>(value) << 1) ^ static_cast<uint32_t>(value >> 31);
}
[[nodiscard]] constexpr uint64_t zigzag_encode_64(int64_t value) noexcept {
    return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}
[[nodiscard]] constexpr int32_t zigzag_decode_32(uint32_t value) noexcept {
    return static_cast<int32_t>((value >> 1) ^ (~(value & 1) + 1));
}
[[nodiscard]] constexpr int64_t zigzag_decode_64(uint64_t value) noexcept {
    return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
}

// Writes `value` at `out` (which must hold unsigned_varint_size(value) bytes);
// returns the number of bytes written.
inline size_t encode_unsigned_varint(uint64_t value, std::byte* out) noexcept {
    size_t i = 0;
    while (value >= 0x80) {
        out[i++] = static_cast<std::byte>((value & 0x7f) | 0x80);
        value >>= 7;
    }
    out[i++] = static_cast<std::byte>(value);
    return i;
}
inline size_t encode_varint_32(int32_t value, std::byte* out) noexcept {
    return encode_unsigned_varint(zigzag_encode_32(value), out);
}
inline size_t encode_varint_64(int64_t value, std::byte* out) noexcept {
    return encode_unsigned_varint(zigzag_encode_64(value), out);
}

namespace detail {
template <typename T, size_t max_bytes>
result<decoded<T>, varint_errc> decode_unsigned(std::span<const std::byte> in) noexcept {
    constexpr unsigned bits = sizeof(T) * 8;
    T value = 0;
    for (size_t i = 0; i < max_bytes; ++i) {
        if (i == in.size()) return failure{varint_errc::truncated};
        const auto byte = static_cast<uint8_t>(in[i]);
        const unsigned shift = static_cast<unsigned>(i) * 7;
        const T payload = byte & 0x7f;
        // The last group may only carry the bits that still fit.
        if (shift + 7 > bits && (payload >> (bits - shift)) != 0) {
            return failure{varint_errc::overflow};
        }
        value |= payload << shift;
        if ((byte & 0x80) == 0) return decoded<T>{value, i + 1};
    }
    return failure{varint_errc::overflow};
}
}  // namespace detail

inline result<decoded<uint32_t>, varint_errc> decode_unsigned_varint_32(
    std::span<const std::byte> in) noexcept {
    return detail::decode_unsigned<uint32_t, varint_max_bytes_32>(in);
}
inline result<decoded<uint64_t>, varint_errc> decode_unsigned_varint_64(
    std::span<const std::byte> in) noexcept {
    return detail::decode_unsigned<uint64_t, varint_max_bytes_64>(in);
}
inline result<decoded<int32_t>, varint_errc> decode_varint_32(
    std::span<const std::byte> in) noexcept {
    auto r = decode_unsigned_varint_32(in);
    if (!r) return failure{r.error()};
    return decoded<int32_t>{zigzag_decode_32(r->value), r->bytes_read};
}
inline result<decoded<int64_t>, varint_errc> decode_varint_64(
    std::span<const std::byte> in) noexcept {
    auto r = decode_unsigned_varint_64(in);
    if (!r) return failure{r.error()};
    return decoded<int64_t>{zigzag_decode_64(r->value), r->bytes_read};
}

}  // namespace tl
