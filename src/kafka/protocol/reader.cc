#include "kafka/protocol/reader.h"

#include <bit>
#include <cstring>

#include "base/varint.h"

namespace tl::kafka {

namespace {

template <typename T>
T load_big_endian(const std::byte* p) noexcept {
    T value;
    std::memcpy(&value, p, sizeof(T));
    if constexpr (std::endian::native == std::endian::little && sizeof(T) > 1) {
        if constexpr (sizeof(T) == 2) {
            value = static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(value)));
        } else if constexpr (sizeof(T) == 4) {
            value = static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(value)));
        } else {
            value = static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(value)));
        }
    }
    return value;
}

}  // namespace

void reader::fail(decode_errc code) noexcept {
    if (_failed) return;
    _failed = true;
    _error = decode_error{code, _base_offset + _position};
    _position = _input.size();
}

void reader::expect_end() noexcept {
    if (ok() && !at_end()) fail(decode_errc::trailing_bytes);
}

int8_t reader::read_int8() noexcept {
    if (!has(1)) return 0;
    return static_cast<int8_t>(_input[_position++]);
}

int16_t reader::read_int16() noexcept {
    if (!has(2)) return 0;
    const auto value = load_big_endian<int16_t>(_input.data() + _position);
    _position += 2;
    return value;
}

int32_t reader::read_int32() noexcept {
    if (!has(4)) return 0;
    const auto value = load_big_endian<int32_t>(_input.data() + _position);
    _position += 4;
    return value;
}

int64_t reader::read_int64() noexcept {
    if (!has(8)) return 0;
    const auto value = load_big_endian<int64_t>(_input.data() + _position);
    _position += 8;
    return value;
}

uint16_t reader::read_uint16() noexcept {
    return static_cast<uint16_t>(read_int16());
}
uint32_t reader::read_uint32() noexcept {
    return static_cast<uint32_t>(read_int32());
}

double reader::read_float64() noexcept {
    return std::bit_cast<double>(static_cast<uint64_t>(read_int64()));
}

bool reader::read_bool() noexcept {
    return read_int8() != 0;
}

uuid reader::read_uuid() noexcept {
    uuid value;
    if (!has(value.bytes.size())) return value;
    std::memcpy(value.bytes.data(), _input.data() + _position, value.bytes.size());
    _position += value.bytes.size();
    return value;
}

uint32_t reader::read_unsigned_varint() noexcept {
    if (_failed) return 0;
    auto decoded = decode_unsigned_varint_32(rest());
    if (!decoded) {
        fail(decoded.error() == varint_errc::truncated ? decode_errc::truncated
                                                       : decode_errc::varint_overflow);
        return 0;
    }
    _position += decoded->bytes_read;
    return decoded->value;
}

uint64_t reader::read_unsigned_varlong() noexcept {
    if (_failed) return 0;
    auto decoded = decode_unsigned_varint_64(rest());
    if (!decoded) {
        fail(decoded.error() == varint_errc::truncated ? decode_errc::truncated
                                                       : decode_errc::varint_overflow);
        return 0;
    }
    _position += decoded->bytes_read;
    return decoded->value;
}

int32_t reader::read_varint() noexcept {
    return zigzag_decode_32(read_unsigned_varint());
}
int64_t reader::read_varlong() noexcept {
    return zigzag_decode_64(read_unsigned_varlong());
}

std::span<const std::byte> reader::read_raw(size_t size) noexcept {
    if (!has(size)) return {};
    auto out = _input.subspan(_position, size);
    _position += size;
    return out;
}

int64_t reader::read_length(bool compact, bool wide) noexcept {
    const auto position = _position;
    int64_t length;
    if (compact) {
        length = static_cast<int64_t>(read_unsigned_varint()) - 1;
    } else {
        length = wide ? read_int32() : read_int16();
    }
    if (!ok()) return -1;
    if (length < -1) {
        _position = position;
        fail(decode_errc::invalid_length);
        return -1;
    }
    return length;
}

std::string_view reader::read_string(bool compact) noexcept {
    auto value = read_nullable_string(compact, false);
    return value ? *value : std::string_view{};
}

