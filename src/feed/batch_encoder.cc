#include "feed/batch_encoder.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/varint.h"
#include "feed/byte_order.h"
#include "storage/record_batch.h"

namespace tl::feed {

namespace field = storage::batch_field;
using detail::store_be16;
using detail::store_be32;
using detail::store_be64;

namespace {

// A header's key, encoded once: zigzag varint length + the name.
struct encoded_key {
    std::byte bytes[16];
    size_t size;
};
constexpr encoded_key encode_key(std::string_view name) {
    encoded_key out{};
    // Names are short constants: a one-byte zigzag varint.
    out.bytes[0] = static_cast<std::byte>(zigzag_encode_32(static_cast<int32_t>(name.size())));
    for (size_t i = 0; i < name.size(); ++i) out.bytes[1 + i] = static_cast<std::byte>(name[i]);
    out.size = 1 + name.size();
    return out;
}
constexpr encoded_key sequence_key = encode_key(header_sequence);
constexpr encoded_key session_key = encode_key(header_session);
constexpr encoded_key receive_ns_key = encode_key(header_receive_ns);
static_assert(header_session.size() < 64 && header_sequence.size() < 64);
// An int64 header value: varint length 8 (one byte) + 8 bytes.
constexpr size_t long_value_bytes = 1 + 8;

size_t varint_size_32(int32_t value) noexcept {
    return unsigned_varint_size(zigzag_encode_32(value));
}
size_t varint_size_64(int64_t value) noexcept {
    return unsigned_varint_size(zigzag_encode_64(value));
}

std::byte* put(std::byte* out, const encoded_key& key) noexcept {
    std::memcpy(out, key.bytes, key.size);
    return out + key.size;
}
std::byte* put_long(std::byte* out, int64_t value) noexcept {
    out += encode_varint_32(8, out);
    store_be64(out, static_cast<uint64_t>(value));
    return out + 8;
}

}  // namespace

batch_encoder::batch_encoder(size_t capacity_bytes, int32_t max_records)
    : _buffer(std::make_unique_for_overwrite<std::byte[]>(capacity_bytes)),
      _capacity_bytes(capacity_bytes),
      _max_records(max_records),
      _size_bytes(storage::batch_header_size_bytes) {
    TL_ASSERT(capacity_bytes >= storage::batch_header_size_bytes + 64, "batch capacity too small");
    TL_ASSERT(capacity_bytes <= size_t{std::numeric_limits<int32_t>::max()},
              "batch capacity beyond Kafka's int32 lengths");
    TL_ASSERT(max_records >= 1, "max_records must be positive");
}

void batch_encoder::reset() noexcept {
    _size_bytes = storage::batch_header_size_bytes;
    _record_count = 0;
    _finished = false;
}

bool batch_encoder::add(int64_t timestamp_ms, std::optional<std::span<const std::byte>> key,
                        std::span<const std::byte> value, const feed_headers& headers) noexcept {
    TL_ASSERT(!_finished, "add() after finish() without reset()");
    if (_record_count == _max_records) return false;
    // Sizes first (the record starts with its own length), then one pass of writes.
    const int64_t base_timestamp_ms = _record_count == 0 ? timestamp_ms : _base_timestamp_ms;
    const int64_t timestamp_delta = static_cast<int64_t>(static_cast<uint64_t>(timestamp_ms) -
                                                         static_cast<uint64_t>(base_timestamp_ms));
    const size_t value_bytes = value.size();
    const size_t key_bytes = key ? key->size() : 0;
    // Lengths beyond what fits in the buffer are refused before any int32 cast.
    if (value_bytes > _capacity_bytes || key_bytes > _capacity_bytes) return false;
    int32_t header_count = 1;
    size_t headers_bytes = receive_ns_key.size + long_value_bytes;
    if (headers.sequence) {
        ++header_count;
        headers_bytes += sequence_key.size + long_value_bytes;
    }
    size_t session_bytes = 0;
    if (headers.session) {
        session_bytes = headers.session->size();
        TL_ASSERT(session_bytes <= max_session_header_bytes, "session header too long");
        ++header_count;
        headers_bytes += session_key.size + 1 + session_bytes;
    }
    const size_t body_bytes =
        1 + varint_size_64(timestamp_delta) + varint_size_32(_record_count) +
        (key ? varint_size_32(static_cast<int32_t>(key_bytes)) + key_bytes : 1) +
        varint_size_32(static_cast<int32_t>(value_bytes)) + value_bytes + 1 + headers_bytes;
    const size_t record_bytes = varint_size_32(static_cast<int32_t>(body_bytes)) + body_bytes;
    if (record_bytes > _capacity_bytes - _size_bytes) return false;

    std::byte* const start = _buffer.get() + _size_bytes;
    std::byte* out = start;
    out += encode_varint_32(static_cast<int32_t>(body_bytes), out);
    *out++ = std::byte{0};  // record attributes
    out += encode_varint_64(timestamp_delta, out);
    out += encode_varint_32(_record_count, out);  // offset delta
    if (key) {
        out += encode_varint_32(static_cast<int32_t>(key_bytes), out);
        if (key_bytes != 0) std::memcpy(out, key->data(), key_bytes);
        out += key_bytes;
    } else {
        out += encode_varint_32(-1, out);
    }
    out += encode_varint_32(static_cast<int32_t>(value_bytes), out);
    if (value_bytes != 0) std::memcpy(out, value.data(), value_bytes);
    out += value_bytes;
    out += encode_varint_32(header_count, out);  // < 64: one byte
    if (headers.sequence) out = put_long(put(out, sequence_key), *headers.sequence);
    if (headers.session) {
        out = put(out, session_key);
        out += encode_varint_32(static_cast<int32_t>(session_bytes), out);
        if (session_bytes != 0) std::memcpy(out, headers.session->data(), session_bytes);
        out += session_bytes;
    }
    out = put_long(put(out, receive_ns_key), headers.receive_ns);
    TL_ASSERT(static_cast<size_t>(out - start) == record_bytes, "record size miscounted");

    if (_record_count == 0) {
        _base_timestamp_ms = timestamp_ms;
        _max_timestamp_ms = timestamp_ms;
    } else {
        _max_timestamp_ms = std::max(_max_timestamp_ms, timestamp_ms);
    }
    _size_bytes += record_bytes;
    ++_record_count;
    return true;
}

std::span<const std::byte> batch_encoder::finish() noexcept {
    TL_ASSERT(_record_count >= 1, "an empty batch is never written");
    std::byte* const batch = _buffer.get();
    store_be64(batch + field::base_offset, 0);
    store_be32(batch + field::batch_length,
               static_cast<uint32_t>(_size_bytes - storage::batch_length_prefix_bytes));
    store_be32(batch + field::partition_leader_epoch, static_cast<uint32_t>(-1));
    batch[field::magic] = static_cast<std::byte>(storage::batch_magic_v2);
    store_be16(batch + field::attributes, 0);  // no compression, CreateTime
    store_be32(batch + field::last_offset_delta, static_cast<uint32_t>(_record_count - 1));
    store_be64(batch + field::base_timestamp, static_cast<uint64_t>(_base_timestamp_ms));
    store_be64(batch + field::max_timestamp, static_cast<uint64_t>(_max_timestamp_ms));
    store_be64(batch + field::producer_id, static_cast<uint64_t>(storage::no_producer_id));
    store_be16(batch + field::producer_epoch, static_cast<uint16_t>(storage::no_producer_epoch));
    store_be32(batch + field::base_sequence, static_cast<uint32_t>(storage::no_sequence));
    store_be32(batch + field::record_count, static_cast<uint32_t>(_record_count));
    const std::span<const std::byte> covered(batch + field::attributes,
                                             _size_bytes - field::attributes);
    store_be32(batch + field::crc, crc32c(covered));
    _finished = true;
    return {batch, _size_bytes};
}

}  // namespace tl::feed
