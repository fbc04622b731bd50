// Writer of Kafka wire primitives into a growable byte buffer.
//
// Errors are sticky, like the reader's: a value that the chosen version
// cannot carry (see encode_errc) is recorded and encoding carries on, so that
// generated encoders need no error plumbing; callers check ok() once at the
// end and must not send the bytes of a failed writer.
//
// A counting writer (writer::counting()) stores nothing and only adds up the
// sizes, which gives the exact encoded size of a message with the same
// encoder code. Nothing here throws; the buffer grows geometrically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "kafka/protocol/errors.h"
#include "kafka/protocol/types.h"

namespace tl::kafka {

class writer {
public:
    writer() = default;
    // Reuses the capacity of `buffer`; its contents are kept and appended to.
    explicit writer(std::vector<std::byte> buffer) noexcept : _buffer(std::move(buffer)) {}
    [[nodiscard]] static writer counting() noexcept {
        writer w;
        w._counting = true;
        return w;
    }

    [[nodiscard]] bool ok() const noexcept { return !_failed; }
    // The first failure; meaningful only when !ok().
    [[nodiscard]] encode_errc error() const noexcept { return _error; }
    void fail(encode_errc code) noexcept {
        if (_failed) return;
        _failed = true;
        _error = code;
    }
    // Bytes written (or counted) so far.
    [[nodiscard]] size_t size() const noexcept { return _counting ? _counted : _buffer.size(); }
    [[nodiscard]] std::span<const std::byte> data() const noexcept { return _buffer; }
    [[nodiscard]] std::vector<std::byte> take() && noexcept { return std::move(_buffer); }

    void write_int8(int8_t value) { put(static_cast<uint8_t>(value)); }
    void write_int16(int16_t value) { put(static_cast<uint16_t>(value)); }
    void write_int32(int32_t value) { put(static_cast<uint32_t>(value)); }
    void write_int64(int64_t value) { put(static_cast<uint64_t>(value)); }
    void write_uint16(uint16_t value) { put(value); }
    void write_uint32(uint32_t value) { put(value); }
    void write_float64(double value);
    void write_bool(bool value) { put(static_cast<uint8_t>(value ? 1 : 0)); }
    void write_uuid(const uuid& value) { write_raw(value.bytes); }
    void write_unsigned_varint(uint64_t value);
    void write_varint(int32_t value);   // zigzag
    void write_varlong(int64_t value);  // zigzag
    void write_raw(std::span<const std::byte> bytes);

    // `nullable` says whether this version allows null; writing null where it
    // does not fails with null_not_allowed.
    void write_string(std::string_view value, bool compact);
    void write_nullable_string(const std::optional<std::string_view>& value, bool compact,
                               bool nullable);
    void write_bytes(bytes_view value, bool compact);
    void write_nullable_bytes(const std::optional<bytes_view>& value, bool compact, bool nullable);
    void write_records(const std::optional<bytes_view>& value, bool compact, bool nullable) {
        write_nullable_bytes(value, compact, nullable);
    }
    // An array's element count; write_null_array_length writes null.
    void write_array_length(size_t count, bool compact);
    void write_null_array_length(bool compact);

    // A tagged field: writes the tag, then the caller writes the value, then
    // end_tagged_field puts the value's size in front of it. Fields must be
    // written in ascending tag order after a write_unsigned_varint(count).
    [[nodiscard]] size_t begin_tagged_field(uint32_t tag);
    void end_tagged_field(size_t start);

    // Four bytes to fill in later (frame sizes); returns their position.
    [[nodiscard]] size_t reserve_int32();
    void patch_int32(size_t position, int32_t value);

private:
    template <typename T>
    void put(T value);

    std::vector<std::byte> _buffer;
    size_t _counted = 0;
    bool _counting = false;
    bool _failed = false;
    encode_errc _error{};
};

}  // namespace tl::kafka