std::optional<std::string_view> reader::read_nullable_string(bool compact, bool nullable) noexcept {
    auto bytes = read_sized(compact, /*wide=*/false, nullable, string_length_max);
    if (!bytes) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

bytes_view reader::read_bytes(bool compact) noexcept {
    auto value = read_nullable_bytes(compact, false);
    return value ? *value : bytes_view{};
}

std::optional<bytes_view> reader::read_nullable_bytes(bool compact, bool nullable) noexcept {
    auto bytes = read_sized(compact, /*wide=*/true, nullable, INT32_MAX);
    if (!bytes) return std::nullopt;
    return bytes_view(*bytes);
}

// A length-prefixed (or compact) string or bytes field: the length, then that
// many bytes. A null is refused unless `nullable`; on an error the position is
// left at the length, as the callers report it.
std::optional<std::span<const std::byte>> reader::read_sized(bool compact, bool wide,
                                                             bool nullable,
                                                             uint64_t max_length) noexcept {
    const auto position = _position;
    const int64_t length = read_length(compact, wide);
    if (!ok()) return std::nullopt;
    if (length < 0) {
        if (!nullable) {
            _position = position;
            fail(decode_errc::null_not_allowed);
        }
        return std::nullopt;
    }
    if (static_cast<uint64_t>(length) > max_length) {
        _position = position;
        fail(decode_errc::invalid_length);
        return std::nullopt;
    }
    auto bytes = read_raw(static_cast<size_t>(length));
    if (!ok()) return std::nullopt;
    return bytes;
}

int32_t reader::read_array_length(bool compact, size_t min_element_bytes, bool nullable) noexcept {
    const auto position = _position;
    const int64_t count = read_length(compact, true);
    if (!ok()) return -1;
    if (count < 0) {
        if (!nullable) {
            _position = position;
            fail(decode_errc::null_not_allowed);
        }
        return -1;
    }
    if (count > INT32_MAX) {
        _position = position;
        fail(decode_errc::invalid_length);
        return -1;
    }
    const auto elements = static_cast<size_t>(count);
    const size_t min_bytes = min_element_bytes == 0 ? 1 : min_element_bytes;
    if (elements > array_elements_max || elements > remaining() / min_bytes) {
        _position = position;
        fail(decode_errc::array_too_long);
        return -1;
    }
    return static_cast<int32_t>(count);
}

uint32_t reader::read_tagged_field_count() noexcept {
    const auto position = _position;
    const uint32_t count = read_unsigned_varint();
    // Each field takes at least two bytes (tag and size).
    if (ok() && count > remaining() / 2) {
        _position = position;
        fail(decode_errc::array_too_long);
        return 0;
    }
    return count;
}

tagged_field reader::read_tagged_field() noexcept {
    tagged_field field;
    field.tag = read_unsigned_varint();
    const uint32_t size = read_unsigned_varint();
    const size_t start = _base_offset + _position;
    auto bytes = read_raw(size);
    if (!ok()) {
        // Hand back a failed reader so that a caller that reads from it anyway
        // gets nothing.
        field.data.fail(decode_errc::truncated);
        return field;
    }
    field.data = reader(bytes, start);
    return field;
}

void reader::finish_tagged_field(const reader& field) noexcept {
    if (!field.ok()) {
        if (!_failed) {
            _failed = true;
            _error = field.error();
            _position = _input.size();
        }
        return;
    }
    if (!field.at_end()) fail(decode_errc::tagged_field_size_mismatch);
}

void reader::skip_tagged_fields() noexcept {
    for (uint32_t n = read_tagged_field_count(); n > 0 && ok(); --n) {
        (void)read_tagged_field();
    }
}

std::string_view to_string(decode_errc code) noexcept {
    switch (code) {
        case decode_errc::truncated:
            return "truncated";
        case decode_errc::varint_overflow:
            return "varint_overflow";
        case decode_errc::invalid_length:
            return "invalid_length";
        case decode_errc::null_not_allowed:
            return "null_not_allowed";
        case decode_errc::array_too_long:
            return "array_too_long";
        case decode_errc::tagged_field_size_mismatch:
            return "tagged_field_size_mismatch";
        case decode_errc::unsupported_version:
            return "unsupported_version";
        case decode_errc::unknown_api_key:
            return "unknown_api_key";
        case decode_errc::trailing_bytes:
            return "trailing_bytes";
    }
    return "unknown";
}

}  // namespace tl::kafka
