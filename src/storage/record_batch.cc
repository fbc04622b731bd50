#include "storage/record_batch.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/varint.h"

namespace tl::storage {

namespace {

// Big-endian loads and stores by byte, so they need no alignment and no
// endianness test. Callers have checked that offset + sizeof(T) is in range.
template <typename T>
T load_be(std::span<const std::byte> data, size_t offset) noexcept {
    using unsigned_type = std::make_unsigned_t<T>;
    uint64_t value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
        value = (value << 8) | static_cast<uint8_t>(data[offset + i]);
    }
    return static_cast<T>(static_cast<unsigned_type>(value));
}

template <typename T>
void store_be(std::span<std::byte> data, size_t offset, T value) noexcept {
    auto bits = static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(value));
    for (size_t i = sizeof(T); i > 0; --i) {
        data[offset + i - 1] = static_cast<std::byte>(bits & 0xff);
        bits >>= 8;
    }
}

// Reads record fields strictly inside one record's bytes: a length that points
// past them fails rather than reading the next record or beyond the batch.
class field_cursor {
public:
    explicit field_cursor(byte_span in) noexcept : _in(in) {}

    bool read_int8(int8_t& out) noexcept {
        if (_position == _in.size()) return false;
        out = static_cast<int8_t>(_in[_position++]);
        return true;
    }
    bool read_varint(int32_t& out) noexcept {
        auto decoded = decode_varint_32(_in.subspan(_position));
        if (!decoded) return false;
        out = decoded->value;
        _position += decoded->bytes_read;
        return true;
    }
    bool read_varlong(int64_t& out) noexcept {
        auto decoded = decode_varint_64(_in.subspan(_position));
        if (!decoded) return false;
        out = decoded->value;
        _position += decoded->bytes_read;
        return true;
    }
    // A varint length then that many bytes. -1 is null; other negatives are
    // refused (Kafka reads any negative as null, but no writer produces them).
    bool read_nullable_bytes(std::optional<byte_span>& out) noexcept {
        int32_t length = 0;
        if (!read_varint(length)) return false;
        if (length == -1) {
            out.reset();
            return true;
        }
        byte_span bytes;
        if (!take(length, bytes)) return false;
        out = bytes;
        return true;
    }
    // Header keys may not be null.
    bool read_bytes(byte_span& out) noexcept {
        int32_t length = 0;
        return read_varint(length) && take(length, out);
    }

    [[nodiscard]] size_t position() const noexcept { return _position; }
    [[nodiscard]] size_t remaining() const noexcept { return _in.size() - _position; }

private:
    bool take(int32_t length, byte_span& out) noexcept {
        if (length < 0 || static_cast<size_t>(length) > remaining()) return false;
        out = _in.subspan(_position, static_cast<size_t>(length));
        _position += static_cast<size_t>(length);
        return true;
    }

    byte_span _in;
    size_t _position = 0;
};

// The smallest encoded header: key length 0 and value length 0, one byte each.
constexpr size_t header_size_min_bytes = 2;

// Decodes the fields after a record's length varint. `body` is exactly the
// declared length, so success also proves the declared length matches.
bool parse_record_body(byte_span body, record_view& out) noexcept {
    field_cursor cursor(body);
    if (!cursor.read_int8(out.attributes)) return false;
    if (!cursor.read_varlong(out.timestamp_delta_ms)) return false;
    if (!cursor.read_varint(out.offset_delta)) return false;
    if (!cursor.read_nullable_bytes(out.key)) return false;
    if (!cursor.read_nullable_bytes(out.value)) return false;
    if (!cursor.read_varint(out.header_count)) return false;
    // Refusing counts the bytes cannot hold bounds the loop by the record size.
    if (out.header_count < 0 ||
        static_cast<size_t>(out.header_count) > cursor.remaining() / header_size_min_bytes) {
        return false;
    }
    const size_t headers_start = cursor.position();
    for (int32_t i = 0; i < out.header_count; ++i) {
        byte_span key;
        std::optional<byte_span> value;
        if (!cursor.read_bytes(key) || !cursor.read_nullable_bytes(value)) return false;
    }
    out.encoded_headers = body.subspan(headers_start, cursor.position() - headers_start);
    return cursor.remaining() == 0;
}

bool all_zero(std::span<const std::byte> data) noexcept {
    return std::all_of(data.begin(), data.end(), [](std::byte b) { return b == std::byte{0}; });
}

