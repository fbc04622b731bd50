// Kafka record batches (magic 2): layout, validation, in-place mutation, record
// iteration and a builder.
//
// Batches are stored on disk exactly as they arrive on the wire (DESIGN.md §4), so
// this file is the one place that knows their byte layout. Everything here works
// on caller-owned byte spans: nothing allocates except the builder, nothing
// throws, and no function reads outside the span it is given, whatever the bytes
// (tests/fuzz/record_batch_fuzz.cc holds us to that).
//
// Typical uses:
//   - Produce: validate_batch(records, {.offset_deltas = exact, .record_count =
//     require_records}) then, on append, assign_base_offset,
//     set_partition_leader_epoch and maybe set_log_append_time.
//   - Recovery: peek_batch_size to step through a segment (zero_length marks the
//     clean end of a preallocated file), then validate_batch with allow_gaps and
//     allow_empty, since compacted batches keep their original offset range.
//   - Compaction and tests: record_reader / for_each_record over uncompressed
//     batches.
//
// Pure functions over bytes: any shard may call them; spans must outlive the
// call, and the views a record_reader yields point into the batch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/result.h"
#include "storage/timestamps.h"

namespace tl::storage {

// Byte offsets of the v2 batch header fields, from the start of the batch. All
// integers are big-endian.
namespace batch_field {
inline constexpr size_t base_offset = 0;              // int64, set by the broker
inline constexpr size_t batch_length = 8;             // int32, bytes after this field
inline constexpr size_t partition_leader_epoch = 12;  // int32, set by the broker
inline constexpr size_t magic = 16;                   // int8, 2
inline constexpr size_t crc = 17;                     // uint32, CRC-32C of [attributes, end)
inline constexpr size_t attributes = 21;              // int16
inline constexpr size_t last_offset_delta = 23;       // int32
inline constexpr size_t base_timestamp = 27;          // int64, ms
inline constexpr size_t max_timestamp = 35;           // int64, ms
inline constexpr size_t producer_id = 43;             // int64, -1 if none
inline constexpr size_t producer_epoch = 51;          // int16, -1 if none
inline constexpr size_t base_sequence = 53;           // int32, -1 if none
inline constexpr size_t record_count = 57;            // int32
inline constexpr size_t records = 61;                 // records, or one compressed blob
}  // namespace batch_field

// Bits of the attributes field. Bits 7-15 are unused; like Kafka we ignore them.
namespace batch_attribute {
inline constexpr uint16_t compression_mask = 0x07;
inline constexpr uint16_t log_append_time = 0x08;  // timestamp type: 0 create, 1 log-append
inline constexpr uint16_t transactional = 0x10;
inline constexpr uint16_t control = 0x20;
inline constexpr uint16_t delete_horizon = 0x40;  // base timestamp holds the delete horizon
}  // namespace batch_attribute

inline constexpr int8_t batch_magic_v2 = 2;
inline constexpr size_t batch_header_size_bytes = batch_field::records;  // 61
// baseOffset + batchLength: the bytes before what batchLength counts (Kafka's LOG_OVERHEAD).
inline constexpr size_t batch_length_prefix_bytes = batch_field::partition_leader_epoch;  // 12
// The smallest batchLength: a header with no records.
inline constexpr int32_t batch_length_min = batch_header_size_bytes - batch_length_prefix_bytes;
// Kafka's default max.message.bytes, which bounds a whole batch including the prefix.
inline constexpr size_t default_max_batch_size_bytes =
    size_t{1024} * 1024 + batch_length_prefix_bytes;
// Kafka's "no producer id / epoch / sequence / timestamp" values.
inline constexpr int64_t no_producer_id = -1;
inline constexpr int16_t no_producer_epoch = -1;
inline constexpr int32_t no_sequence = -1;

using byte_span = std::span<const std::byte>;

enum class compression_codec : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
inline constexpr uint8_t compression_codec_max = 4;

enum class timestamp_type : uint8_t { create_time = 0, log_append_time = 1 };

// Why a batch was refused. The Kafka layer maps these at the edge:
//   zero_length, truncated, invalid_length, crc_mismatch,
//   invalid_compressed_data                              -> CORRUPT_MESSAGE (2)
//   unsupported_magic, invalid_record_count, invalid_offset_delta,
//   invalid_record                                       -> INVALID_RECORD (87)
//     (Kafka answers a Produce v3+ batch whose magic is not 2 with INVALID_RECORD)
//   unsupported_compression                              -> UNSUPPORTED_COMPRESSION_TYPE (76)
//   too_large                                            -> MESSAGE_TOO_LARGE (10)
//     (also: compressed records that expand past the bound; see compression.h)
// Recovery reads zero_length as "clean end of written data" and everything else as
// "torn or corrupt tail: truncate here".
enum class batch_errc : uint8_t {
    zero_length,              // the bytes where a header should start are all zero
    truncated,                // the input ends before the header or the declared batch end
    invalid_length,           // batchLength below a bare header, or input longer than the batch
    too_large,                // the batch is larger than the caller's bound
    unsupported_magic,        // magic is not 2
    crc_mismatch,             // CRC-32C of [attributes, end) differs from the crc field
    unsupported_compression,  // codec 5-7
    invalid_record_count,     // negative, zero where records are required, or != records walked
    invalid_offset_delta,     // lastOffsetDelta or a record's offsetDelta out of place
    invalid_record,           // a record's fields overrun it, or its length is wrong
    invalid_compressed_data,  // the records of a compressed batch do not decode (compression.h)
};

[[nodiscard]] std::string_view name(batch_errc errc) noexcept;

template <typename T>
using batch_result = result<T, batch_errc>;

// The 61 header bytes, decoded. Plain data: it does not point into the batch.
struct batch_header {
    int64_t base_offset = 0;
    int32_t batch_length = 0;
    int32_t partition_leader_epoch = 0;
    int8_t magic = 0;
    uint32_t crc = 0;
    uint16_t attributes = 0;
    int32_t last_offset_delta = 0;
    int64_t base_timestamp_ms = 0;
    int64_t max_timestamp_ms = 0;
    int64_t producer_id = no_producer_id;
    int16_t producer_epoch = no_producer_epoch;
    int32_t base_sequence = no_sequence;
    int32_t record_count = 0;

