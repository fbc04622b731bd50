// Bounds-checked reader of Kafka wire primitives over a byte span.
//
// The reader never reads outside its span, whatever the bytes. Errors are
// sticky: the first failure is recorded (what, and at which offset) and every
// later read returns a zero value without touching the input, so decoders can
// read field after field and check ok() once at the end; loops over element
// counts must also stop when !ok(). Nothing here allocates or throws.
//
// Lifetime: string_view and bytes_view results point into the input span.
// A message decoded from a frame is valid only while the frame's buffer lives
// and is not reused.
//
// Encodings (big-endian integers; "compact" is the flexible-version form):
//   string    int16 length, -1 = null      | compact: uvarint length+1, 0 = null
//   bytes     int32 length, -1 = null      | compact: uvarint length+1, 0 = null
//   array     int32 count, -1 = null       | compact: uvarint count+1, 0 = null
//   tagged    uvarint count, then per field: uvarint tag, uvarint size, bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/result.h"
#include "kafka/protocol/errors.h"
#include "kafka/protocol/types.h"

namespace tl::kafka {

// Kafka limits strings to an int16 length in every encoding.
inline constexpr size_t string_length_max = 0x7fff;
// A hard bound on one array's element count, on top of the bound that every
// element occupies at least min_element_bytes of the remaining input. It caps
// the memory a hostile count can make a decoder reserve before it runs dry.
inline constexpr size_t array_elements_max = size_t{1} << 24;

class reader;

// One tagged field, as returned by reader::read_tagged_field: its tag and a
// reader over exactly its bytes (the parent reader has already moved past them).
struct tagged_field;

class reader {
public:
    explicit reader(std::span<const std::byte> input, size_t base_offset = 0) noexcept
        : _input(input), _base_offset(base_offset) {}

    [[nodiscard]] bool ok() const noexcept { return !_failed; }
    // The first failure; meaningful only when !ok().
    [[nodiscard]] decode_error error() const noexcept { return _error; }
    [[nodiscard]] result<void, decode_error> status() const {
        if (_failed) return failure{_error};
        return {};
    }
    [[nodiscard]] size_t position() const noexcept { return _position; }
    [[nodiscard]] size_t remaining() const noexcept { return _input.size() - _position; }
    [[nodiscard]] bool at_end() const noexcept { return remaining() == 0; }
    // The bytes not read yet.
    [[nodiscard]] std::span<const std::byte> rest() const noexcept {
        return _input.subspan(_position);
    }

    // Records a failure at the current position (only the first one counts)
    // and makes every later read fail.
    void fail(decode_errc code) noexcept;
    // Fails with trailing_bytes unless every byte was read.
    void expect_end() noexcept;

    int8_t read_int8() noexcept;
    int16_t read_int16() noexcept;
    int32_t read_int32() noexcept;
    int64_t read_int64() noexcept;
    uint16_t read_uint16() noexcept;
    uint32_t read_uint32() noexcept;
    double read_float64() noexcept;
    bool read_bool() noexcept;  // any non-zero byte is true, as in Kafka
    uuid read_uuid() noexcept;
    uint32_t read_unsigned_varint() noexcept;
    uint64_t read_unsigned_varlong() noexcept;
    int32_t read_varint() noexcept;   // zigzag
    int64_t read_varlong() noexcept;  // zigzag
    // The next `size` bytes, or an empty span (and a failure) if fewer remain.
    std::span<const std::byte> read_raw(size_t size) noexcept;

    // `nullable` says whether this version allows null; a null where it does
    // not is a failure (null_not_allowed).
    std::string_view read_string(bool compact) noexcept;
    std::optional<std::string_view> read_nullable_string(bool compact, bool nullable) noexcept;
    bytes_view read_bytes(bool compact) noexcept;
    std::optional<bytes_view> read_nullable_bytes(bool compact, bool nullable) noexcept;
    // Records are bytes on the wire; the view is the batches, not validated here.
    std::optional<bytes_view> read_records(bool compact, bool nullable) noexcept {
        return read_nullable_bytes(compact, nullable);
    }

    // An array's element count, or -1 for null (a failure unless `nullable`).
    // Fails with array_too_long when count * min_element_bytes exceeds the
    // remaining input (min_element_bytes >= 1: the fewest bytes one element
    // can occupy in this version) or the count exceeds array_elements_max.
    int32_t read_array_length(bool compact, size_t min_element_bytes,
                              bool nullable = true) noexcept;

    // Tagged-field section of a flexible struct. Typical use:
    //   for (uint32_t n = r.read_tagged_field_count(); n > 0 && r.ok(); --n) {
    //       auto field = r.read_tagged_field();
    //       if (field.tag == 0) { ...read from field.data...; r.finish_tagged_field(field.data); }
    //   }
    // Unknown tags need no action: their bytes are already skipped. Tags are
    // not required to ascend (Kafka's own reader does not check either).
    uint32_t read_tagged_field_count() noexcept;
    tagged_field read_tagged_field() noexcept;
    // Propagates a failure of a known field's reader, and fails with
    // tagged_field_size_mismatch if the field left bytes unread.
    void finish_tagged_field(const reader& field) noexcept;
    // Reads and ignores a whole tagged-field section.
    void skip_tagged_fields() noexcept;

private:
    [[nodiscard]] bool has(size_t size) noexcept {
        if (remaining() >= size) return true;
        fail(decode_errc::truncated);
        return false;
    }
    // Length prefixes: -1 for null, else the length (failures return -1 too,
    // and callers check ok()).
    int64_t read_length(bool compact, bool wide) noexcept;
    std::optional<std::span<const std::byte>> read_sized(bool compact, bool wide, bool nullable,
                                                         uint64_t max_length) noexcept;

    std::span<const std::byte> _input;
    size_t _position = 0;
    size_t _base_offset = 0;
    decode_error _error{};
    bool _failed = false;
};

struct tagged_field {
    uint32_t tag = 0;
    reader data{{}};
};

}  // namespace tl::kafka