// The contract of the mutators: one whole batch, nothing more.
void assert_whole_batch(std::span<const std::byte> batch) noexcept {
    TL_ASSERT(batch.size() >= batch_header_size_bytes, "a record batch is at least 61 bytes");
    const int32_t length = load_be<int32_t>(batch, batch_field::batch_length);
    TL_ASSERT(length >= batch_length_min &&
                  static_cast<size_t>(length) == batch.size() - batch_length_prefix_bytes,
              "the span must hold exactly one batch");
}

size_t varint_size(int32_t value) noexcept {
    return unsigned_varint_size(zigzag_encode_32(value));
}
size_t varlong_size(int64_t value) noexcept {
    return unsigned_varint_size(zigzag_encode_64(value));
}

size_t nullable_bytes_size(const std::optional<byte_span>& bytes) noexcept {
    if (!bytes) return varint_size(-1);
    TL_ASSERT(bytes->size() <= size_t{std::numeric_limits<int32_t>::max()});
    return varint_size(static_cast<int32_t>(bytes->size())) + bytes->size();
}

void append_varint(std::vector<std::byte>& out, int32_t value) {
    std::byte buffer[varint_max_bytes_32];
    out.insert(out.end(), buffer, buffer + encode_varint_32(value, buffer));
}
void append_varlong(std::vector<std::byte>& out, int64_t value) {
    std::byte buffer[varint_max_bytes_64];
    out.insert(out.end(), buffer, buffer + encode_varint_64(value, buffer));
}
void append_nullable_bytes(std::vector<std::byte>& out, const std::optional<byte_span>& bytes) {
    if (!bytes) {
        append_varint(out, -1);
        return;
    }
    append_varint(out, static_cast<int32_t>(bytes->size()));
    out.insert(out.end(), bytes->begin(), bytes->end());
}

}  // namespace

std::string_view name(batch_errc errc) noexcept {
    switch (errc) {
        case batch_errc::zero_length:
            return "zero_length";
        case batch_errc::truncated:
            return "truncated";
        case batch_errc::invalid_length:
            return "invalid_length";
        case batch_errc::too_large:
            return "too_large";
        case batch_errc::unsupported_magic:
            return "unsupported_magic";
        case batch_errc::crc_mismatch:
            return "crc_mismatch";
        case batch_errc::unsupported_compression:
            return "unsupported_compression";
        case batch_errc::invalid_record_count:
            return "invalid_record_count";
        case batch_errc::invalid_offset_delta:
            return "invalid_offset_delta";
        case batch_errc::invalid_record:
            return "invalid_record";
        case batch_errc::invalid_compressed_data:
            return "invalid_compressed_data";
    }
    return "unknown";
}

int32_t batch_header::last_sequence() const noexcept {
    if (base_sequence == no_sequence) return no_sequence;
    // Kafka's DefaultRecordBatch.incrementSequence: past INT32_MAX the sequence
    // restarts at 0; below INT32_MIN (only in unvalidated input) it wraps.
    const int64_t sum = int64_t{base_sequence} + int64_t{last_offset_delta};
    constexpr int64_t max = std::numeric_limits<int32_t>::max();
    if (sum > max) return static_cast<int32_t>(sum - max - 1);
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
}

batch_result<batch_header> read_batch_header(std::span<const std::byte> data) noexcept {
    if (data.size() < batch_header_size_bytes) return failure{batch_errc::truncated};
    batch_header header;
    header.base_offset = load_be<int64_t>(data, batch_field::base_offset);
    header.batch_length = load_be<int32_t>(data, batch_field::batch_length);
    header.partition_leader_epoch = load_be<int32_t>(data, batch_field::partition_leader_epoch);
    header.magic = load_be<int8_t>(data, batch_field::magic);
    header.crc = load_be<uint32_t>(data, batch_field::crc);
    header.attributes = load_be<uint16_t>(data, batch_field::attributes);
    header.last_offset_delta = load_be<int32_t>(data, batch_field::last_offset_delta);
    header.base_timestamp_ms = load_be<int64_t>(data, batch_field::base_timestamp);
    header.max_timestamp_ms = load_be<int64_t>(data, batch_field::max_timestamp);
    header.producer_id = load_be<int64_t>(data, batch_field::producer_id);
    header.producer_epoch = load_be<int16_t>(data, batch_field::producer_epoch);
    header.base_sequence = load_be<int32_t>(data, batch_field::base_sequence);
    header.record_count = load_be<int32_t>(data, batch_field::record_count);
    return header;
}