    // The whole batch: prefix + batchLength. Only meaningful when batch_length >= 0,
    // which validate_batch guarantees.
    [[nodiscard]] size_t size_bytes() const noexcept {
        return batch_length_prefix_bytes + static_cast<size_t>(batch_length);
    }
    // baseOffset + lastOffsetDelta. baseOffset is not covered by the CRC, so an
    // unvalidated value may be anything: the sum wraps instead of overflowing.
    [[nodiscard]] int64_t last_offset() const noexcept {
        return static_cast<int64_t>(static_cast<uint64_t>(base_offset) +
                                    static_cast<uint64_t>(int64_t{last_offset_delta}));
    }
    // The sequence of the last record, wrapping past INT32_MAX as Kafka does.
    [[nodiscard]] int32_t last_sequence() const noexcept;
    // Raw codec bits; validate_batch guarantees <= compression_codec_max.
    [[nodiscard]] compression_codec compression() const noexcept {
        return static_cast<compression_codec>(attributes & batch_attribute::compression_mask);
    }
    [[nodiscard]] timestamp_type timestamps() const noexcept {
        return (attributes & batch_attribute::log_append_time) != 0
                   ? timestamp_type::log_append_time
                   : timestamp_type::create_time;
    }
    [[nodiscard]] bool is_transactional() const noexcept {
        return (attributes & batch_attribute::transactional) != 0;
    }
    [[nodiscard]] bool is_control() const noexcept {
        return (attributes & batch_attribute::control) != 0;
    }
    [[nodiscard]] bool has_delete_horizon() const noexcept {
        return (attributes & batch_attribute::delete_horizon) != 0;
    }
    [[nodiscard]] bool has_producer_id() const noexcept { return producer_id > no_producer_id; }

