#include "kafka/protocol/writer.h"

#include <array>
#include <bit>
#include <cstring>

#include "base/assert.h"
#include "base/varint.h"
#include "kafka/protocol/reader.h"

namespace tl::kafka {

template <typename T>
void writer::put(T value) {
    if (_counting) {
        _counted += sizeof(T);
        return;
    }
    std::array<std::byte, sizeof(T)> bytes;
    for (size_t i = 0; i < sizeof(T); ++i) {
        bytes[i] = static_cast<std::byte>(value >> (8 * (sizeof(T) - 1 - i)));
    }
    _buffer.insert(_buffer.end(), bytes.begin(), bytes.end());
}

template void writer::put<uint8_t>(uint8_t);
template void writer::put<uint16_t>(uint16_t);
template void writer::put<uint32_t>(uint32_t);
template void writer::put<uint64_t>(uint64_t);

void writer::write_float64(double value) {
    put(std::bit_cast<uint64_t>(value));
}

void writer::write_unsigned_varint(uint64_t value) {
    if (_counting) {
        _counted += unsigned_varint_size(value);
        return;
    }
    std::array<std::byte, varint_max_bytes_64> bytes;
    const size_t size = encode_unsigned_varint(value, bytes.data());
    _buffer.insert(_buffer.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(size));
}

void writer::write_varint(int32_t value) {
    write_unsigned_varint(zigzag_encode_32(value));
}
void writer::write_varlong(int64_t value) {
    write_unsigned_varint(zigzag_encode_64(value));
}

void writer::write_raw(std::span<const std::byte> bytes) {
    if (_counting) {
        _counted += bytes.size();
        return;
    }
    _buffer.insert(_buffer.end(), bytes.begin(), bytes.end());
}

void writer::write_string(std::string_view value, bool compact) {
    write_nullable_string(value, compact, false);
}

void writer::write_nullable_string(const std::optional<std::string_view>& value, bool compact,
                                   bool nullable) {
    if (!value) {
        if (!nullable) fail(encode_errc::null_not_allowed);
        if (compact) {
            write_unsigned_varint(0);
        } else {
            write_int16(-1);
        }
        return;
    }
    if (value->size() > string_length_max) fail(encode_errc::value_too_long);
    if (compact) {
        write_unsigned_varint(value->size() + 1);
    } else {
        write_int16(static_cast<int16_t>(value->size()));
    }
    write_raw(std::as_bytes(std::span(value->data(), value->size())));
}

void writer::write_bytes(bytes_view value, bool compact) {
    write_nullable_bytes(value, compact, false);
}

void writer::write_nullable_bytes(const std::optional<bytes_view>& value, bool compact,
                                  bool nullable) {
    if (!value) {
        if (!nullable) fail(encode_errc::null_not_allowed);
        write_null_array_length(compact);
        return;
    }
    write_array_length(value->size(), compact);
    write_raw(value->span());
}

void writer::write_array_length(size_t count, bool compact) {
    if (count > INT32_MAX) fail(encode_errc::value_too_long);
    if (compact) {
        write_unsigned_varint(count + 1);
    } else {
        write_int32(static_cast<int32_t>(count));
    }
}

void writer::write_null_array_length(bool compact) {
    if (compact) {
        write_unsigned_varint(0);
    } else {
        write_int32(-1);
    }
}

size_t writer::begin_tagged_field(uint32_t tag) {
    write_unsigned_varint(tag);
    return size();
}

void writer::end_tagged_field(size_t start) {
    TL_ASSERT(start <= size(), "end_tagged_field without its begin");
    const size_t value_size = size() - start;
    if (_counting) {
        _counted += unsigned_varint_size(value_size);
        return;
    }
    std::array<std::byte, varint_max_bytes_64> prefix;
    const size_t prefix_size = encode_unsigned_varint(value_size, prefix.data());
    _buffer.insert(_buffer.begin() + static_cast<ptrdiff_t>(start), prefix.begin(),
                   prefix.begin() + static_cast<ptrdiff_t>(prefix_size));
}

size_t writer::reserve_int32() {
    const size_t position = size();
    write_int32(0);
    return position;
}

void writer::patch_int32(size_t position, int32_t value) {
    if (_counting) return;
    TL_ASSERT(position + 4 <= _buffer.size(), "patch_int32 outside the buffer");
    const auto bits = static_cast<uint32_t>(value);
    for (size_t i = 0; i < 4; ++i) {
        _buffer[position + i] = static_cast<std::byte>(bits >> (8 * (3 - i)));
    }
}

std::string_view to_string(encode_errc code) noexcept {
    switch (code) {
        case encode_errc::field_not_in_version:
            return "field_not_in_version";
        case encode_errc::null_not_allowed:
            return "null_not_allowed";
        case encode_errc::value_too_long:
            return "value_too_long";
        case encode_errc::unsupported_version:
            return "unsupported_version";
    }
    return "unknown";
}

}  // namespace tl::kafka