batch_result<size_t> peek_batch_size(std::span<const std::byte> data,
                                     size_t max_batch_size_bytes) noexcept {
    if (data.empty()) return failure{batch_errc::truncated};
    // Fewer than 12 zero bytes are still "nothing written": a torn write that
    // left only zeros is indistinguishable from no write at all.
    if (all_zero(data.first(std::min(data.size(), batch_length_prefix_bytes)))) {
        return failure{batch_errc::zero_length};
    }
    if (data.size() < batch_length_prefix_bytes) return failure{batch_errc::truncated};
    const int32_t length = load_be<int32_t>(data, batch_field::batch_length);
    if (length < batch_length_min) return failure{batch_errc::invalid_length};
    const size_t size = batch_length_prefix_bytes + static_cast<size_t>(length);
    if (size > max_batch_size_bytes) return failure{batch_errc::too_large};
    return size;
}

uint32_t compute_batch_crc(std::span<const std::byte> batch) noexcept {
    TL_ASSERT(batch.size() >= batch_header_size_bytes, "a record batch is at least 61 bytes");
    return crc32c(batch.subspan(batch_field::attributes));
}

batch_result<batch_header> validate_batch(std::span<const std::byte> data,
                                          const validation_options& options) noexcept {
    auto size = peek_batch_size(data, options.max_batch_size_bytes);
    if (!size) return failure{size.error()};
    if (data.size() < *size) return failure{batch_errc::truncated};
    if (data.size() > *size) return failure{batch_errc::invalid_length};

    // peek_batch_size proved at least 61 bytes.
    const batch_header header = read_batch_header(data).value();
    // Magic first: it says how to read everything after it, the CRC included.
    if (header.magic != batch_magic_v2) return failure{batch_errc::unsupported_magic};
    if (compute_batch_crc(data) != header.crc) return failure{batch_errc::crc_mismatch};
    // Past the CRC, a bad field is what the writer meant, not damage.
    if ((header.attributes & batch_attribute::compression_mask) > compression_codec_max) {
        return failure{batch_errc::unsupported_compression};
    }
    if (header.record_count < 0 || (header.record_count == 0 &&
                                    options.record_count == record_count_policy::require_records)) {
        return failure{batch_errc::invalid_record_count};
    }
    const int32_t exact_last_delta = header.record_count - 1;
    const bool last_delta_ok = options.offset_deltas == offset_delta_policy::exact
                                   ? header.last_offset_delta == exact_last_delta
                                   : header.last_offset_delta >= exact_last_delta;
    if (!last_delta_ok) return failure{batch_errc::invalid_offset_delta};

    if (header.compression() != compression_codec::none) return header;
    auto records =
        validate_records(header, data.subspan(batch_header_size_bytes), options.offset_deltas);
    if (!records) return failure{records.error()};
    return header;
}

batch_result<void> validate_records(const batch_header& header, byte_span records,
                                    offset_delta_policy offset_deltas) noexcept {
    auto reader = record_reader::over(header, records);
    record_view record;
    while (true) {
        auto more = reader.next(record);
        if (!more) return failure{more.error()};
        if (!*more) break;
    }
    // The reader proved the deltas increase from >= 0 and stay <= lastOffsetDelta;
    // with exactly recordCount records, "last == count - 1" makes them 0..count-1.
    if (offset_deltas == offset_delta_policy::exact &&
        reader.last_offset_delta_read() != header.last_offset_delta) {
        return failure{batch_errc::invalid_offset_delta};
    }
    return {};
}

void assign_base_offset(std::span<std::byte> batch, int64_t base_offset) noexcept {
    assert_whole_batch(batch);
    store_be(batch, batch_field::base_offset, base_offset);
}

void set_partition_leader_epoch(std::span<std::byte> batch, int32_t epoch) noexcept {
    assert_whole_batch(batch);
    store_be(batch, batch_field::partition_leader_epoch, epoch);
}

void set_max_timestamp(std::span<std::byte> batch, timestamp_type type,
                       int64_t max_timestamp_ms) noexcept {
    assert_whole_batch(batch);
    const auto attributes = load_be<uint16_t>(batch, batch_field::attributes);
    const auto new_attributes =
        type == timestamp_type::log_append_time
            ? static_cast<uint16_t>(attributes | batch_attribute::log_append_time)
            : static_cast<uint16_t>(attributes & ~batch_attribute::log_append_time);
    if (new_attributes == attributes &&
        load_be<int64_t>(batch, batch_field::max_timestamp) == max_timestamp_ms) {
        return;  // already so: spare the CRC pass
    }
    store_be(batch, batch_field::attributes, new_attributes);
    store_be(batch, batch_field::max_timestamp, max_timestamp_ms);
    recompute_crc(batch);
}