    friend bool operator==(const batch_header&, const batch_header&) = default;
};

// Decodes the header fields without checking any of them (magic, CRC, lengths):
// for readers of batches already validated, and for diagnostics. Fails only with
// truncated when fewer than 61 bytes are given.
[[nodiscard]] batch_result<batch_header> read_batch_header(
    std::span<const std::byte> data) noexcept;

// How many bytes the batch starting at `data` occupies (12 + batchLength), from its
// first 12 bytes only: the rest of the batch need not be in `data` yet. Errors:
//   zero_length     the available bytes (1 to 12 of them) are all zero: the zeroed
//                   tail of a preallocated segment, i.e. no batch was written here;
//   truncated       `data` is empty, or shorter than 12 bytes and not all zero;
//   invalid_length  batchLength < 49 (smaller than a bare header);
//   too_large       12 + batchLength > max_batch_size_bytes.
[[nodiscard]] batch_result<size_t> peek_batch_size(std::span<const std::byte> data,
                                                   size_t max_batch_size_bytes) noexcept;

enum class offset_delta_policy : uint8_t {
    // lastOffsetDelta == recordCount - 1 and record i has offsetDelta i: what producers
    // send (Kafka rejects anything else from clients).
    exact,
    // Deltas strictly increasing, the last <= lastOffsetDelta: compaction drops records
    // but keeps the batch's offset range (and may keep an empty batch).
    allow_gaps,
};

enum class record_count_policy : uint8_t {
    allow_empty,      // recordCount >= 0: compaction may leave empty batches
    require_records,  // recordCount >= 1: Kafka refuses empty batches from producers
};

struct validation_options {
    size_t max_batch_size_bytes = default_max_batch_size_bytes;
    offset_delta_policy offset_deltas = offset_delta_policy::exact;
    record_count_policy record_count = record_count_policy::require_records;
};

// Checks that `data` is exactly one well-formed v2 batch and returns its header.
// In order: size (as peek_batch_size; then `data` must end exactly at the batch
// end), magic == 2, CRC-32C, codec <= 4, recordCount, lastOffsetDelta (against
// the policies above). For uncompressed batches it then walks every record (see
// record_reader): every length inside its record and the batch, each record's
// declared length equal to the bytes its fields use, offset deltas strictly
// increasing from >= 0 and ending at lastOffsetDelta (exact) or at most there
// (allow_gaps), and exactly recordCount records filling the batch. Compressed
// batches are not opened here: validate_compressed_records (compression.h)
// decompresses and checks their records. Never allocates; the walk runs at
// most recordCount times and stops at the first bad byte.
[[nodiscard]] batch_result<batch_header> validate_batch(std::span<const std::byte> data,
                                                        const validation_options& options) noexcept;

// The record walk of validate_batch, over the records of a batch whose header
// validate_batch accepted: `records` are the bytes after the header, or what a
// compressed batch's blob decompressed to. Checks exactly recordCount records,
// each well formed, offset deltas as the policy says, no bytes after the last.
[[nodiscard]] batch_result<void> validate_records(const batch_header& header, byte_span records,
                                                  offset_delta_policy offset_deltas) noexcept;

// --- In-place mutation on append -----------------------------------------------
// Each takes one whole batch (batch.size() == 12 + batchLength, asserted), normally
// one that validate_batch accepted, and keeps it valid.

// baseOffset is outside the CRC: no recomputation.
void assign_base_offset(std::span<std::byte> batch, int64_t base_offset) noexcept;
// partitionLeaderEpoch is outside the CRC: no recomputation.
void set_partition_leader_epoch(std::span<std::byte> batch, int32_t epoch) noexcept;
// Sets the timestamp-type bit and maxTimestamp, then the CRC; as Kafka's
// DefaultRecordBatch.setMaxTimestamp, nothing is rewritten when both already hold.
// baseTimestamp and the records' deltas stay: readers of a log-append-time batch
// give every record maxTimestamp (see record_timestamp_ms).
void set_max_timestamp(std::span<std::byte> batch, timestamp_type type,
                       int64_t max_timestamp_ms) noexcept;
// What the broker does for topics with message.timestamp.type=LogAppendTime.
inline void set_log_append_time(std::span<std::byte> batch, int64_t timestamp_ms) noexcept {
    set_max_timestamp(batch, timestamp_type::log_append_time, timestamp_ms);
}
// CRC-32C of [attributes, end), as stored in the crc field.
[[nodiscard]] uint32_t compute_batch_crc(std::span<const std::byte> batch) noexcept;
// Rewrites the crc field after a change to the covered bytes.
void recompute_crc(std::span<std::byte> batch) noexcept;

// --- Records of uncompressed batches -----------------------------------------------

struct record_header {
    byte_span key;                   // never null in Kafka's format
    std::optional<byte_span> value;  // nullopt: null value (length -1)
};

// Yields the headers of one record. Built by record_reader from bytes it has
// already checked, so next() cannot fail on them; a header_reader over other bytes
// is a programmer error and asserts.
class header_reader {
public:
    header_reader() = default;
    header_reader(byte_span encoded, int32_t count) noexcept
        : _encoded(encoded), _remaining(count) {}

