// Typed errors of the Kafka wire codec.
//
// Decoding a client's bytes fails with a decode_error (what and where); the
// connection that sent them is closed or answered with a Kafka error code by
// the caller, never by the codec. Encoding fails only when a value cannot be
// represented in the chosen version (a programmer error in the handler that
// built the message, reported rather than asserted so that a broker can
// answer UNKNOWN_SERVER_ERROR instead of crashing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tl::kafka {

enum class decode_errc : uint8_t {
    truncated,                   // the input ended inside a field
    varint_overflow,             // a varint longer than its type allows
    invalid_length,              // a length or count below -1, or beyond its type's limit
    null_not_allowed,            // null where this version does not allow it
    array_too_long,              // more elements than the remaining bytes could hold
    tagged_field_size_mismatch,  // a known tagged field did not fill its declared size
    unsupported_version,         // the version is outside the message's schema range
    unknown_api_key,             // no schema for this API key
    trailing_bytes,              // bytes left after the end of a message
};

struct decode_error {
    decode_errc code = decode_errc::truncated;
    size_t offset = 0;  // bytes from the start of the outermost reader's input
    bool operator==(const decode_error&) const = default;
};

enum class encode_errc : uint8_t {
    field_not_in_version,  // a non-ignorable field holds a non-default value the version lacks
    null_not_allowed,      // a null value in a version where the field is not nullable
    value_too_long,        // a string over 32767 bytes, or bytes/array over INT32_MAX
    unsupported_version,   // the version is outside the message's schema range
};

[[nodiscard]] std::string_view to_string(decode_errc code) noexcept;
[[nodiscard]] std::string_view to_string(encode_errc code) noexcept;

}  // namespace tl::kafka