void recompute_crc(std::span<std::byte> batch) noexcept {
    assert_whole_batch(batch);
    store_be(batch, batch_field::crc, compute_batch_crc(batch));
}

bool header_reader::next(record_header& out) noexcept {
    if (_remaining <= 0) {
        TL_ASSERT(_encoded.empty(), "header bytes left after the last header");
        return false;
    }
    field_cursor cursor(_encoded);
    const bool read = cursor.read_bytes(out.key) && cursor.read_nullable_bytes(out.value);
    TL_ASSERT(read, "header bytes must come from a record_reader, which checked them");
    _encoded = _encoded.subspan(cursor.position());
    --_remaining;
    return true;
}

batch_result<record_reader> record_reader::open(byte_span batch) noexcept {
    auto size = peek_batch_size(batch, std::numeric_limits<size_t>::max());
    if (!size) return failure{size.error()};
    if (batch.size() < *size) return failure{batch_errc::truncated};
    if (batch.size() > *size) return failure{batch_errc::invalid_length};
    const batch_header header = read_batch_header(batch).value();
    if (header.magic != batch_magic_v2) return failure{batch_errc::unsupported_magic};
    if (header.compression() != compression_codec::none) {
        return failure{batch_errc::unsupported_compression};
    }
    if (header.record_count < 0) return failure{batch_errc::invalid_record_count};
    return record_reader(header, batch.subspan(batch_header_size_bytes));
}

batch_result<bool> record_reader::next(record_view& out) noexcept {
    if (_failed) return failure{*_failed};
    auto fail = [this](batch_errc errc) -> batch_result<bool> {
        _failed = errc;
        return failure{errc};
    };
    if (_records_left == 0) {
        if (!_remaining.empty()) return fail(batch_errc::invalid_record_count);
        return false;
    }
    if (_remaining.empty()) return fail(batch_errc::invalid_record_count);

    auto length = decode_varint_32(_remaining);
    if (!length || length->value < 0 ||
        static_cast<size_t>(length->value) > _remaining.size() - length->bytes_read) {
        return fail(batch_errc::invalid_record);
    }
    const size_t record_size = length->bytes_read + static_cast<size_t>(length->value);
    if (!parse_record_body(_remaining.subspan(length->bytes_read, record_size - length->bytes_read),
                           out)) {
        return fail(batch_errc::invalid_record);
    }
    if (out.offset_delta <= _previous_delta || out.offset_delta > _header.last_offset_delta) {
        return fail(batch_errc::invalid_offset_delta);
    }
    out.size_bytes = record_size;
    _remaining = _remaining.subspan(record_size);
    _previous_delta = out.offset_delta;
    --_records_left;
    return true;
}

record_batch_builder& record_batch_builder::set_base_offset(int64_t base_offset) noexcept {
    _base_offset = base_offset;
    return *this;
}

record_batch_builder& record_batch_builder::set_partition_leader_epoch(int32_t epoch) noexcept {
    _partition_leader_epoch = epoch;
    return *this;
}

record_batch_builder& record_batch_builder::set_producer(int64_t producer_id,
                                                         int16_t producer_epoch,
                                                         int32_t base_sequence) noexcept {
    _producer_id = producer_id;
    _producer_epoch = producer_epoch;
    _base_sequence = base_sequence;
    return *this;
}

record_batch_builder& record_batch_builder::set_type(batch_type type) noexcept {
    if (type == batch_type::control) {
        _attributes |= batch_attribute::control;
    } else {
        _attributes &= static_cast<uint16_t>(~batch_attribute::control);
    }
    return *this;
}

record_batch_builder& record_batch_builder::set_transaction_mode(transaction_mode mode) noexcept {
    if (mode == transaction_mode::transactional) {
        _attributes |= batch_attribute::transactional;
    } else {
        _attributes &= static_cast<uint16_t>(~batch_attribute::transactional);
    }
    return *this;
}

record_batch_builder& record_batch_builder::set_log_append_time(int64_t timestamp_ms) noexcept {
    _log_append_time_ms = timestamp_ms;
    return *this;
}

record_batch_builder& record_batch_builder::set_last_offset_delta(
    int32_t last_offset_delta) noexcept {
    _last_offset_delta = last_offset_delta;
    return *this;
}