    // Fills `out` with the next header; false after the last one.
    bool next(record_header& out) noexcept;
    [[nodiscard]] int32_t remaining() const noexcept { return _remaining; }

private:
    byte_span _encoded;
    int32_t _remaining = 0;
};

// One record, as views into the batch.
struct record_view {
    int8_t attributes = 0;  // unused by Kafka so far; carried as is
    int64_t timestamp_delta_ms = 0;
    int32_t offset_delta = 0;
    std::optional<byte_span> key;    // nullopt: null key
    std::optional<byte_span> value;  // nullopt: null value (a tombstone)
    int32_t header_count = 0;
    byte_span encoded_headers;  // header_count headers, already checked
    size_t size_bytes = 0;      // the whole record, length varint included

    [[nodiscard]] header_reader headers() const noexcept {
        return header_reader(encoded_headers, header_count);
    }
};

// The record's offset (baseOffset + offsetDelta), wrapping like last_offset().
[[nodiscard]] inline int64_t record_offset(const batch_header& header,
                                           const record_view& record) noexcept {
    return static_cast<int64_t>(static_cast<uint64_t>(header.base_offset) +
                                static_cast<uint64_t>(int64_t{record.offset_delta}));
}
// The record's timestamp as Kafka's readers report it: maxTimestamp for
// log-append-time batches, baseTimestamp + delta (wrapping) otherwise.
[[nodiscard]] inline int64_t record_timestamp_ms(const batch_header& header,
                                                 const record_view& record) noexcept {
    if (header.timestamps() == timestamp_type::log_append_time) return header.max_timestamp_ms;
    return static_cast<int64_t>(static_cast<uint64_t>(header.base_timestamp_ms) +
                                static_cast<uint64_t>(record.timestamp_delta_ms));
}

// Walks the records of one uncompressed batch (or, through over(), records
// decompressed from a compressed one: see open_records in compression.h).
// open() checks only what the walk needs (size, magic, codec none, recordCount
// >= 0), not the CRC: run validate_batch first to trust the contents. Safe on
// any bytes: every read is bounded by the record's own length, next() is
// called at most recordCount + 1 times before it reports the end, and nothing
// is allocated.
class record_reader {
public:
    static batch_result<record_reader> open(byte_span batch) noexcept;
    // Walks records held apart from their batch (a compressed batch's blob,
    // decompressed); `header` gives recordCount and lastOffsetDelta. The views
    // it yields point into `records`.
    static record_reader over(const batch_header& header, byte_span records) noexcept {
        return record_reader(header, records);
    }

    // Decodes the next record into `out` and returns true; returns false once
    // recordCount records were read and the batch is used up exactly. Errors:
    // invalid_record (a malformed record), invalid_offset_delta (offsetDelta
    // negative, not above the previous one, or above lastOffsetDelta),
    // invalid_record_count (bytes run out before recordCount records, or remain
    // after them). After an error the reader stays failed.
    batch_result<bool> next(record_view& out) noexcept;