record_batch_builder& record_batch_builder::add_record(const record_input& record) {
    const int32_t offset_delta = record.offset_delta.value_or(_previous_delta + 1);
    TL_ASSERT(offset_delta > _previous_delta, "offset deltas must increase");
    TL_ASSERT(_record_count < std::numeric_limits<int32_t>::max());
    TL_ASSERT(record.headers.size() <= size_t{std::numeric_limits<int32_t>::max()});
    if (_record_count == 0) _base_timestamp_ms = record.timestamp_ms;
    _max_timestamp_ms =
        _record_count == 0 ? record.timestamp_ms : std::max(_max_timestamp_ms, record.timestamp_ms);
    // Deltas are relative to the first record and may be negative; wrap like Kafka's long math.
    const auto timestamp_delta_ms = static_cast<int64_t>(
        static_cast<uint64_t>(record.timestamp_ms) - static_cast<uint64_t>(_base_timestamp_ms));
    const auto header_count = static_cast<int32_t>(record.headers.size());

    size_t body_size = 1 + varlong_size(timestamp_delta_ms) + varint_size(offset_delta) +
                       nullable_bytes_size(record.key) + nullable_bytes_size(record.value) +
                       varint_size(header_count);
    for (const record_header& header : record.headers) {
        body_size += nullable_bytes_size(header.key) + nullable_bytes_size(header.value);
    }
    TL_ASSERT(body_size <= size_t{std::numeric_limits<int32_t>::max()});
    const auto body_length = static_cast<int32_t>(body_size);
    TL_ASSERT(batch_header_size_bytes + _records.size() + varint_size(body_length) + body_size <=
                  max_size_bytes,
              "a batch must fit Kafka's int32 length");

    _records.reserve(_records.size() + varint_size(body_length) + body_size);
    append_varint(_records, body_length);
    _records.push_back(std::byte{0});  // record attributes: unused
    append_varlong(_records, timestamp_delta_ms);
    append_varint(_records, offset_delta);
    append_nullable_bytes(_records, record.key);
    append_nullable_bytes(_records, record.value);
    append_varint(_records, header_count);
    for (const record_header& header : record.headers) {
        append_nullable_bytes(_records, header.key);
        append_nullable_bytes(_records, header.value);
    }
    _previous_delta = offset_delta;
    ++_record_count;
    return *this;
}

record_batch_builder& record_batch_builder::add_record(int64_t timestamp_ms, std::string_view key,
                                                       std::string_view value) {
    return add_record(record_input{
        .timestamp_ms = timestamp_ms,
        .key = std::as_bytes(std::span(key.data(), key.size())),
        .value = std::as_bytes(std::span(value.data(), value.size())),
    });
}

std::vector<std::byte> record_batch_builder::build() const {
    const int32_t last_offset_delta = _last_offset_delta.value_or(_previous_delta);
    TL_ASSERT(last_offset_delta >= _previous_delta, "lastOffsetDelta below the last record's");
    uint16_t attributes = _attributes;
    int64_t max_timestamp_ms = _max_timestamp_ms;
    if (_log_append_time_ms) {
        attributes |= batch_attribute::log_append_time;
        max_timestamp_ms = *_log_append_time_ms;
    }

    std::vector<std::byte> batch(batch_header_size_bytes + _records.size());
    std::span<std::byte> out(batch);
    store_be(out, batch_field::base_offset, _base_offset);
    store_be(out, batch_field::batch_length,
             static_cast<int32_t>(batch.size() - batch_length_prefix_bytes));
    store_be(out, batch_field::partition_leader_epoch, _partition_leader_epoch);
    store_be(out, batch_field::magic, batch_magic_v2);
    store_be(out, batch_field::attributes, attributes);
    store_be(out, batch_field::last_offset_delta, last_offset_delta);
    store_be(out, batch_field::base_timestamp, _base_timestamp_ms);
    store_be(out, batch_field::max_timestamp, max_timestamp_ms);
    store_be(out, batch_field::producer_id, _producer_id);
    store_be(out, batch_field::producer_epoch, _producer_epoch);
    store_be(out, batch_field::base_sequence, _base_sequence);
    store_be(out, batch_field::record_count, _record_count);
    if (!_records.empty()) {
        std::memcpy(batch.data() + batch_header_size_bytes, _records.data(), _records.size());
    }
    recompute_crc(out);
    return batch;
}

}  // namespace tl::storage