    [[nodiscard]] const batch_header& header() const noexcept { return _header; }
    [[nodiscard]] int32_t records_left() const noexcept { return _records_left; }
    // The offsetDelta of the last record read, -1 before the first.
    [[nodiscard]] int32_t last_offset_delta_read() const noexcept { return _previous_delta; }

private:
    record_reader(batch_header header, byte_span records) noexcept
        : _header(header), _remaining(records), _records_left(header.record_count) {}

    batch_header _header;
    byte_span _remaining;  // records not yet read
    int32_t _records_left;
    int32_t _previous_delta = -1;
    std::optional<batch_errc> _failed;
};

// Calls fn(const record_view&) for each record of an uncompressed batch (of any
// batch: for_each_decoded_record in compression.h). If fn returns bool, false
// stops the walk early (and the result is success).
template <typename Fn>
batch_result<void> for_each_record(byte_span batch, Fn&& fn) {
    auto reader = record_reader::open(batch);
    if (!reader) return failure{reader.error()};
    record_view record;
    while (true) {
        auto more = reader->next(record);
        if (!more) return failure{more.error()};
        if (!*more) return {};
        if constexpr (std::is_same_v<std::invoke_result_t<Fn&, const record_view&>, bool>) {
            if (!fn(std::as_const(record))) return {};
        } else {
            fn(std::as_const(record));
        }
    }
}

// --- Builder ----------------------------------------------------------------------

enum class batch_type : uint8_t { data, control };
enum class transaction_mode : uint8_t { none, transactional };

struct record_input {
    int64_t timestamp_ms = 0;
    std::optional<byte_span> key;
    std::optional<byte_span> value;
    std::span<const record_header> headers;
    // Default: one more than the previous record's (0 for the first). Set it to
    // build compacted batches with gaps (validate those with allow_gaps).
    std::optional<int32_t> offset_delta;
};

// Builds one valid uncompressed v2 batch: for tests, control records and other
// batches the broker writes itself. Inputs are copied (encoded) at add_record(),
// so their spans need only live for that call. Off the data path: it allocates.
// baseTimestamp is the first record's timestamp, maxTimestamp the largest (both
// -1 for an empty batch), lastOffsetDelta the last record's delta (-1 for an
// empty batch), unless overridden.
class record_batch_builder {
public:
    // A batch whose encoded size would not fit Kafka's int32 fields.
    static constexpr size_t max_size_bytes = 0x7fffffff;

    record_batch_builder& set_base_offset(int64_t base_offset) noexcept;
    record_batch_builder& set_partition_leader_epoch(int32_t epoch) noexcept;
    record_batch_builder& set_producer(int64_t producer_id, int16_t producer_epoch,
                                       int32_t base_sequence) noexcept;
    record_batch_builder& set_type(batch_type type) noexcept;
    record_batch_builder& set_transaction_mode(transaction_mode mode) noexcept;
    // Marks the batch log-append-time with this maxTimestamp.
    record_batch_builder& set_log_append_time(int64_t timestamp_ms) noexcept;
    // Keeps a compacted batch's original range (must be >= the last record's delta).
    record_batch_builder& set_last_offset_delta(int32_t last_offset_delta) noexcept;

    // Offset deltas must increase (asserted: the builder only makes valid batches).
    record_batch_builder& add_record(const record_input& record);
    // Shorthand for tests: non-null key and value from text, no headers.
    record_batch_builder& add_record(int64_t timestamp_ms, std::string_view key,
                                     std::string_view value);

    [[nodiscard]] int32_t record_count() const noexcept { return _record_count; }
    [[nodiscard]] std::vector<std::byte> build() const;

private:
    int64_t _base_offset = 0;
    int32_t _partition_leader_epoch = -1;
    int64_t _producer_id = no_producer_id;
    int16_t _producer_epoch = no_producer_epoch;
    int32_t _base_sequence = no_sequence;
    uint16_t _attributes = 0;
    std::optional<int64_t> _log_append_time_ms;
    std::optional<int32_t> _last_offset_delta;
    int64_t _base_timestamp_ms = no_timestamp;
    int64_t _max_timestamp_ms = no_timestamp;
    int32_t _previous_delta = -1;
    int32_t _record_count = 0;
    std::vector<std::byte> _records;  // encoded records, back to back
};

}  // namespace tl::storage
